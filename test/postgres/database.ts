// The data the PostgreSQL suite backs up, changes and restores, and how it
// compares two states of a database: every table's row count and the MD5 of
// its rows' MD5s in order, every sequence's position, every view's definition.
import { Effect } from "effect"
import { Cluster } from "./cluster.js"

/** A few tables of different shapes: keys, a foreign key, arrays, jsonb, bytea, no primary key, a view. */
export const seed = `
CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL, balance numeric(12, 2) NOT NULL, opened date NOT NULL);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  account_id int NOT NULL REFERENCES accounts (id),
  item text NOT NULL,
  quantity int NOT NULL,
  placed_at timestamptz NOT NULL,
  tags text[] NOT NULL,
  details jsonb NOT NULL
);
CREATE TABLE audit (at timestamptz NOT NULL, note text);
CREATE TABLE attachments (name text PRIMARY KEY, content bytea NOT NULL);
CREATE VIEW rich AS SELECT owner, balance FROM accounts WHERE balance > 5000;
INSERT INTO accounts (owner, balance, opened)
  SELECT 'owner ' || g, g * 10.25, date '2020-01-01' + g FROM generate_series(1, 1000) g;
INSERT INTO orders (account_id, item, quantity, placed_at, tags, details)
  SELECT 1 + g % 1000, md5(g::text), g % 7, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
         ARRAY['tag' || g % 3, 'all'], jsonb_build_object('n', g, 'even', g % 2 = 0)
  FROM generate_series(1, 20000) g;
INSERT INTO audit SELECT timestamptz '2024-06-01 00:00:00+00' + g * interval '1 second', CASE WHEN g % 4 = 0 THEN NULL ELSE 'event ' || g END
  FROM generate_series(1, 5000) g;
INSERT INTO attachments SELECT 'file-' || g, decode(md5(g::text) || md5((g * 7)::text), 'hex') FROM generate_series(1, 500) g;
`

/** Changes to every table after the backup: updates, inserts, deletes, a dropped table, a moved sequence. */
export const change = `
UPDATE accounts SET balance = balance + 1 WHERE id % 3 = 0;
INSERT INTO accounts (owner, balance, opened) VALUES ('newcomer', 1, date '2026-01-01');
DELETE FROM orders WHERE id % 5 = 0;
INSERT INTO orders (account_id, item, quantity, placed_at, tags, details)
  SELECT 1, 'late ' || g, 1, now(), ARRAY['late'], '{}' FROM generate_series(1, 100) g;
UPDATE audit SET note = 'rewritten' WHERE note IS NULL;
DELETE FROM audit WHERE at < timestamptz '2024-06-01 00:10:00+00';
DROP TABLE attachments;
`

/**
 * One big table, `big`: `rows` rows of 2 KiB of MD5 text each (about
 * `rows * 2` KiB in a dump with `-Z0`; the server's own TOAST compression
 * keeps it small on disk, so it is quick to make).
 */
export const bigTable = (rows: number) => `
CREATE TABLE big (id int PRIMARY KEY, payload text NOT NULL);
INSERT INTO big SELECT g, repeat(md5(g::text), 64) FROM generate_series(1, ${rows}) g;
`

/** What a database holds, for comparing two of its states: one line per table, sequence and view. */
export const snapshot = (database: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const tables = (yield* cluster.sql(
      database,
      "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )).split("\n").filter((name) => name !== "")
    const rows = tables.length === 0 ? "" : yield* cluster.sql(
      database,
      tables.map((table) =>
        `SELECT '${table}', count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) FROM ${table} t`
      ).join(" UNION ALL ")
    )
    const others = yield* cluster.sql(
      database,
      `SELECT 'sequence ' || sequencename, coalesce(last_value, 0)::text FROM pg_sequences WHERE schemaname = 'public'
       UNION ALL SELECT 'view ' || viewname, md5(definition) FROM pg_views WHERE schemaname = 'public'`
    )
    return [...rows.split("\n"), ...others.split("\n")].filter((line) => line !== "").sort()
  })
