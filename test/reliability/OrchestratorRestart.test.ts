// The orchestrator stops in the middle of a transfer and comes back on the
// same port with the same storage: the development orchestrator, started in a
// scope the test closes mid-upload or mid-download, and our agent over real
// gRPC on loopback.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Ref, Schedule, Scope, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import type { CancelContext } from "../../src/behavior/AgentBehavior.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { behaviorWith } from "../support/agentHarness.js"
import * as FaultFileSystem from "../support/FaultFileSystem.js"
import { pollUntil, startAgentOn, tree, uploadFolders, within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { layerLive } from "../support/layers.js"
import { registration } from "../support/orchestratorHarness.js"

/** The development orchestrator on `port` (0: a free one); a port just freed may take a moment to bind again. */
const startOrchestrator = (storage: string, port = 0) =>
  Orchestrator.make({ port, storage, chunkSize: 16 * 1024, stageTimeout: "20 seconds" }).pipe(
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 40 })
  )

const awaitAgents = (orchestrator: Orchestrator.Orchestrator["Type"], count: number) =>
  pollUntil(`${count} registered agent(s)`, orchestrator.agents, (agents) => agents.length >= count)

const awaitAction = (orchestrator: Orchestrator.Orchestrator["Type"], actionId: string) =>
  within(`action ${actionId} to finish`)(orchestrator.awaitAction(actionId))

/** The typed error of a failed Exit. */
const failureOf = <A, E>(exit: Exit.Exit<A, E> | undefined): E | undefined =>
  exit !== undefined && Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

layerLive(NodeFileSystem.layer)("the orchestrator stops in the middle of a backup upload", (it) => {
  it.scoped("fails the upload with FailedToTransferBackup, keeps nothing of it, and backs up again once the orchestrator is back", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const storage = yield* FaultHygiene.tempFolder
      const first = yield* Scope.make()
      // Closed by the test; closed here too should the test fail before.
      yield* Effect.addFinalizer(() => Scope.close(first, Exit.void))
      const orchestrator = yield* startOrchestrator(storage).pipe(Scope.extend(first))
      const port = orchestrator.port
      const piece = randomBytes(1024)
      const afterRestart = randomBytes(50_000)
      const executions = yield* Ref.make(0)
      const uploads = yield* Ref.make<ReadonlyArray<Exit.Exit<Fragments.SentFragment, Fragments.FailedToTransferBackup>>>([])
      const cancels = yield* Ref.make<ReadonlyArray<CancelContext>>([])
      // The first backup's dump never ends by itself: a piece every 20 ms keeps the upload in flight
      // (and the test ends it, should it fail before the orchestrator stops).
      const testOver = yield* Deferred.make<void>()
      const endlessDump = Stream.repeatEffect(
        Effect.flatMap(Deferred.isDone(testOver), (over) =>
          over ? Effect.fail(new Error("the test is over")) : Effect.as(Effect.sleep("20 millis"), piece))
      )
      const agent = yield* startAgentOn(port, behaviorWith<Fragments.FailedToTransferBackup>({
        registration: registration("db-agent"),
        executeBackup: (context) =>
          Effect.gen(function*() {
            const run = yield* Ref.updateAndGet(executions, (count) => count + 1)
            const backupFile = run === 1
              ? Fragments.fromStream("dump.sql", endlessDump)
              : Fragments.fromBytes("dump.sql", afterRestart)
            // Uninterruptible, so that the behaviour sees how the upload itself ends, whichever of the
            // two calls (control stream, upload) the agent hears end first.
            const exit = yield* Effect.uninterruptible(
              context.sendFragment({ fragmentId: "db-agent_0", version: "1.0", backupFile }).pipe(
                Effect.exit,
                Effect.tap((exit) => Ref.update(uploads, (all) => [...all, exit]))
              )
            )
            return yield* exit
          }),
        cancel: (context) => Ref.update(cancels, (all) => [...all, context])
      }), { chunkSize: 1024 })
      yield* Effect.addFinalizer(() => Deferred.succeed(testOver, undefined))
      yield* awaitAgents(orchestrator, 1)
      const midway = yield* agent.progress.pipe(
        Stream.filter((progress) => progress.direction === "upload" && progress.bytesDone >= 8 * 1024),
        Stream.runHead,
        Effect.fork
      )

      yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "interrupted")
      yield* within("8 KiB of the upload")(Fiber.join(midway))
      // The orchestrator is writing the fragment.
      yield* pollUntil("the orchestrator's upload folder", uploadFolders(storage), (folders) => folders.length === 1)
      yield* within("the orchestrator to stop")(Scope.close(first, Exit.void))

      const [upload] = yield* pollUntil("the end of the upload", Ref.get(uploads), (all) => all.length >= 1)
      const error = failureOf(upload)
      expect(error).toMatchObject({ _tag: "FailedToTransferBackup", fragmentId: "db-agent_0", source: "stream \"dump.sql\"" })
      expect(error?.status).toBeDefined()
      expect(error?.status).not.toBe("OK")
      // The stage was dropped with the control stream: the agent ran its cancel step for the action.
      const [cancelled] = yield* pollUntil("the cancel step", Ref.get(cancels), (all) => all.length >= 1)
      expect(cancelled).toMatchObject({ action: "BACKUP", backupName: "interrupted" })
      // The stopped orchestrator kept nothing of the fragment.
      expect(yield* uploadFolders(storage)).toEqual([])

      const restarted = yield* startOrchestrator(storage, port)
      expect(restarted.port).toBe(port)
      yield* awaitAgents(restarted, 1)
      expect(yield* restarted.backup("DEFAULT", "interrupted")).toMatchObject({ status: "CORRUPTED", fragments: [] })
      const again = yield* restarted.startAction("DEFAULT", "CREATE_BACKUP", "after-restart")
      expect(yield* awaitAction(restarted, again.id)).toMatchObject({ result: "SUCCESS" })
      expect(yield* restarted.backup("DEFAULT", "after-restart")).toMatchObject({
        status: "COMPLETE",
        fragments: [{ agentId: "db-agent", fragmentId: "db-agent_0", backupFile: { name: "dump.sql", size: afterRestart.length } }]
      })
      const stored = yield* fs.readFile(yield* restarted.fragmentPath("DEFAULT", "after-restart", "db-agent", "db-agent_0"))
      expect(Buffer.from(stored).equals(afterRestart)).toBe(true)
    }))
})

