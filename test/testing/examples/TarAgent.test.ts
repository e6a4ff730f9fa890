// The example tar agent, put through the test kit. It runs the real tar,
// so the kit runs it on the live clock (its default).
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { Testing } from "bro-agent/testing"
import { tarAgent } from "../../../examples/TarAgent.js"

const folderWith = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const parent = yield* fs.makeTempDirectoryScoped({ prefix: "kit-tar-" })
    const folder = join(parent, "data")
    yield* fs.makeDirectory(folder)
    for (const [name, text] of Object.entries(files)) yield* fs.writeFileString(join(folder, name), text)
    return folder
  })

layer(NodeContext.layer)("the example tar agent, through the test kit", (it) => {
  it.scoped("backs up the folder as one tar fragment and restores it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* folderWith({ "a.txt": "alpha", "b.txt": "beta".repeat(100_000) })
      const agent = tarAgent({ agentId: "tar", folder })
      const backup = yield* Testing.backup(agent)
      expect(backup.succeeded).toBe(true)
      expect(backup.fragments).toHaveLength(1)
      expect(backup.fragments[0]?.backupFile?.checksumVerified).toBe(true)

      yield* fs.writeFileString(join(folder, "a.txt"), "changed")
      const restore = yield* Testing.restore(agent, { fragments: backup, restoreFolder: folder })
      expect(restore.succeeded).toBe(true)
      expect(yield* fs.readFileString(join(folder, "a.txt"))).toBe("alpha")
    }))

  it.scoped("leaves the folder as it was when the restore's download is aborted half-way", () =>
    Effect.gen(function*() {
      const folder = yield* folderWith({ "a.txt": "alpha", "b.txt": "beta".repeat(100_000) })
      const agent = tarAgent({ agentId: "tar", folder })
      const backup = yield* Testing.backup(agent)
      const restore = yield* Testing.restore(agent, { fragments: backup, restoreFolder: folder, fault: { abortAt: 200_000 } })
      expect(restore.answers.map((answer) => [answer.step, answer.success])).toEqual([
        ["PREPARATION", true],
        ["EXECUTION", false],
        ["CANCEL", true]
      ])
      expect(restore.cleanedUp).toBe(true)
    }))

  it.scoped("cancels a backup part-way through its upload", () =>
    Effect.gen(function*() {
      const folder = yield* folderWith({ "b.txt": "beta".repeat(300_000) })
      const backup = yield* Testing.backup(tarAgent({ agentId: "tar", folder }), {
        cancel: { stage: "EXECUTION", afterBytes: 100_000 },
        agent: { chunkSize: 64 * 1024 }
      })
      expect(backup.answers.map((answer) => answer.step)).toEqual(["PREPARATION", "CANCEL"])
      expect(backup.fragments.map((fragment) => fragment.outcome)).toEqual(["cancelled"])
      expect(backup.violations).toEqual([])
    }))

  it.scoped("follows every rule of the orchestrator's sequences", () =>
    Effect.gen(function*() {
      const folder = yield* folderWith({ "a.txt": "alpha", "b.txt": "beta".repeat(100_000) })
      const report = yield* Testing.conformance(tarAgent({ agentId: "tar", folder }), { restoreFolder: folder })
      expect(report.violations).toEqual([])
    }))
})
