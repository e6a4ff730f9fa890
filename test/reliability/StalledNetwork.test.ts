// The network path between the agent and the orchestrator stalls in the
// middle of an upload: a FaultProxy between them stops forwarding. The agent's
// data-channel timeout fires, the backup fails, and the agent recovers when the
// path moves again or is replaced.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Ref, Stream } from "effect"
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
import * as FaultProxy from "../support/FaultProxy.js"
import { registration } from "../support/orchestratorHarness.js"

const awaitAgents = (orchestrator: Orchestrator.Orchestrator["Type"], count: number) =>
  pollUntil(`${count} registered agent(s)`, orchestrator.agents, (agents) => agents.length >= count)

const awaitAction = (orchestrator: Orchestrator.Orchestrator["Type"], actionId: string) =>
  within(`action ${actionId} to finish`)(orchestrator.awaitAction(actionId))

/**
 * An orchestrator, a proxy in front of it, and an agent that reaches it
 * through the proxy with a data-channel timeout of 1 second. The agent's
 * first backup sends a dump that never ends (16 KiB every 10 ms); later
 * ones send 50 KB at once. Every upload's end is recorded.
 */
const setUp = Effect.gen(function*() {
  const storage = yield* FaultHygiene.tempFolder
  const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "20 seconds" })
  const proxy = yield* FaultProxy.make({ targetPort: orchestrator.port })
  const piece = randomBytes(16 * 1024)
  const later = randomBytes(50_000)
  const testOver = yield* Deferred.make<void>()
  const endlessDump = Stream.repeatEffect(
    Effect.flatMap(Deferred.isDone(testOver), (over) =>
      over ? Effect.fail(new Error("the test is over")) : Effect.as(Effect.sleep("10 millis"), piece))
  )
  const executions = yield* Ref.make(0)
  const uploads = yield* Ref.make<ReadonlyArray<Exit.Exit<Fragments.SentFragment, Fragments.FailedToTransferBackup>>>([])
  const cancels = yield* Ref.make<ReadonlyArray<CancelContext>>([])
  const agent = yield* startAgentOn(proxy.port, behaviorWith<Fragments.FailedToTransferBackup>({
    registration: registration("db-agent"),
    executeBackup: (context) =>
      Effect.gen(function*() {
        const run = yield* Ref.updateAndGet(executions, (count) => count + 1)
        const backupFile = run === 1 ? Fragments.fromStream("dump.sql", endlessDump) : Fragments.fromBytes("dump.sql", later)
        return yield* context.sendFragment({ fragmentId: "db-agent_0", version: "1.0", backupFile }).pipe(
          Effect.onExit((exit) => Ref.update(uploads, (all) => [...all, exit]))
        )
      }),
    cancel: (context) => Ref.update(cancels, (all) => [...all, context])
  }), { dataChannelTimeout: "1 second", chunkSize: 16 * 1024 })
  yield* Effect.addFinalizer(() => Deferred.succeed(testOver, undefined))
  yield* awaitAgents(orchestrator, 1)
  return { storage, orchestrator, proxy, agent, later, uploads, cancels }
})

type SetUp = Effect.Effect.Success<typeof setUp>

/** Starts a backup, stalls the proxy once 64 KiB went through, and waits for the upload's end. */
const stallMidUpload = ({ agent, orchestrator, proxy, storage, uploads }: SetUp) =>
  Effect.gen(function*() {
    const midway = yield* agent.progress.pipe(
      Stream.filter((progress) => progress.direction === "upload" && progress.bytesDone >= 64 * 1024),
      Stream.runHead,
      Effect.fork
    )
    const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "stalled")
    yield* within("64 KiB of the upload")(Fiber.join(midway))
    yield* proxy.stall
    const [upload] = yield* pollUntil("the end of the upload", Ref.get(uploads), (all) => all.length >= 1)
    const error = upload !== undefined && Exit.isFailure(upload) ? Option.getOrUndefined(Cause.failureOption(upload.cause)) : undefined
    expect(error).toMatchObject({
      _tag: "FailedToTransferBackup",
      fragmentId: "db-agent_0",
      detail: expect.stringMatching(/^No progress on the data channel for 1s while waiting for /),
      cause: { _tag: "DataChannelTimeout" }
    })
    // The orchestrator is still busy with the fragment: the bytes and the cancel are stuck in the path.
    expect((yield* uploadFolders(storage)).length).toBe(1)
    return backup
  })

/** The stalled backup failed and kept nothing; a new one succeeds with the fragment stored in full. */
const recovered = ({ orchestrator, storage, later }: SetUp, stalledActionId: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    expect(yield* awaitAction(orchestrator, stalledActionId)).toMatchObject({ result: "FAILURE" })
    expect(yield* orchestrator.backup("DEFAULT", "stalled")).toMatchObject({ status: "CORRUPTED", fragments: [] })
    yield* pollUntil("the upload folder to go", uploadFolders(storage), (folders) => folders.length === 0)
    const next = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "after-stall")
    expect(yield* awaitAction(orchestrator, next.id)).toMatchObject({ result: "SUCCESS" })
    const stored = yield* fs.readFile(yield* orchestrator.fragmentPath("DEFAULT", "after-stall", "db-agent", "db-agent_0"))
    expect(Buffer.from(stored).equals(later)).toBe(true)
  })

