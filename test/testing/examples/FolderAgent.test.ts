// The example folder agent, put through the test kit.
import { FileSystem } from "@effect/platform"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { Testing } from "bro-agent/testing"
import { folderAgent } from "../../../examples/FolderAgent.js"

const folderWith = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const folder = yield* fs.makeTempDirectoryScoped({ prefix: "kit-folder-" })
    for (const [name, text] of Object.entries(files)) yield* fs.writeFileString(join(folder, name), text)
    return folder
  })

layer(Testing.layer)("the example folder agent, through the test kit", (it) => {
  it.scoped("backs up each file as a fragment and restores the folder as it was", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* folderWith({ "a.txt": "alpha", "b.txt": "beta".repeat(50_000) })
      const agent = folderAgent({ agentId: "folder", folder })
      const backup = yield* Testing.backup(agent)
      expect(backup.succeeded).toBe(true)
      expect(backup.fragments.map((fragment) => [fragment.backupFile?.name, fragment.backupFile?.checksumVerified])).toEqual([
        ["a.txt", true],
        ["b.txt", true]
      ])

      yield* fs.writeFileString(join(folder, "a.txt"), "changed")
      const restore = yield* Testing.restore(agent, { fragments: backup, restoreFolder: folder })
      expect(restore.succeeded).toBe(true)
      expect(restore.folderChanges.changed).toEqual(["a.txt"])
      expect(yield* fs.readFileString(join(folder, "a.txt"))).toBe("alpha")
      expect(restore.violations).toEqual([])
    }))

  it.scoped("leaves the folder as it was when the restore is cancelled part-way through a download", () =>
    Effect.gen(function*() {
      const folder = yield* folderWith({ "a.txt": "alpha", "b.txt": "beta".repeat(50_000) })
      const agent = folderAgent({ agentId: "folder", folder })
      const backup = yield* Testing.backup(agent)
      const restore = yield* Testing.restore(agent, {
        fragments: backup,
        restoreFolder: folder,
        cancel: { stage: "EXECUTION", afterBytes: 100_000 }
      })
      expect(restore.answers.map((answer) => [answer.step, answer.success])).toEqual([["PREPARATION", true], ["CANCEL", true]])
      expect(restore.cleanedUp).toBe(true)
    }))

  it.scoped("follows every rule of the orchestrator's sequences", () =>
    Effect.gen(function*() {
      const folder = yield* folderWith({ "a.txt": "alpha", "b.txt": "beta".repeat(50_000) })
      const report = yield* Testing.conformance(folderAgent({ agentId: "folder", folder }), { restoreFolder: folder })
      expect(report.violations).toEqual([])
    }))
})
