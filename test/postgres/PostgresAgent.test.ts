// The example PostgreSQL agent end to end: a real cluster, pg_dump and
// pg_restore, the development orchestrator over gRPC.
import * as Command from "@effect/platform/Command"
import { FileSystem } from "@effect/platform"
import { expect } from "@effect/vitest"
import { Effect, Redacted, Schedule } from "effect"
import { join } from "node:path"
import * as AgentBehavior from "../../src/behavior/AgentBehavior.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import type * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { awaitAgents, startAgent, startOrchestrator, tempFolder } from "../support/orchestratorHarness.js"
import { layerLive } from "../support/layers.js"
import { Cluster, type Connection, exec, toolProcesses } from "./cluster.js"
import { change, seed, snapshot } from "./database.js"
import { agentFor, agentId, registered, runAction, suiteLayer, withAgent } from "./harness.js"
import type { PostgresConnection } from "../../examples/PostgresAgent.js"

const fragmentId = `${agentId}_dump`

/** A database of the cluster holding the seed data, with its state right after seeding. */
const seeded = (name: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const connection = yield* cluster.database(name)
    yield* cluster.sql(name, seed)
    return { connection, seededState: yield* snapshot(name) }
  })

/**
 * A development orchestrator holding a backup named `backupName` made by
 * another agent under the PostgreSQL agent's id (one that sends `fragment`),
 * with the PostgreSQL agent for `connection` registered in its place.
 */
const forgedBackup = (connection: PostgresConnection, backupName: string, fragment: Fragments.BackupFragment) =>
  Effect.gen(function*() {
    const orchestrator = yield* startOrchestrator(yield* tempFolder)
    const forger = AgentBehavior.make({
      registration: {
        agentId,
        softwareVersion: {
          productName: "Forger",
          productNumber: "APR 000 0000",
          revision: "R1A",
          productionDate: "2026-01-01",
          description: "Sends whatever the test says",
          type: "Database",
          semanticVersion: "1.0.0"
        }
      },
      executeBackup: (context) => context.sendFragment(fragment),
      executeRestore: () => Effect.void
    })
    yield* Effect.scoped(Effect.gen(function*() {
      yield* startAgent(orchestrator.port, forger)
      yield* awaitAgents(orchestrator, 1)
      expect(yield* runAction(orchestrator, "CREATE_BACKUP", backupName)).toMatchObject({ result: "SUCCESS" })
    }))
    yield* unregistered(orchestrator)
    yield* startAgent(orchestrator.port, yield* agentFor(connection))
    yield* awaitAgents(orchestrator, 1)
    return orchestrator
  })

/** Waits until no agent is registered any more. */
const unregistered = (orchestrator: Orchestrator.Orchestrator["Type"]) =>
  orchestrator.agents.pipe(Effect.repeat({ until: (agents) => agents.length === 0, schedule: Schedule.spaced("20 millis") }))

const dumpCommand = (binaries: string, connection: Connection) =>
  Command.make(
    join(binaries, "pg_dump"), "-Fc", "-Z0", "-w",
    "-h", connection.host, "-p", String(connection.port), "-U", connection.user, "-d", connection.database
  )

