// The development orchestrator calls a fragment whose upload the agent
// cancelled (the backup was cancelled mid-transfer) cancelled, not refused.
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Deferred, Effect, Schedule, Stream } from "effect"
import * as Fragments from "../../src/behavior/Fragments.js"
import { behaviorWith } from "../support/agentHarness.js"
import { pollUntil, uploadFolders } from "../support/FaultHarness.js"
import { layerLive } from "../support/layers.js"
import { awaitAgents, registration, startAgent, startOrchestrator, tempFolder } from "../support/orchestratorHarness.js"

layerLive(NodeFileSystem.layer)("a cancelled upload on the development orchestrator", (it) => {
  it.scoped("is not reported as a refused fragment", () =>
    Effect.gen(function*() {
      const storage = yield* tempFolder
      const orchestrator = yield* startOrchestrator(storage)
      const seen: Array<{ readonly _tag: string; readonly reason?: string }> = []
      yield* orchestrator.events.pipe(Stream.runForEach((event) => Effect.sync(() => seen.push(event))), Effect.forkScoped)
      yield* Effect.yieldNow()
      const sending = yield* Deferred.make<void>()
      const cancelled = yield* Deferred.make<void>()
      yield* startAgent(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup>({
        registration: registration("cancelled-agent"),
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: "cancelled-agent-0",
            version: "1.0",
            backupFile: Fragments.fromStream(
              "dump.sql",
              Stream.concat(
                Stream.make(new Uint8Array(1024)),
                Stream.fromEffect(Effect.zipRight(Deferred.succeed(sending, undefined), Effect.never))
              )
            )
          }),
        cancel: () => Deferred.succeed(cancelled, undefined)
      }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* Deferred.await(sending)
      // Cancelled mid-transfer: once the orchestrator holds the upload open.
      yield* pollUntil("the upload to be open", uploadFolders(storage), (folders) => folders.length === 1)
      yield* orchestrator.cancelAction(backup.id)
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("FAILURE")
      yield* Deferred.await(cancelled)
      yield* Effect.sync(() => seen.some((event) => event._tag === "ActionFinished")).pipe(
        Effect.repeat({ until: (finished) => finished, schedule: Schedule.spaced("10 millis") })
      )
      expect(seen.filter((event) => event._tag === "FragmentRefused")).toEqual([])
    }))
})
