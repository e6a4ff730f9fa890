// A throwaway PostgreSQL cluster for the PostgreSQL suite: initdb into a
// temporary folder, the server on a free loopback port with its socket in that
// folder, stopped (`-m immediate`) and removed with the scope, whichever way
// the suite ends. Nothing here uses a cluster the machine may already run
// (Debian's postinst starts one on 5432): every command names our port.
//
// initdb and the server refuse to run as root, so as root (CI, this machine)
// they run as the `postgres` system user, which owns the temporary folder;
// as anyone else they run as that user.
import { FileSystem } from "@effect/platform"
import type { Scope } from "effect"
import { Context, Data, Duration, Effect, Layer, Schedule } from "effect"
import { execFile } from "node:child_process"
import { readdir, readFile } from "node:fs/promises"
import { createServer } from "node:net"
import { join } from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)

/** A cluster command failed: which one, and what it printed. */
export class ClusterError extends Data.TaggedError("ClusterError")<{
  readonly command: string
  readonly output: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.command} failed: ${this.output}`
  }
}

/** Runs a program to its end, with its output; interruption kills it. */
export const exec = (file: string, args: ReadonlyArray<string>, options: { readonly env?: NodeJS.ProcessEnv } = {}) =>
  Effect.tryPromise({
    try: (signal) =>
      run(file, [...args], { signal, maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env, encoding: "utf8" }),
    catch: (cause) => {
      const failed = cause as { readonly stderr?: unknown; readonly message?: unknown }
      const output = typeof failed.stderr === "string" && failed.stderr !== "" ? failed.stderr : String(failed.message)
      return new ClusterError({ command: [file, ...args].join(" "), output: output.trim(), cause })
    }
  })

const isFolder = (fs: FileSystem.FileSystem, path: string) =>
  fs.stat(path).pipe(Effect.map((info) => info.type === "Directory"), Effect.orElseSucceed(() => false))

/**
 * The folder of the server's binaries: `PG_BINDIR` if set, else what
 * `pg_config --bindir` says (when it holds initdb), else the newest
 * `/usr/lib/postgresql/<major>/bin` (where Debian puts them, off the PATH).
 */
export const findBinaries = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const given = process.env["PG_BINDIR"]
  if (given !== undefined && given !== "") return given
  const configured = yield* exec("pg_config", ["--bindir"]).pipe(
    Effect.map(({ stdout }) => stdout.trim()),
    Effect.orElseSucceed(() => "")
  )
  if (configured !== "" && (yield* fs.exists(join(configured, "initdb")))) return configured
  const root = "/usr/lib/postgresql"
  const majors = (yield* fs.readDirectory(root).pipe(Effect.orElseSucceed(() => [])))
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a))
  for (const major of majors) {
    const bin = join(root, major, "bin")
    if ((yield* isFolder(fs, bin)) && (yield* fs.exists(join(bin, "initdb")))) return bin
  }
  return yield* new ClusterError({
    command: "finding PostgreSQL",
    output: "no initdb: install PostgreSQL (apt-get install postgresql) or set PG_BINDIR"
  })
})

/** A free port on 127.0.0.1, as the kernel hands one out. */
const freePort = Effect.async<number, ClusterError>((resume) => {
  const server = createServer()
  server.once("error", (cause) => resume(Effect.fail(new ClusterError({ command: "finding a free port", output: String(cause) }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

// Settings for a server that only lives for a test run: no durability, no
// WAL for the tables a single-transaction restore creates, no checkpoints in
// the middle of loading a few hundred MB.
const settings = (port: number, socketFolder: string) =>
  [
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${socketFolder}'`,
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "wal_level = minimal",
    "max_wal_senders = 0",
    "max_wal_size = '4GB'",
    "checkpoint_timeout = '1h'",
    "shared_buffers = '128MB'",
    "max_connections = 30",
    ""
  ].join("\n")

/** How the tests and the agent reach the cluster. */
export interface Connection {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string
}

/** The running cluster. */
export class Cluster extends Context.Tag("test/postgres/Cluster")<Cluster, {
  /** The folder of the PostgreSQL binaries (pg_dump, pg_restore, psql). */
  readonly binaries: string
  /** The maintenance database `postgres`, as the superuser. */
  readonly connection: Connection
  /** The server's version, as `SHOW server_version_num` gives it (150010). */
  readonly versionNumber: number
  /** Runs SQL in `database` with psql and returns its unaligned, tuples-only output. */
  readonly sql: (database: string, sql: string) => Effect.Effect<string, ClusterError>
  /** Creates a database and returns its connection; dropped with the scope. */
  readonly database: (name: string) => Effect.Effect<Connection, ClusterError, Scope.Scope>
}>() {}

