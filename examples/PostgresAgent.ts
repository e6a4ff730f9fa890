/**
 * A PostgreSQL agent: it backs up one database with `pg_dump` and restores it
 * with `pg_restore`, streaming the dump both ways, with no temporary file and
 * a few chunks in memory whatever the database's size. The pattern for any
 * database whose tools dump to stdout and restore from stdin.
 *
 * **Backup.** One fragment, `<database>.dump`: `pg_dump -Fc` run by
 * `Fragments.fromCommand`, its stdout sent as it comes. pg_dump reads the
 * database in one snapshot, so the dump is consistent while clients keep
 * writing. Its exit status counts: a pg_dump that fails (a database that does
 * not exist, a lost connection) fails the fragment with pg_dump's own message,
 * and the orchestrator keeps no half dump. The fragment carries the server's
 * version (`SHOW server_version_num`) twice: in its custom information, which
 * the restore preparation is given without downloading anything, and in a
 * small JSON custom-metadata file, checked again during the download.
 *
 * **Restore.** The preparation refuses a fragment with no PostgreSQL version
 * (not made by this agent) or made by a newer major version than the target
 * server's: pg_dump writes what its own server understands, and PostgreSQL
 * supports restoring a dump into the same or a newer major version only. The
 * execution pipes `downloadFragmentStream` into
 * `pg_restore --clean --if-exists --single-transaction --exit-on-error --no-owner`
 * with `Commands.runWithInput`.
 *
 * **Why a failed or cancelled restore leaves the database as it was.**
 * pg_restore drops and recreates the dump's objects and loads their rows in
 * one transaction, and commits only once it has read its archive to the end.
 * The download stream holds back the archive's last chunk until the whole
 * fragment checked out: both files' checksums matched, the orchestrator ended
 * the stream as the protocol says, and the custom metadata's version was
 * accepted. So pg_restore never holds a complete archive of unverified bytes:
 * a corrupted fragment, a refused version, a lost connection or a cancel ends
 * the input without an end of file and kills pg_restore, whose connection
 * closes, and the server rolls the transaction back. A cancelled backup kills
 * pg_dump the same way; a backup never writes to the database.
 *
 * What it does not do: `--clean` drops only the objects the dump holds, so a
 * table created after the backup stays; roles and tablespaces are not in a
 * pg_dump (see `pg_dumpall --globals-only`); the target database must exist.
 * The restore holds its locks until it commits, and the server needs room for
 * the old and the new data until then. pg_restore must be at least as new as
 * the pg_dump that wrote the archive (use the newest client tools; an older
 * pg_restore refuses the archive's header before changing anything).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type { AgentBehavior, Fragment } from "bro-agent"
import { Commands, Fragments } from "bro-agent"
import { Data, Effect, Redacted, Schema, Stream } from "effect"
import { join } from "node:path"

/**
 * How the agent reaches the server. The password, if any, is handed to the
 * tools in `PGPASSWORD`, never on a command line; without one, libpq's other
 * ways apply (a `.pgpass` file, `trust` or `peer` authentication).
 *
 * @since 0.1.0
 * @category models
 */
