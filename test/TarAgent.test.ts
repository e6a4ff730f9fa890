import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { NodeContext } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect, Ref, Schedule, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import type { OrchestratorEvent } from "../orchestrator/Model.js"
import { tarAgent } from "../examples/TarAgent.js"
import { awaitAgents, startAgent, startOrchestrator, tempFolder } from "./support/orchestratorHarness.js"
import { layerLive } from "./support/layers.js"

/** Each entry under `folder`, with its size and MD5 for a file: what a restore must leave or bring back. */
const snapshot = (folder: string): Effect.Effect<ReadonlyArray<string>, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const lines: Array<string> = []
    for (const name of (yield* fs.readDirectory(folder, { recursive: true })).sort()) {
      const info = yield* fs.stat(join(folder, name))
      lines.push(
        info.type === "File"
          ? `${name} ${info.size} ${createHash("md5").update(yield* fs.readFile(join(folder, name))).digest("hex")}`
          : `${name}/`
      )
    }
    return lines
  })

/** The pids of the tar processes whose arguments name `path`. */
const tarsUnder = (path: string) =>
  readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      return args[0] === "tar" && args.some((arg) => arg.startsWith(path))
    } catch {
      return false // gone meanwhile
    }
  })

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
      expect(finished.progressInfo).toContain("tar -c -C " + join(root, "missing") + " . exited with status 2: tar: ")
      expect((yield* orchestrator.backup("DEFAULT", "broken")).fragments).toEqual([])
    }))

  it.scoped("stops the download and tar when a restore is cancelled half-way, and leaves the folder as it was and nothing beside it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* tempFolder
      const folder = join(root, "data")
      yield* fs.makeDirectory(folder)
      // 192 MiB: the restore takes long enough for the cancel to land while tar extracts.
      const block = randomBytes(1024 * 1024)
      const big = yield* fs.open(join(folder, "big.bin"), { flag: "w" })
      for (let index = 0; index < 192; index++) yield* big.writeAll(block)
      yield* fs.writeFileString(join(folder, "a.txt"), "alpha")
      const backedUp = yield* snapshot(folder)

      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const events = yield* Ref.make<ReadonlyArray<OrchestratorEvent>>([])
      yield* Effect.forkScoped(Stream.runForEach(orchestrator.events, (event) => Ref.update(events, (all) => [...all, event])))
      yield* startAgent(orchestrator.port, yield* tarAgent({ agentId: "tar-agent", folder }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "large")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")

      yield* fs.remove(join(folder, "a.txt"))
      yield* fs.writeFileString(join(folder, "c.txt"), "added after the backup")
      const changed = yield* snapshot(folder)

      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "large")
      // tar has begun writing the big file into the staging folder beside the folder.
      yield* Effect.sync(() =>
        readdirSync(root, { recursive: true, encoding: "utf8" }).some((path) => {
          if (path.startsWith("data") || !path.endsWith("big.bin")) return false
          try {
            return statSync(join(root, path)).size > 0
          } catch {
            return false
          }
        })
      ).pipe(Effect.filterOrFail((extracting) => extracting), Effect.retry(Schedule.spaced("5 millis")))
      const cancelled = yield* orchestrator.cancelAction(restore.id).pipe(Effect.either)
      expect(cancelled._tag, "the restore was still running when cancelled").toBe("Right")
      const finished = yield* orchestrator.awaitAction(restore.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe("Cancelled by the user")
      const answers = yield* Ref.get(events).pipe(
        Effect.map((all) => all.filter((event) => "actionId" in event && event.actionId === restore.id)),
        Effect.map((all) => all.filter((event) => event._tag === "StageCompleted" && event.stage === "CANCEL"))
      )
      expect(answers).toMatchObject([{ agentId: "tar-agent", success: true }])

      expect(tarsUnder(root)).toEqual([])
      expect(yield* fs.readDirectory(root)).toEqual(["data"])
      expect(yield* snapshot(folder)).toEqual(changed)
      expect((yield* orchestrator.agents).map((agent) => agent.agentId)).toEqual(["tar-agent"])

      // The agent restores the same backup to its end next time.
      const again = yield* orchestrator.startAction("DEFAULT", "RESTORE", "large")
      expect((yield* orchestrator.awaitAction(again.id)).result).toBe("SUCCESS")
      expect(yield* snapshot(folder)).toEqual(backedUp)
      expect(yield* fs.readDirectory(root)).toEqual(["data"])
    }), 120_000)
})
