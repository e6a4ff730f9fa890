// A stage's Effect never ends, and the user cancels the action on the
// development orchestrator (`cancelAction`): the agent interrupts the stage,
// closes what it held, runs its cancel step, and takes the next action.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Deferred, Effect, Ref } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import type { CancelContext } from "../../src/behavior/AgentBehavior.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { behaviorWith } from "../support/agentHarness.js"
import * as FaultFileSystem from "../support/FaultFileSystem.js"
import { pollUntil, startAgentOn, tree, within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { layerLive } from "../support/layers.js"
import { registration } from "../support/orchestratorHarness.js"

const startOrchestrator = Effect.flatMap(FaultHygiene.tempFolder, (storage) =>
  Orchestrator.make({ port: 0, storage, chunkSize: 16 * 1024, stageTimeout: "20 seconds" }))

const awaitAction = (orchestrator: Orchestrator.Orchestrator["Type"], actionId: string) =>
  within(`action ${actionId} to finish`)(orchestrator.awaitAction(actionId))

layerLive(NodeFileSystem.layer)("a stage that never ends, then a cancel", (it) => {
  it.scoped("interrupts a backup execution that never ends, then runs the cancel step, and backs up again", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator
      const steps = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (step: string) => Ref.update(steps, (all) => [...all, step])
      const started = yield* Deferred.make<void>()
      const executions = yield* Ref.make(0)
      const cancels = yield* Ref.make<ReadonlyArray<CancelContext>>([])
      yield* startAgentOn(orchestrator.port, behaviorWith({
        registration: registration("db-agent"),
        executeBackup: () =>
          Effect.flatMap(Ref.updateAndGet(executions, (count) => count + 1), (run) =>
            run === 1
              ? note("execution started").pipe(
                Effect.zipRight(Deferred.succeed(started, undefined)),
                Effect.zipRight(Effect.never),
                Effect.onInterrupt(() => note("execution interrupted"))
              )
              : note("second execution")),
        cancel: (context) => note("cancel step").pipe(Effect.zipRight(Ref.update(cancels, (all) => [...all, context])))
      }))
      yield* pollUntil("the agent to register", orchestrator.agents, (agents) => agents.length === 1)

      const stuck = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "stuck")
      yield* within("the execution to start")(Deferred.await(started))
      yield* orchestrator.cancelAction(stuck.id)
      expect(yield* awaitAction(orchestrator, stuck.id)).toMatchObject({ result: "FAILURE", progressInfo: "Cancelled by the user" })
      // The orchestrator waited for the cancel's answer, so the cancel step has run by now.
      expect(yield* Ref.get(steps)).toEqual(["execution started", "execution interrupted", "cancel step"])
      expect(yield* Ref.get(cancels)).toMatchObject([{ action: "BACKUP", backupName: "stuck" }])
      expect(yield* orchestrator.backup("DEFAULT", "stuck")).toMatchObject({ status: "CORRUPTED" })

      const next = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "after-cancel")
      expect(yield* awaitAction(orchestrator, next.id)).toMatchObject({ result: "SUCCESS" })
      expect(yield* Ref.get(steps)).toEqual(["execution started", "execution interrupted", "cancel step", "second execution"])
    }))

  it.scoped("interrupts a restore execution stuck in the middle of a download, removes the partial file, and restores again", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const restoreFolder = join(yield* FaultHygiene.tempFolder, "restore")
      // A write that never completes: the download, and so the stage, never ends by itself.
      const disk = yield* FaultFileSystem.make({ appliesTo: (path) => path.startsWith(`${restoreFolder}/`) })
      const orchestrator = yield* startOrchestrator
      const dump = randomBytes(300_000)
      const steps = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (step: string) => Ref.update(steps, (all) => [...all, step])
      yield* startAgentOn(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup | Fragments.FailedToDownload>({
        registration: registration("db-agent"),
        executeBackup: (context) =>
          context.sendFragment({ fragmentId: "db-agent_0", version: "1.0", backupFile: Fragments.fromBytes("dump.bin", dump) }),
        executeRestore: (context) =>
          Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, restoreFolder)).pipe(
            Effect.onInterrupt(() => note("restore interrupted"))
          ),
        cancel: (context) => note(`cancel step for ${context.action} ${context.backupName}`)
      }), {}, disk.layer)
      yield* Effect.addFinalizer(() => disk.heal)
      yield* pollUntil("the agent to register", orchestrator.agents, (agents) => agents.length === 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      expect(yield* awaitAction(orchestrator, backup.id)).toMatchObject({ result: "SUCCESS" })

      yield* disk.holdWritesAfter(64 * 1024)
      const stuck = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      yield* within("a write into the restore folder to be held")(disk.held)
      expect(yield* tree(restoreFolder)).toEqual([expect.stringMatching(/^\.bro-partial-/)])
      yield* orchestrator.cancelAction(stuck.id)
      expect(yield* awaitAction(orchestrator, stuck.id)).toMatchObject({ result: "FAILURE", progressInfo: "Cancelled by the user" })
      expect(yield* Ref.get(steps)).toEqual(["restore interrupted", "cancel step for RESTORE nightly"])
      // The interrupted download removed its partial file.
      expect(yield* tree(restoreFolder)).toEqual([])

      yield* disk.heal
      const again = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      expect(yield* awaitAction(orchestrator, again.id)).toMatchObject({ result: "SUCCESS" })
      expect(Buffer.from(yield* fs.readFile(join(restoreFolder, "dump.bin"))).equals(dump)).toBe(true)
    }))
})

FaultHygiene.checkNothingLeftOpen()
