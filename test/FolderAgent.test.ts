import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { folderAgent } from "../examples/FolderAgent.js"
import { awaitAgents, startAgent, startOrchestrator, tempFolder } from "./support/orchestratorHarness.js"
import { layerLive } from "./support/layers.js"

const files = (folder: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const entries: Array<[string, string]> = []
    for (const name of (yield* fs.readDirectory(folder)).sort()) {
      entries.push([name, Buffer.from(yield* fs.readFile(join(folder, name))).toString("base64")])
    }
    return entries
  })

layerLive(NodeFileSystem.layer)("the example folder agent", (it) => {
  it.scoped("restores its folder as it was at the backup: edited, deleted and added files included", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "a.txt"), "alpha")
      yield* fs.writeFile(join(folder, "b.bin"), new Uint8Array(700_000).map((_, index) => index % 251))
      yield* fs.writeFile(join(folder, "empty"), new Uint8Array(0))
      const before = yield* files(folder)
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      yield* startAgent(orchestrator.port, yield* folderAgent({ agentId: "folder", folder }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "b1")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      expect((yield* orchestrator.backup("DEFAULT", "b1")).fragments.length).toBe(3)

      yield* fs.writeFileString(join(folder, "a.txt"), "changed")
      yield* fs.remove(join(folder, "empty"))
      yield* fs.writeFileString(join(folder, "new.txt"), "new")
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "b1")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      expect(yield* files(folder)).toEqual(before)
    }))

  it.scoped("refuses to restore a backup made by another major version", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "a.txt"), "alpha")
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const first = yield* Effect.scoped(Effect.gen(function*() {
        yield* startAgent(orchestrator.port, yield* folderAgent({ agentId: "folder", folder, version: "1.4.0" }))
        yield* awaitAgents(orchestrator, 1)
        const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "old")
        return yield* orchestrator.awaitAction(backup.id)
      }))
      expect(first.result).toBe("SUCCESS")
      yield* orchestrator.agents.pipe(Effect.repeat({ until: (agents) => agents.length === 0 }))
      yield* startAgent(orchestrator.port, yield* folderAgent({ agentId: "folder", folder, version: "2.0.0" }))
      yield* awaitAgents(orchestrator, 1)
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "old")
      const finished = yield* orchestrator.awaitAction(restore.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe(
        "Agent folder failed at stage PREPARATION: Backup old was made by version 1.4.0, this is 2.0.0"
      )
      expect(yield* fs.readFileString(join(folder, "a.txt"))).toBe("alpha")
    }))
})