layerLive(NodeFileSystem.layer)("the orchestrator stops in the middle of a restore download", (it) => {
  it.scoped("fails the download with FailedToDownload, leaves no partial file, and restores once the orchestrator is back", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const storage = yield* FaultHygiene.tempFolder
      const restoreFolder = join(yield* FaultHygiene.tempFolder, "restore")
      // Writes into the restore folder can be held, to stop the orchestrator while a download is half written.
      const disk = yield* FaultFileSystem.make({ appliesTo: (path) => path.startsWith(`${restoreFolder}/`) })
      const first = yield* Scope.make()
      // Closed by the test; closed here too should the test fail before.
      yield* Effect.addFinalizer(() => Scope.close(first, Exit.void))
      const orchestrator = yield* startOrchestrator(storage).pipe(Scope.extend(first))
      const port = orchestrator.port
      const dump = randomBytes(1024 * 1024)
      const downloads = yield* Ref.make<ReadonlyArray<Exit.Exit<unknown, Fragments.FailedToDownload>>>([])
      const cancels = yield* Ref.make<ReadonlyArray<CancelContext>>([])
      yield* startAgentOn(port, behaviorWith<Fragments.FailedToTransferBackup | Fragments.FailedToDownload>({
        registration: registration("db-agent"),
        executeBackup: (context) =>
          context.sendFragment({ fragmentId: "db-agent_0", version: "1.0", backupFile: Fragments.fromBytes("dump.bin", dump) }),
        executeRestore: (context) =>
          Effect.gen(function*() {
            // Uninterruptible, so that the behaviour sees how the download itself ends.
            const exit = yield* Effect.uninterruptible(
              Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, restoreFolder)).pipe(
                Effect.exit,
                Effect.tap((exit) => Ref.update(downloads, (all) => [...all, exit]))
              )
            )
            return yield* exit
          }),
        cancel: (context) => Ref.update(cancels, (all) => [...all, context])
      }), {}, disk.layer)
      // Should the test fail while a write is held, the agent can still stop.
      yield* Effect.addFinalizer(() => disk.heal)
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      expect(yield* awaitAction(orchestrator, backup.id)).toMatchObject({ result: "SUCCESS" })

      yield* disk.holdWritesAfter(64 * 1024)
      yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      yield* within("a write into the restore folder to be held")(disk.held)
      // Half written, under a temporary name.
      expect(yield* tree(restoreFolder)).toEqual([expect.stringMatching(/^\.bro-partial-/)])
      yield* within("the orchestrator to stop")(Scope.close(first, Exit.void))
      yield* disk.release

      const [download] = yield* pollUntil("the end of the download", Ref.get(downloads), (all) => all.length >= 1)
      const error = failureOf(download)
      expect(error).toMatchObject({ _tag: "FailedToDownload", fragmentId: "db-agent_0", fileName: "dump.bin" })
      expect(error?.status).toBeDefined()
      expect(error?.status).not.toBe("OK")
      expect(yield* tree(restoreFolder)).toEqual([])
      const [cancelled] = yield* pollUntil("the cancel step", Ref.get(cancels), (all) => all.length >= 1)
      expect(cancelled).toMatchObject({ action: "RESTORE", backupName: "nightly" })

      const restarted = yield* startOrchestrator(storage, port)
      yield* awaitAgents(restarted, 1)
      const restore = yield* restarted.startAction("DEFAULT", "RESTORE", "nightly")
      expect(yield* awaitAction(restarted, restore.id)).toMatchObject({ result: "SUCCESS" })
      expect(yield* tree(restoreFolder)).toEqual(["dump.bin"])
      expect(Buffer.from(yield* fs.readFile(join(restoreFolder, "dump.bin"))).equals(dump)).toBe(true)
      const again = yield* restarted.startAction("DEFAULT", "CREATE_BACKUP", "after-restart")
      expect(yield* awaitAction(restarted, again.id)).toMatchObject({ result: "SUCCESS" })
    }))
})

FaultHygiene.checkNothingLeftOpen()
