// The example PostgreSQL agent through the test kit, against the suite's real
// cluster: pg_dump and pg_restore run for real, so the kit keeps its default
// live clock.
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { Testing } from "bro-agent/testing"
import { layerLive } from "../support/layers.js"
import { Cluster } from "./cluster.js"
import { bigTable, change, seed, snapshot } from "./database.js"
import { agentFor, suiteLayer } from "./harness.js"

const seeded = (name: string, sql = seed) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const connection = yield* cluster.database(name)
    yield* cluster.sql(name, sql)
    return { cluster, connection, state: yield* snapshot(name) }
  })

layerLive(suiteLayer)("the example PostgreSQL agent, through the test kit", (it) => {
  it.scoped("backs up a dump and restores the database as it was", () =>
    Effect.gen(function*() {
      const { cluster, connection, state } = yield* seeded("kit_roundtrip")
      const agent = yield* agentFor(connection)
      const backup = yield* Testing.backup(agent)
      expect(backup.succeeded).toBe(true)
      expect(backup.fragments[0]?.backupFile?.checksumVerified).toBe(true)

      yield* cluster.sql("kit_roundtrip", change)
      const restore = yield* Testing.restore(agent, { fragments: backup })
      expect(restore.succeeded).toBe(true)
      expect(yield* snapshot("kit_roundtrip")).toEqual(state)
    }))

  it.scoped("leaves the database unchanged when the restore is cancelled part-way through the dump", () =>
    Effect.gen(function*() {
      const { cluster, connection } = yield* seeded("kit_cancel", bigTable(20_000))
      const agent = yield* agentFor(connection)
      const backup = yield* Testing.backup(agent)
      const size = backup.fragments[0]?.backupFile?.bytes.length ?? 0
      yield* cluster.sql("kit_cancel", "DELETE FROM big WHERE id > 10")
      const changed = yield* snapshot("kit_cancel")
      const restore = yield* Testing.restore(agent, {
        fragments: backup,
        cancel: { stage: "EXECUTION", afterBytes: Math.floor(size / 2) }
      })
      expect(restore.answers.map((answer) => [answer.step, answer.success])).toEqual([["PREPARATION", true], ["CANCEL", true]])
      expect(restore.cleanedUp).toBe(true)
      expect(yield* snapshot("kit_cancel")).toEqual(changed)
    }))

  it.scoped("refuses a dump whose checksum is wrong, the database unchanged", () =>
    Effect.gen(function*() {
      const { cluster, connection } = yield* seeded("kit_checksum")
      const agent = yield* agentFor(connection)
      const backup = yield* Testing.backup(agent)
      yield* cluster.sql("kit_checksum", change)
      const changed = yield* snapshot("kit_checksum")
      const restore = yield* Testing.restore(agent, { fragments: backup, fault: { wrongChecksum: true } })
      expect(restore.answers[1]?.success).toBe(false)
      expect(yield* snapshot("kit_checksum")).toEqual(changed)
    }))

  it.scoped("follows every rule of the orchestrator's sequences", () =>
    Effect.gen(function*() {
      const { connection } = yield* seeded("kit_conformance")
      const report = yield* Testing.conformance(yield* agentFor(connection), { answerTimeout: "60 seconds" })
      expect(report.violations).toEqual([])
    }))
})