const rootUser = process.getuid?.() === 0

// As root, a server-side program runs as the `postgres` system user.
const asServer = (program: string, args: ReadonlyArray<string>) =>
  rootUser ? exec("runuser", ["-u", "postgres", "--", program, ...args]) : exec(program, args)

const start = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const binaries = yield* findBinaries
  const folder = yield* fs.makeTempDirectory({ prefix: "bro-agent-postgres-" })
  yield* Effect.addFinalizer(() => fs.remove(folder, { recursive: true, force: true }).pipe(Effect.ignore))
  if (rootUser) yield* exec("chown", ["postgres:", folder])
  const data = join(folder, "data")
  const log = join(folder, "server.log")
  yield* asServer(join(binaries, "initdb"), [
    "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"
  ])
  // Trust for every role but `secured`, which must give its password: for the
  // test of a password handed to the tools.
  yield* fs.writeFileString(
    join(data, "pg_hba.conf"),
    ["local all all trust", "host all secured 127.0.0.1/32 scram-sha-256", "host all all 127.0.0.1/32 trust", ""].join("\n")
  )
  const pgCtl = join(binaries, "pg_ctl")
  // Registered before the start, so that a start that half worked (the server
  // up, pg_ctl's wait failing) is stopped too.
  yield* Effect.addFinalizer(() => asServer(pgCtl, ["stop", "-D", data, "-m", "immediate", "-s"]).pipe(Effect.ignore))
  const port = yield* freePort.pipe(
    Effect.tap((port) => fs.writeFileString(join(data, "postgresql.auto.conf"), settings(port, folder))),
    Effect.tap(() => asServer(pgCtl, ["start", "-D", data, "-l", log, "-w", "-t", "60", "-s"])),
    Effect.tapError(() =>
      fs.readFileString(log).pipe(
        Effect.flatMap((text) => Effect.logWarning(`PostgreSQL did not start:\n${text}`)),
        Effect.ignore
      )
    ),
    // Another process may take the port between our look and the server's bind.
    Effect.retry({ times: 2 })
  )
  const connection: Connection = { host: "127.0.0.1", port, user: "postgres", database: "postgres" }
  const sql = (database: string, text: string) =>
    exec(join(binaries, "psql"), [
      "-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
      "-h", connection.host, "-p", String(port), "-U", connection.user, "-d", database, "-c", text
    ]).pipe(Effect.map(({ stdout }) => stdout.trimEnd()))
  const versionNumber = Number(yield* sql("postgres", "SHOW server_version_num"))
  const database = (name: string) =>
    Effect.acquireRelease(
      Effect.as(sql("postgres", `CREATE DATABASE "${name}"`), { ...connection, database: name }),
      () => sql("postgres", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).pipe(Effect.ignore)
    )
  return { binaries, connection, versionNumber, sql, database }
})

/** A cluster for a whole test file: started when the Layer is built, removed when it is released. */
export const layer = Layer.scoped(Cluster, start)

/**
 * The pg_dump and pg_restore processes (any of this machine) connected to the
 * cluster on `port`: those whose arguments name it. Read from /proc.
 */
export const toolProcesses = (port: number) =>
  Effect.promise(async () => {
    const found: Array<string> = []
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid)) continue
      const args = await readFile(join("/proc", pid, "cmdline"), "utf8").then((text) => text.split("\0"), (): Array<string> => [])
      const program = args[0]?.split("/").at(-1)
      if ((program === "pg_dump" || program === "pg_restore") && args.includes(String(port))) {
        found.push(`${pid} ${args.join(" ").trim()}`)
      }
    }
    return found
  })

/** The sessions of pg_dump and pg_restore the server still has (a killed client's is gone within moments). */
export const toolSessions = (database: string) =>
  Effect.flatMap(Cluster, (cluster) =>
    cluster.sql(
      "postgres",
      `SELECT application_name FROM pg_stat_activity
       WHERE datname = '${database}' AND application_name IN ('pg_dump', 'pg_restore')`
    )
  ).pipe(Effect.map((output) => output.split("\n").filter((line) => line !== "")))

/** Waits until `check` holds, asking every 50 ms for at most `seconds`. */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, seconds = 20) =>
  check.pipe(
    Effect.filterOrFail((holds) => holds, () => new ClusterError({ command: "waiting", output: "condition never held" })),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo(Duration.seconds(seconds)))),
    Effect.asVoid
  )