export interface PostgresConnection {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string
  readonly password?: Redacted.Redacted<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PostgresAgentOptions {
  readonly agentId: string
  readonly connection: PostgresConnection
  /** More arguments for pg_dump (`-Z0`, `--exclude-table=logs`, ...), after `-Fc`. */
  readonly dumpArguments?: ReadonlyArray<string>
  /** The folder of pg_dump, pg_restore and psql; by default they are looked up on the PATH. */
  readonly binaries?: string
}

/**
 * A backup this server cannot take: `backupVersion` is the
 * `server_version_num` the fragment was made with (`undefined` when it
 * carries none), `serverVersion` the target server's.
 *
 * @since 0.1.0
 * @category errors
 */
export class IncompatibleBackup extends Data.TaggedError("IncompatibleBackup")<{
  readonly fragmentId: string
  readonly backupVersion: number | undefined
  readonly serverVersion: number
  readonly reason: string
}> {
  override get message(): string {
    return `Cannot restore fragment ${this.fragmentId} into PostgreSQL ${versionText(this.serverVersion)}: ${this.reason}`
  }
}

/**
 * The backup does not hold exactly the one fragment this agent sends.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedFragments extends Data.TaggedError("UnexpectedFragments")<{
  readonly fragmentIds: ReadonlyArray<string>
}> {
  override get message(): string {
    const found = this.fragmentIds.length === 0 ? "none" : this.fragmentIds.join(", ")
    return `A PostgreSQL backup holds exactly one fragment, the dump; this one holds ${found}`
  }
}

/**
 * The server's version could not be read: psql's output was not a
 * `server_version_num`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnreadableServerVersion extends Data.TaggedError("UnreadableServerVersion")<{
  readonly output: string
}> {
  override get message(): string {
    return `SHOW server_version_num answered ${JSON.stringify(this.output)}, not a version number`
  }
}

/**
 * Every error the agent's stages fail with; each one's `message` is what the
 * orchestrator is told (a tool's own message included, for `CommandFailed`
 * and a failed `pg_dump` fragment).
 *
 * @since 0.1.0
 * @category errors
 */
export type PostgresAgentError =
  | IncompatibleBackup
  | UnexpectedFragments
  | UnreadableServerVersion
  | Commands.CommandFailed
  | Fragments.FailedToTransferBackup
  | Fragments.FailedToDownload

/** The custom-information key of the server's version. */
const versionKey = "serverVersionNum"

/** The custom-metadata file: what the dump was made from. */
const DumpMetadata = Schema.Struct({
  serverVersionNum: Schema.Int.pipe(Schema.positive()),
  database: Schema.String,
  format: Schema.Literal("custom")
})
const decodeMetadata = Schema.decodeUnknownEither(Schema.parseJson(DumpMetadata))
const metadataFileName = "postgresql.json"

// 150018 is 15.18; before 10, 90624 was 9.6.24, whose major version is 9.6.
const majorVersion = (version: number) => version >= 100_000 ? Math.floor(version / 10_000) * 100 : Math.floor(version / 100)
const versionText = (version: number) =>
  version >= 100_000
    ? `${Math.floor(version / 10_000)}.${version % 10_000}`
    : `${Math.floor(version / 10_000)}.${Math.floor(version / 100) % 100}.${version % 100}`

const parseVersion = (text: string | undefined) =>
  text !== undefined && /^[1-9]\d{4,6}$/.test(text) ? Number(text) : undefined

/** Refuses a backup made by a newer major version than the server's, or carrying none. */
const checkVersion = (fragmentId: string, backupVersion: number | undefined, serverVersion: number) => {
  if (backupVersion === undefined) {
    return Effect.fail(
      new IncompatibleBackup({
        fragmentId,
        backupVersion,
        serverVersion,
        reason: "it carries no PostgreSQL version: it was not made by this agent"
      })
    )
  }
  if (majorVersion(backupVersion) > majorVersion(serverVersion)) {
    return Effect.fail(
      new IncompatibleBackup({
        fragmentId,
        backupVersion,
        serverVersion,
        reason: `it was dumped from PostgreSQL ${versionText(backupVersion)}, a newer major version; ` +
          "a dump restores into the same or a newer major version only"
      })
    )
  }
  return Effect.void
}

/**
 * The agent's behaviour, backing up and restoring `connection.database`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const postgresAgent = (
  options: PostgresAgentOptions
): AgentBehavior.AgentBehavior<PostgresAgentError> => {
  const { connection } = options
  const tool = (name: string, ...args: ReadonlyArray<string>) => {
    const command = Command.make(
      options.binaries === undefined ? name : join(options.binaries, name),
      ...args,
      // -w: never wait for a password prompt, which no one would answer.
      "-w", "-h", connection.host, "-p", String(connection.port), "-U", connection.user, "-d", connection.database
    )
    return connection.password === undefined
      ? command
      : Command.env(command, { PGPASSWORD: Redacted.value(connection.password) })
  }

  const serverVersion = Commands.stdout(tool("psql", "-X", "-A", "-t", "-c", "SHOW server_version_num")).pipe(
    Stream.decodeText(),
    Stream.mkString,
    Effect.flatMap((output) => {
      const version = parseVersion(output.trim())
      return version === undefined ? Effect.fail(new UnreadableServerVersion({ output: output.trim() })) : Effect.succeed(version)
    })
  )

  // The one fragment of a backup, with the version it claims.
  const dumpOf = (fragments: ReadonlyArray<Fragment.FragmentInformation>) => {
    const [fragment] = fragments
    return fragment === undefined || fragments.length !== 1
      ? Effect.fail(new UnexpectedFragments({ fragmentIds: fragments.map((f) => f.fragmentId) }))
      : Effect.succeed({ fragment, version: parseVersion(fragment.customInformation[versionKey]) })
  }

  // Where the fragment's file is named after the database, keep it a file name.
  const dumpName = `${connection.database.replace(/[^A-Za-z0-9._-]/g, "_")}.dump`

  return {
    registration: {
      agentId: options.agentId,
      softwareVersion: {
        productName: "PostgreSQL example",
        productNumber: "APR 901 0003",
        revision: "R1A",
        productionDate: "2026-11-25",
        description: `The PostgreSQL database ${connection.database} on ${connection.host}:${connection.port}`,
        type: "Database",
        semanticVersion: "1.0.0"
      }
    },

    executeBackup: (context) =>
      Effect.gen(function*() {
        const version = yield* serverVersion
        const sent = yield* context.sendFragment({
          fragmentId: `${options.agentId}_dump`,
          version: "1.0",
          customInformation: { [versionKey]: String(version) },
          backupFile: Fragments.fromCommand(dumpName, tool("pg_dump", "-Fc", ...(options.dumpArguments ?? []))),
          customMetadataFile: Fragments.fromBytes(
            metadataFileName,
            JSON.stringify({ serverVersionNum: version, database: connection.database, format: "custom" })
          )
        })
        return `Dumped ${connection.database} from PostgreSQL ${versionText(version)} (${sent.backupFile.size} bytes)`
      }),

    prepareRestore: (context) =>
      Effect.gen(function*() {
        const { fragment, version } = yield* dumpOf(context.fragments)
        const server = yield* serverVersion
        yield* checkVersion(fragment.fragmentId, version, server)
        return `Ready to restore a PostgreSQL ${versionText(version ?? server)} dump into ${versionText(server)}`
      }),

    executeRestore: (context) =>
      Effect.gen(function*() {
        const { fragment, version } = yield* dumpOf(context.fragments)
        const server = yield* serverVersion
        yield* checkVersion(fragment.fragmentId, version, server)
        // Checked before pg_restore is handed the archive's last chunk: a
        // refusal here leaves it with an incomplete archive, so it rolls back.
        const onCustomMetadata = (file: Fragments.CustomMetadataFile | undefined) => {
          const refuse = (reason: string) =>
            Effect.fail(new IncompatibleBackup({ fragmentId: fragment.fragmentId, backupVersion: version, serverVersion: server, reason }))
          if (file === undefined) return refuse(`it has no ${metadataFileName}: it was not made by this agent`)
          const metadata = decodeMetadata(new TextDecoder().decode(file.bytes))
          if (metadata._tag === "Left") return refuse(`its ${file.fileName} is not this agent's: ${metadata.left.message}`)
          if (metadata.right.serverVersionNum !== version) {
            return refuse(`its ${file.fileName} says PostgreSQL ${versionText(metadata.right.serverVersionNum)}, its information another version`)
          }
          return checkVersion(fragment.fragmentId, metadata.right.serverVersionNum, server)
        }
        const restore = tool("pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-owner")
        yield* Commands.runWithInput(restore, context.downloadFragmentStream(fragment, { onCustomMetadata }))
        return `Restored ${connection.database} from a PostgreSQL ${versionText(version ?? server)} dump`
      })
  }
}
