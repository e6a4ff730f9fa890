// The disk fills up during a restore: the agent's FileSystem is the real one
// with writes into the restore folder failing with ENOSPC after 100 KiB.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Ref } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import type { CancelContext } from "../../src/behavior/AgentBehavior.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { behaviorWith } from "../support/agentHarness.js"
import * as FaultFileSystem from "../support/FaultFileSystem.js"
import { pollUntil, startAgentOn, tree, uploadFolders, within, recordingDumpAgent } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { layerLive } from "../support/layers.js"
import { registration } from "../support/orchestratorHarness.js"

layerLive(NodeFileSystem.layer)("the disk fills up during a restore", (it) => {
  it.scoped("fails the download with FailedToDownload naming ENOSPC, keeps the earlier file whole, and restores once there is room", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const storage = yield* FaultHygiene.tempFolder
      const restoreFolder = join(yield* FaultHygiene.tempFolder, "restore")
      yield* fs.makeDirectory(restoreFolder)
      yield* fs.writeFileString(join(restoreFolder, "dump.bin"), "the previous restore")
      const disk = yield* FaultFileSystem.make({ appliesTo: (path) => path.startsWith(`${restoreFolder}/`) })
      const orchestrator = yield* Orchestrator.make({ port: 0, storage, chunkSize: 16 * 1024, stageTimeout: "20 seconds" })
      const dump = randomBytes(300_000)
      const { behavior, downloads, cancels } = yield* recordingDumpAgent(dump, restoreFolder)
      yield* startAgentOn(orchestrator.port, behavior, {}, disk.layer)
      yield* pollUntil("the agent to register", orchestrator.agents, (agents) => agents.length === 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      expect(yield* within("the backup")(orchestrator.awaitAction(backup.id))).toMatchObject({ result: "SUCCESS" })

      yield* disk.failWritesAfter(100 * 1024)
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      const failed = yield* within("the restore")(orchestrator.awaitAction(restore.id))

      const [download] = yield* Ref.get(downloads)
      const error = download !== undefined && Exit.isFailure(download)
        ? Option.getOrUndefined(Cause.failureOption(download.cause))
        : undefined
      expect(error).toMatchObject({
        _tag: "FailedToDownload",
        fragmentId: "db-agent_0",
        fileName: "dump.bin",
        detail: expect.stringContaining("ENOSPC: no space left on device"),
        cause: { _tag: "SystemError", method: "writeAll" }
      })
      // The disk filled in the middle of the file, not before it.
      expect(yield* disk.bytesWritten).toBe(100 * 1024)
      // No partial file, and the file of the earlier restore is whole.
      expect(yield* tree(restoreFolder)).toEqual(["dump.bin"])
      expect(yield* fs.readFileString(join(restoreFolder, "dump.bin"))).toBe("the previous restore")
      // The orchestrator is told why.
      expect(failed).toMatchObject({
        result: "FAILURE",
        progressInfo: expect.stringMatching(
          /^Agent db-agent failed at stage EXECUTION: Failed to download fragment db-agent_0 \(dump\.bin\): .*ENOSPC: no space left on device/
        )
      })
      expect((yield* Ref.get(cancels)).map((context) => context.action)).toEqual(["RESTORE"])

      yield* disk.heal
      const again = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      expect(yield* within("the second restore")(orchestrator.awaitAction(again.id))).toMatchObject({ result: "SUCCESS" })
      expect(yield* tree(restoreFolder)).toEqual(["dump.bin"])
      expect(Buffer.from(yield* fs.readFile(join(restoreFolder, "dump.bin"))).equals(dump)).toBe(true)
    }))
})

layerLive(NodeFileSystem.layer)("the orchestrator's disk fills up during a backup upload", (it) => {
  it.scoped("refuses the fragment with ABORTED naming ENOSPC, keeps nothing of it, and marks the backup CORRUPTED", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      // The orchestrator's own file system: writes into upload folders fail after 100 KiB.
      const disk = yield* FaultFileSystem.make({ appliesTo: (path) => path.includes("/.upload-") })
      yield* disk.failWritesAfter(100 * 1024)
      const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "20 seconds" }).pipe(
        Effect.provide(disk.layer)
      )
      const uploads = yield* Ref.make<ReadonlyArray<Exit.Exit<Fragments.SentFragment, Fragments.FailedToTransferBackup>>>([])
      const cancels = yield* Ref.make<ReadonlyArray<CancelContext>>([])
      yield* startAgentOn(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup>({
        registration: registration("db-agent"),
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: "db-agent_0",
            version: "1.0",
            backupFile: Fragments.fromBytes("dump.bin", randomBytes(1024 * 1024))
          }).pipe(Effect.onExit((exit) => Ref.update(uploads, (all) => [...all, exit]))),
        cancel: (context) => Ref.update(cancels, (all) => [...all, context])
      }))
      yield* pollUntil("the agent to register", orchestrator.agents, (agents) => agents.length === 1)

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      const failed = yield* within("the backup")(orchestrator.awaitAction(backup.id))

      const [upload] = yield* Ref.get(uploads)
      const error = upload !== undefined && Exit.isFailure(upload)
        ? Option.getOrUndefined(Cause.failureOption(upload.cause))
        : undefined
      expect(error).toMatchObject({
        _tag: "FailedToTransferBackup",
        fragmentId: "db-agent_0",
        status: "ABORTED",
        detail: expect.stringContaining("ENOSPC: no space left on device")
      })
      expect(failed).toMatchObject({
        result: "FAILURE",
        progressInfo: expect.stringMatching(/^Agent db-agent failed at stage EXECUTION: .*ENOSPC: no space left on device/)
      })
      expect(yield* orchestrator.backup("DEFAULT", "nightly")).toMatchObject({ status: "CORRUPTED", fragments: [] })
      expect(yield* uploadFolders(storage)).toEqual([])
      expect((yield* Ref.get(cancels)).map((context) => context.action)).toEqual(["BACKUP"])
    }))
})

FaultHygiene.checkNothingLeftOpen()
