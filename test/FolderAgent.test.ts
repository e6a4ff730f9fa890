import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { folderAgent } from "../examples/FolderAgent.js"
import { awaitAgents, startAgent, startOrchestrator, tempFolder } from "./support/orchestratorHarness.js"
import { layerLive } from "./support/layers.js"

/** Every entry of `folder` (files and folders, hidden ones included), in order. */
const entries = (folder: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.map(fs.readDirectory(folder), (names) => names.sort()))

/** Backs `folder` up as `backupName` with the folder agent, and returns the orchestrator. */
const backedUp = (folder: string, backupName: string) =>
  Effect.gen(function*() {
    const orchestrator = yield* startOrchestrator(yield* tempFolder)
    yield* startAgent(orchestrator.port, yield* folderAgent({ agentId: "folder", folder }))
    yield* awaitAgents(orchestrator, 1)
    const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", backupName)
    expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
    return orchestrator
  })

const restored = (orchestrator: Effect.Effect.Success<ReturnType<typeof backedUp>>, backupName: string) =>
  Effect.flatMap(orchestrator.startAction("DEFAULT", "RESTORE", backupName), (restore) => orchestrator.awaitAction(restore.id))

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
      const orchestrator = yield* backedUp(folder, "b1")
      expect((yield* orchestrator.backup("DEFAULT", "b1")).fragments.length).toBe(3)

      yield* fs.writeFileString(join(folder, "a.txt"), "changed")
      yield* fs.remove(join(folder, "empty"))
      yield* fs.writeFileString(join(folder, "new.txt"), "new")
      expect((yield* restored(orchestrator, "b1")).result).toBe("SUCCESS")
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

  it.scoped("restores a user's x.meta.json as it was, beside a large x whose own metadata it never mixes up with it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      // x is large, so that its download ends after that of x.meta.json.
      yield* fs.writeFile(join(folder, "x"), randomBytes(4_000_000))
      yield* fs.writeFileString(join(folder, "x.meta.json"), "the user's own file")
      yield* fs.writeFileString(join(folder, "fragment.json"), "a name the agent uses")
      const before = yield* files(folder)
      const orchestrator = yield* backedUp(folder, "b1")

      yield* fs.writeFileString(join(folder, "x.meta.json"), "changed")
      yield* fs.writeFileString(join(folder, "x"), "changed")
      yield* fs.remove(join(folder, "fragment.json"))
      expect((yield* restored(orchestrator, "b1")).result).toBe("SUCCESS")
      expect(yield* files(folder)).toEqual(before)
    }))

  it.scoped("keeps a user's file named .restore-<backup>, and restores it like any other", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, ".restore-b1"), "the user's own file")
      yield* fs.writeFileString(join(folder, "a.txt"), "alpha")
      const before = yield* files(folder)
      const orchestrator = yield* backedUp(folder, "b1")

      yield* fs.writeFileString(join(folder, "a.txt"), "changed")
      const restore = yield* restored(orchestrator, "b1")
      expect(restore.result).toBe("SUCCESS")
      expect(yield* files(folder)).toEqual(before)
    }))

  it.scoped("leaves the folder as it was, and no staging folder, when a stored fragment is corrupted", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "a.txt"), "alpha")
      yield* fs.writeFile(join(folder, "b.bin"), randomBytes(2_000_000))
      const orchestrator = yield* backedUp(folder, "b1")
      const record = yield* orchestrator.backup("DEFAULT", "b1")
      const large = record.fragments.find((fragment) => fragment.backupFile.name === "b.bin")
      expect(large).toBeDefined()
      const stored = yield* orchestrator.fragmentPath("DEFAULT", "b1", "folder", large?.fragmentId ?? "")
      yield* fs.writeFile(stored, randomBytes(2_000_000))

      yield* fs.writeFileString(join(folder, "a.txt"), "changed")
      yield* fs.writeFileString(join(folder, "c.txt"), "added")
      const changed = yield* files(folder)
      const restore = yield* restored(orchestrator, "b1")
      expect(restore.result).toBe("FAILURE")
      expect(yield* files(folder)).toEqual(changed)
      expect(yield* entries(folder)).toEqual(["a.txt", "b.bin", "c.txt"])
    }))
})