layerLive(suiteLayer)("the example PostgreSQL agent", (it) => {
  it.scoped("backs up a database and restores every table, sequence and view as they were", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const { connection, seededState } = yield* seeded("roundtrip")
      const orchestrator = yield* withAgent(yield* agentFor(connection))

      const backup = yield* runAction(orchestrator, "CREATE_BACKUP", "nightly")
      expect(backup).toMatchObject({ result: "SUCCESS" })
      const [fragment, ...others] = (yield* orchestrator.backup("DEFAULT", "nightly")).fragments
      expect(others).toEqual([])
      expect(fragment?.fragmentId).toBe(fragmentId)
      expect(fragment?.backupFile.name).toBe("roundtrip.dump")
      expect(fragment?.customMetadataFile?.name).toBe("postgresql.json")
      expect(fragment?.customInformation).toEqual({ serverVersionNum: String(cluster.versionNumber) })

      yield* cluster.sql("roundtrip", change)
      expect(yield* snapshot("roundtrip")).not.toEqual(seededState)

      const restore = yield* runAction(orchestrator, "RESTORE", "nightly")
      expect(restore).toMatchObject({ result: "SUCCESS" })
      expect(yield* snapshot("roundtrip")).toEqual(seededState)
      expect(yield* toolProcesses(connection.port)).toEqual([])
    }))

  it.scoped("fails the backup with the tool's message when the database does not exist", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const orchestrator = yield* withAgent(yield* agentFor({ ...cluster.connection, database: "missing" }))
      const backup = yield* runAction(orchestrator, "CREATE_BACKUP", "nothing")
      expect(backup.result).toBe("FAILURE")
      expect(backup.progressInfo).toContain("failed at stage EXECUTION")
      expect(backup.progressInfo).toContain("database \"missing\" does not exist")
      expect((yield* orchestrator.backup("DEFAULT", "nothing")).fragments).toEqual([])
    }))

  it.scoped("fails the backup with pg_dump's message, and stores no half dump, when pg_dump cannot read a table", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const { connection } = yield* seeded("guarded")
      yield* cluster.sql(
        "guarded",
        `CREATE ROLE reader LOGIN;
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
         GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO reader;
         CREATE TABLE secret (id int); INSERT INTO secret VALUES (1);`
      )
      yield* Effect.addFinalizer(() =>
        cluster.sql("guarded", "DROP OWNED BY reader").pipe(
          Effect.zipRight(cluster.sql("postgres", "DROP ROLE reader")),
          Effect.ignore
        )
      )
      const orchestrator = yield* withAgent(yield* agentFor({ ...connection, user: "reader" }))
      const backup = yield* runAction(orchestrator, "CREATE_BACKUP", "refused")
      expect(backup.result).toBe("FAILURE")
      expect(backup.progressInfo).toContain("pg_dump")
      expect(backup.progressInfo).toContain("permission denied for table secret")
      expect((yield* orchestrator.backup("DEFAULT", "refused")).fragments).toEqual([])
      expect(yield* toolProcesses(connection.port)).toEqual([])
    }))

  it.scoped("hands the password to the tools in their environment, never on their command line", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const { connection } = yield* seeded("locked")
      yield* cluster.sql("postgres", "CREATE ROLE secured LOGIN PASSWORD 'right-horse-battery'; GRANT pg_read_all_data TO secured")
      yield* Effect.addFinalizer(() => cluster.sql("postgres", "DROP ROLE secured").pipe(Effect.ignore))
      const as = (password: string) => agentFor({ ...connection, user: "secured", password: Redacted.make(password) })

      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const refused = yield* Effect.scoped(Effect.gen(function*() {
        yield* startAgent(orchestrator.port, yield* as("wrong-staple"))
        yield* awaitAgents(orchestrator, 1)
        return yield* runAction(orchestrator, "CREATE_BACKUP", "wrong")
      }))
      expect(refused.result).toBe("FAILURE")
      expect(refused.progressInfo).toContain("password authentication failed for user \"secured\"")
      expect(refused.progressInfo).not.toContain("wrong-staple")
      yield* unregistered(orchestrator)

      yield* startAgent(orchestrator.port, yield* as("right-horse-battery"))
      yield* awaitAgents(orchestrator, 1)
      expect(yield* runAction(orchestrator, "CREATE_BACKUP", "right")).toMatchObject({ result: "SUCCESS" })
    }))

  it.scoped("fails the restore of a corrupted stored fragment and leaves the database unchanged", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const cluster = yield* Cluster
      const { connection } = yield* seeded("corrupted")
      yield* cluster.sql("corrupted", "INSERT INTO accounts (owner, balance, opened) VALUES ('MARKER-owner', 1, date '2026-01-01')")
      // Uncompressed, so that a flipped byte in a row is still a valid
      // archive: only the checksum tells it from the real one.
      const orchestrator = yield* withAgent(yield* agentFor(connection, { dumpArguments: ["-Z0"] }))
      expect(yield* runAction(orchestrator, "CREATE_BACKUP", "damaged")).toMatchObject({ result: "SUCCESS" })
      const stored = yield* orchestrator.fragmentPath("DEFAULT", "damaged", agentId, fragmentId)
      const bytes = Buffer.from(yield* fs.readFile(stored))
      expect(bytes.length).toBeGreaterThan(2 * 512 * 1024)
      const marker = bytes.indexOf("MARKER-owner")
      expect(marker).toBeGreaterThan(0)
      bytes.write("MARKEX", marker)
      yield* fs.writeFile(stored, bytes)

      // pg_restore itself takes the corrupted archive: only the checksum tells.
      const copy = yield* cluster.database("corrupted_copy")
      yield* exec(join(cluster.binaries, "pg_restore"), ["-h", copy.host, "-p", String(copy.port), "-U", copy.user, "-d", copy.database, stored])
      expect(yield* cluster.sql("corrupted_copy", "SELECT count(*) FROM accounts WHERE owner = 'MARKEX-owner'")).toBe("1")

      yield* cluster.sql("corrupted", change)
      const changed = yield* snapshot("corrupted")
      const restore = yield* runAction(orchestrator, "RESTORE", "damaged")
      expect(restore.result).toBe("FAILURE")
      expect(restore.progressInfo).toContain("failed at stage EXECUTION")
      expect(yield* snapshot("corrupted")).toEqual(changed)
      expect(yield* cluster.sql("corrupted", "SELECT count(*) FROM accounts WHERE owner LIKE 'MARKEX%'")).toBe("0")
      expect(yield* toolProcesses(connection.port)).toEqual([])
      expect(yield* registered(orchestrator)).toEqual([agentId])
    }))

  it.scoped("refuses in the preparation, with nothing downloaded, a dump from a newer major version", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const { connection } = yield* seeded("newer")
      const major = Math.floor(cluster.versionNumber / 10_000) + 1
      const newer = major * 10_000 + 2
      const orchestrator = yield* forgedBackup(connection, "from-the-future", {
        fragmentId,
        version: "1.0",
        customInformation: { serverVersionNum: String(newer) },
        backupFile: Fragments.fromBytes("newer.dump", "not read")
      })
      const restore = yield* runAction(orchestrator, "RESTORE", "from-the-future")
      expect(restore.result).toBe("FAILURE")
      expect(restore.progressInfo).toContain("failed at stage PREPARATION")
      expect(restore.progressInfo).toContain(`dumped from PostgreSQL ${major}.2, a newer major version`)
    }))

  it.scoped("refuses in the preparation a fragment that carries no PostgreSQL version", () =>
    Effect.gen(function*() {
      const { connection } = yield* seeded("unversioned")
      const orchestrator = yield* forgedBackup(connection, "anonymous", {
        fragmentId,
        version: "1.0",
        backupFile: Fragments.fromBytes("anonymous.dump", "not read")
      })
      const restore = yield* runAction(orchestrator, "RESTORE", "anonymous")
      expect(restore.result).toBe("FAILURE")
      expect(restore.progressInfo).toContain("failed at stage PREPARATION")
      expect(restore.progressInfo).toContain("it carries no PostgreSQL version")
    }))

  it.scoped("refuses a dump whose custom metadata names a newer version before pg_restore holds it whole", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const { connection } = yield* seeded("mislabelled")
      // A real dump, labelled right for the preparation but not in its
      // metadata: only the check during the download stops it.
      const orchestrator = yield* forgedBackup(connection, "mislabelled", {
        fragmentId,
        version: "1.0",
        customInformation: { serverVersionNum: String(cluster.versionNumber) },
        backupFile: Fragments.fromCommand("mislabelled.dump", dumpCommand(cluster.binaries, connection)),
        customMetadataFile: Fragments.fromBytes(
          "postgresql.json",
          JSON.stringify({ serverVersionNum: cluster.versionNumber + 10_000, database: "mislabelled", format: "custom" })
        )
      })
      yield* cluster.sql("mislabelled", change)
      const changed = yield* snapshot("mislabelled")

      const restore = yield* runAction(orchestrator, "RESTORE", "mislabelled")
      expect(restore.result).toBe("FAILURE")
      expect(restore.progressInfo).toContain("failed at stage EXECUTION")
      expect(restore.progressInfo).toContain("postgresql.json says PostgreSQL")
      expect(yield* snapshot("mislabelled")).toEqual(changed)
      expect(yield* toolProcesses(connection.port)).toEqual([])
    }))
})
