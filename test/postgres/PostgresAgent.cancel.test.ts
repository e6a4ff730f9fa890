// Cancelling the example PostgreSQL agent in the middle of moving a few
// hundred MB: the tools stop, the database is as it was, the agent stays
// registered and answers the next action.
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import type * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { layerLive } from "../support/layers.js"
import { Cluster, eventually, toolProcesses, toolSessions } from "./cluster.js"
import { bigTable, snapshot } from "./database.js"
import { agentFor, agentId, registered, runAction, suiteLayer, withAgent } from "./harness.js"

// 150 000 rows of 2 KiB: about 300 MB in an uncompressed dump.
const rows = 150_000

/** Whether `tool` is copying a table's rows of `database` right now. */
const copying = (database: string, tool: "pg_dump" | "pg_restore") =>
  Effect.flatMap(Cluster, (cluster) =>
    cluster.sql(
      "postgres",
      `SELECT count(*) FROM pg_stat_activity
       WHERE datname = '${database}' AND application_name = '${tool}' AND state = 'active' AND query LIKE 'COPY %'`
    )
  ).pipe(Effect.map((count) => count !== "0"))

/** Starts `name`, waits until `tool` copies rows, cancels the action, and returns its final record. */
const cancelWhileCopying = (
  orchestrator: Orchestrator.Orchestrator["Type"],
  name: "CREATE_BACKUP" | "RESTORE",
  backupName: string,
  database: string,
  tool: "pg_dump" | "pg_restore"
) =>
  Effect.gen(function*() {
    const action = yield* orchestrator.startAction("DEFAULT", name, backupName)
    yield* eventually(copying(database, tool), 120)
    yield* orchestrator.cancelAction(action.id)
    return yield* orchestrator.awaitAction(action.id)
  })

/** What a cancel must leave: no tool process, no tool session, the agent registered. */
const nothingLeft = (orchestrator: Orchestrator.Orchestrator["Type"], database: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    // The agent answers the cancel once the tool has exited: nothing to wait for.
    expect(yield* toolProcesses(cluster.connection.port)).toEqual([])
    // The server notices a closed connection on its own time.
    yield* eventually(Effect.map(toolSessions(database), (sessions) => sessions.length === 0))
    expect(yield* registered(orchestrator)).toEqual([agentId])
  })

/** A database `name` of about 300 MB uncompressed, and an agent for it that dumps it uncompressed. */
const bigDatabaseAgent = (name: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const connection = yield* cluster.database(name)
    yield* cluster.sql(name, bigTable(rows))
    return yield* withAgent(yield* agentFor(connection, { dumpArguments: ["-Z0"] }))
  })

layerLive(suiteLayer)("cancelling the example PostgreSQL agent", (it) => {
  it.scoped("stops pg_dump in the middle of a backup of a few hundred MB, and backs up next time", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const orchestrator = yield* bigDatabaseAgent("dumped")

      const cancelled = yield* cancelWhileCopying(orchestrator, "CREATE_BACKUP", "interrupted", "dumped", "pg_dump")
      expect(cancelled.result).toBe("FAILURE")
      expect((yield* orchestrator.backup("DEFAULT", "interrupted")).status).not.toBe("COMPLETE")
      yield* nothingLeft(orchestrator, "dumped")

      // The next backup works (of a smaller database, to be quick).
      yield* cluster.sql("dumped", "DELETE FROM big WHERE id > 1000")
      expect(yield* runAction(orchestrator, "CREATE_BACKUP", "after")).toMatchObject({ result: "SUCCESS" })
    }))

  it.scoped("stops pg_restore in the middle of a restore of a few hundred MB and leaves the database unchanged", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const orchestrator = yield* bigDatabaseAgent("restored")
      expect(yield* runAction(orchestrator, "CREATE_BACKUP", "large")).toMatchObject({ result: "SUCCESS" })
      const [fragment] = (yield* orchestrator.backup("DEFAULT", "large")).fragments
      expect(fragment?.backupFile.size).toBeGreaterThan(250_000_000)

      yield* cluster.sql(
        "restored",
        `UPDATE big SET payload = 'changed after the backup' WHERE id % 1000 = 0;
         DELETE FROM big WHERE id % 997 = 0;
         CREATE TABLE later (note text); INSERT INTO later VALUES ('made after the backup');`
      )
      const changed = yield* snapshot("restored")

      const cancelled = yield* cancelWhileCopying(orchestrator, "RESTORE", "large", "restored", "pg_restore")
      expect(cancelled.result).toBe("FAILURE")
      yield* nothingLeft(orchestrator, "restored")
      expect(yield* snapshot("restored")).toEqual(changed)

      // The agent still restores: the same backup, to its end this time.
      expect(yield* runAction(orchestrator, "RESTORE", "large")).toMatchObject({ result: "SUCCESS" })
      expect(yield* cluster.sql("restored", "SELECT count(*) FROM big WHERE payload = 'changed after the backup'")).toBe("0")
    }))
})