layerLive(NodeFileSystem.layer)("a network path that stalls in the middle of an upload", (it) => {
  it.scoped("fails the upload on the data-channel timeout, then backs up again once the path moves again", () =>
    Effect.gen(function*() {
      const test = yield* setUp
      const stalled = yield* stallMidUpload(test)
      yield* test.proxy.resume
      // What waited in the path arrives: the cancelled upload and the failed stage; the orchestrator
      // fails the backup and tells the agent to cancel.
      const [cancelled] = yield* pollUntil("the cancel step", Ref.get(test.cancels), (all) => all.length >= 1)
      expect(cancelled).toMatchObject({ action: "BACKUP", backupName: "stalled" })
      yield* recovered(test, stalled.id)
      expect((yield* test.orchestrator.action("DEFAULT", stalled.id)).progressInfo).toMatch(
        /^Agent db-agent failed at stage EXECUTION: /
      )
    }))

  it.scoped("fails the upload on the data-channel timeout, then registers again and backs up through a new path", () =>
    Effect.gen(function*() {
      const test = yield* setUp
      const stalled = yield* stallMidUpload(test)
      // The stalled path is gone; a new one opens on the same port.
      yield* test.proxy.close
      const replacement = yield* FaultProxy.make({ targetPort: test.orchestrator.port, port: test.proxy.port })
      expect(replacement.port).toBe(test.proxy.port)
      expect(yield* awaitAction(test.orchestrator, stalled.id)).toMatchObject({
        result: "FAILURE",
        progressInfo: "Agent db-agent failed at stage EXECUTION: Agent Disconnected"
      })
      yield* awaitAgents(test.orchestrator, 1)
      yield* recovered(test, stalled.id)
      expect(yield* replacement.openConnections).toBeGreaterThan(0)
    }))
})

layerLive(NodeFileSystem.layer)("a network path that stalls in the middle of a restore download", (it) => {
  it.scoped("fails the download on the data-channel timeout, leaves no partial file, and restores once the path moves again", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const storage = yield* FaultHygiene.tempFolder
      const restoreFolder = join(yield* FaultHygiene.tempFolder, "restore")
      // Writes into the restore folder can be held, to stall the path while a download is half written.
      const disk = yield* FaultFileSystem.make({ appliesTo: (path) => path.startsWith(`${restoreFolder}/`) })
      const orchestrator = yield* Orchestrator.make({ port: 0, storage, chunkSize: 16 * 1024, stageTimeout: "20 seconds" })
      const proxy = yield* FaultProxy.make({ targetPort: orchestrator.port })
      const dump = randomBytes(1024 * 1024)
      const { behavior, downloads, cancels } = yield* recordingDumpAgent(dump, restoreFolder)
      yield* startAgentOn(proxy.port, behavior, { dataChannelTimeout: "1 second" }, disk.layer)
      yield* Effect.addFinalizer(() => disk.heal)
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      expect(yield* awaitAction(orchestrator, backup.id)).toMatchObject({ result: "SUCCESS" })

      yield* disk.holdWritesAfter(64 * 1024)
      const stalled = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      yield* within("a write into the restore folder to be held")(disk.held)
      yield* proxy.stall
      yield* disk.release
      const [download] = yield* pollUntil("the end of the download", Ref.get(downloads), (all) => all.length >= 1)
      const error = download !== undefined && Exit.isFailure(download)
        ? Option.getOrUndefined(Cause.failureOption(download.cause))
        : undefined
      expect(error).toMatchObject({
        _tag: "FailedToDownload",
        fragmentId: "db-agent_0",
        fileName: "dump.bin",
        detail: "No progress on the data channel for 1s while waiting for the orchestrator's next chunk",
        cause: { _tag: "DataChannelTimeout" }
      })
      expect(yield* tree(restoreFolder)).toEqual([])

      yield* proxy.resume
      expect(yield* awaitAction(orchestrator, stalled.id)).toMatchObject({
        result: "FAILURE",
        progressInfo: expect.stringMatching(/^Agent db-agent failed at stage EXECUTION: Failed to download fragment db-agent_0 \(dump\.bin\): No progress/)
      })
      expect((yield* Ref.get(cancels)).map((context) => context.action)).toEqual(["RESTORE"])
      const again = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      expect(yield* awaitAction(orchestrator, again.id)).toMatchObject({ result: "SUCCESS" })
      expect(Buffer.from(yield* fs.readFile(join(restoreFolder, "dump.bin"))).equals(dump)).toBe(true)
    }))
})

FaultHygiene.checkNothingLeftOpen()
