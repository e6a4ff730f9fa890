// The README's "Testing your agent" example, run as it is written there: the
// test at the end fails when the README's copy differs from this one.
import { expect as check, it as vitest } from "@effect/vitest"
import { readFileSync } from "node:fs"

// README: begin
import { describe, expect, layer } from "@effect/vitest"
import { AgentBehavior, Fragments } from "bro-agent"
import { Testing } from "bro-agent/testing"
import { Effect, Stream } from "effect"

const notes = AgentBehavior.make({
  registration: {
    agentId: "notes",
    softwareVersion: {
      productName: "Notes",
      productNumber: "APR 901 0042",
      revision: "R1A",
      productionDate: "2026-11-25",
      description: "The notes service",
      type: "Database"
    }
  },
  executeBackup: (context) =>
    context.sendFragment({
      fragmentId: "notes_0",
      version: "1.0",
      backupFile: Fragments.fromBytes("notes.txt", "remember the milk\n".repeat(10_000))
    }),
  executeRestore: (context) =>
    Effect.forEach(context.fragments, (fragment) =>
      context.downloadFragmentStream(fragment).pipe(Stream.runDrain))
})

layer(Testing.layer)("the notes agent", (it) => {
  it.effect("backs up its notes and restores them", () =>
    Effect.gen(function*() {
      const backup = yield* Testing.backup(notes)
      expect(backup.succeeded).toBe(true)
      expect(backup.fragments[0]?.backupFile?.checksumVerified).toBe(true)

      const restore = yield* Testing.restore(notes, { fragments: backup })
      expect(restore.answers.map((answer) => answer.step)).toEqual(["PREPARATION", "EXECUTION", "POST_ACTIONS"])
      expect(restore.downloads[0]?.outcome).toBe("completed")
    }))

  it.effect("answers a cancel in the middle of its upload", () =>
    Effect.gen(function*() {
      const backup = yield* Testing.backup(notes, {
        cancel: { stage: "EXECUTION", afterBytes: 50_000 },
        agent: { chunkSize: 16 * 1024 }
      })
      expect(backup.answers.map((answer) => [answer.step, answer.success])).toEqual([
        ["PREPARATION", true],
        ["CANCEL", true]
      ])
      expect(backup.fragments[0]?.outcome).toBe("cancelled")
    }))

  it.effect("fails a restore whose checksum is wrong, and cleans up", () =>
    Effect.gen(function*() {
      const backup = yield* Testing.backup(notes)
      const restore = yield* Testing.restore(notes, { fragments: backup, fault: { wrongChecksum: true } })
      expect(restore.answers[1]?.success).toBe(false)
      expect(restore.cleanedUp).toBe(true)
    }))

  it.effect("follows every rule of BRO's sequences", () =>
    Effect.gen(function*() {
      const report = yield* Testing.conformance(notes)
      expect(report.violations).toEqual([])
    }))
})
// README: end

describe("the README", () => {
  vitest("holds this file's example, as it is here", () => {
    const source = readFileSync(new URL(import.meta.url), "utf8")
    const example = source.slice(source.indexOf("// README: begin\n") + 17, source.indexOf("// README: end"))
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8")
    check(readme).toContain("```ts\n" + example + "```")
  })
})
