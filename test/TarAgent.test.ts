import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { tarAgent } from "../examples/TarAgent.js"
import { awaitAgents, startAgent, startOrchestrator, tempFolder } from "./support/orchestratorHarness.js"
import { layerLive } from "./support/layers.js"

layerLive(NodeContext.layer)("the example tar agent", (it) => {
  it.scoped("streams a folder through tar to the orchestrator and back, with no archive on disk", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* tempFolder
      const folder = join(root, "data")
      yield* fs.makeDirectory(join(folder, "nested"), { recursive: true })
      const blob = randomBytes(1_500_000)
      yield* fs.writeFile(join(folder, "nested", "blob.bin"), blob)
      yield* fs.writeFileString(join(folder, "a.txt"), "alpha")
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      yield* startAgent(orchestrator.port, yield* tarAgent({ agentId: "tar-agent", folder }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "tarred")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      const [fragment] = (yield* orchestrator.backup("DEFAULT", "tarred")).fragments
      expect(fragment?.backupFile.name).toBe("folder.tar")
      expect(fragment?.sizeInBytes).toBe("0")
      expect(yield* fs.readDirectory(root)).toEqual(["data"])

      yield* fs.remove(join(folder, "a.txt"))
      yield* fs.writeFileString(join(folder, "nested", "blob.bin"), "overwritten")
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "tarred")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      expect(yield* fs.readFileString(join(folder, "a.txt"))).toBe("alpha")
      expect(Buffer.from(yield* fs.readFile(join(folder, "nested", "blob.bin"))).equals(blob)).toBe(true)
      expect(yield* fs.readDirectory(root)).toEqual(["data"])
    }))

  it.scoped("fails the backup, rather than sending a truncated archive, when tar fails", () =>
    Effect.gen(function*() {
      const root = yield* tempFolder
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      yield* startAgent(orchestrator.port, yield* tarAgent({ agentId: "tar-agent", folder: join(root, "missing") }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "broken")
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toContain("tar -c failed: exit code 2")
      expect((yield* orchestrator.backup("DEFAULT", "broken")).fragments).toEqual([])
    }))
})
