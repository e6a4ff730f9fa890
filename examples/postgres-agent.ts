/**
 * Runs the example PostgreSQL agent (`PostgresAgent.ts`) against an
 * orchestrator, from the environment. The database is named with libpq's own
 * variables, which pg_dump, pg_restore and psql read too:
 *
 * | Variable | Default | Meaning |
 * | --- | --- | --- |
 * | `AGENT_ID` | `postgres-agent` | the agent's id |
 * | `PGHOST` | `localhost` | the server's host |
 * | `PGPORT` | `5432` | its port |
 * | `PGUSER` | `postgres` | the role the tools connect as (it must be able to drop and create the database's objects) |
 * | `PGDATABASE` | `PGUSER` | the database backed up and restored (it must exist) |
 * | `PGPASSWORD` | unset | the role's password, handed to the tools in their environment only |
 * | `AGENT_PG_BINARIES` | unset: the PATH | the folder of pg_dump, pg_restore and psql (`/usr/lib/postgresql/16/bin`) |
 * | `AGENT_PG_DUMP_ARGS` | none | more pg_dump arguments, separated by white space (`-Z0 --exclude-table=logs`) |
 *
 * and the orchestrator's address as for every agent: `ORCHESTRATOR_HOST`,
 * `ORCHESTRATOR_PORT` and the TLS variables (see the README's configuration
 * table).
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Agent, GrpcTransport } from "bro-agent"
import { Config, Effect, Layer, Option } from "effect"
import { postgresAgent } from "./PostgresAgent.js"

Effect.gen(function*() {
  const agentId = yield* Config.string("AGENT_ID").pipe(Config.withDefault("postgres-agent"))
  const host = yield* Config.string("PGHOST").pipe(Config.withDefault("localhost"))
  const port = yield* Config.port("PGPORT").pipe(Config.withDefault(5432))
  const user = yield* Config.string("PGUSER").pipe(Config.withDefault("postgres"))
  // As libpq does: the database named after the user when none is given.
  const database = yield* Config.string("PGDATABASE").pipe(Config.withDefault(user))
  const password = yield* Config.option(Config.redacted("PGPASSWORD"))
  const binaries = yield* Config.option(Config.string("AGENT_PG_BINARIES"))
  const dumpArguments = yield* Config.string("AGENT_PG_DUMP_ARGS").pipe(
    Config.map((text) => text.split(/\s+/).filter((argument) => argument !== "")),
    Config.withDefault([])
  )
  const behavior = postgresAgent({
    agentId,
    connection: { host, port, user, database, ...Option.match(password, { onNone: () => ({}), onSome: (password) => ({ password }) }) },
    dumpArguments,
    ...Option.match(binaries, { onNone: () => ({}), onSome: (binaries) => ({ binaries }) })
  })
  return yield* Agent.run(behavior)
}).pipe(
  Effect.provide(Layer.merge(GrpcTransport.layerConfig(), NodeContext.layer)),
  // runMain logs the error the agent ends with, once.
  NodeRuntime.runMain
)
