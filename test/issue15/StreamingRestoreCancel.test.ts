// Issue 15's "done when": a cancel at a random moment of a streaming restore,
// repeated 20 times, never crashes the agent and is answered every time.
// The restore pipes the verified download into a real consumer process that
// reads slowly, so that the pipe is full and a write is pending when the
// cancel kills it: the interleaving that turned into an unhandled EPIPE.
import * as Command from "@effect/platform/Command"
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Duration, Effect, Random, Ref, Schedule, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import * as Commands from "../../src/behavior/Commands.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import type { OrchestratorEvent } from "../../orchestrator/Model.js"
import { behaviorWith } from "../support/agentHarness.js"
import { layerLive } from "../support/layers.js"
import { exists, pidsIn, unhandledErrors } from "./CommandsSupport.js"
import { awaitAgents, registration, startAgent, startOrchestrator, tempFolder } from "../support/orchestratorHarness.js"

const rounds = 20
const fragmentSize = 16 * 1024 * 1024
const agentId = "restoring-agent"

// Reads 64 KiB at most every 2 ms (32 MB/s at best): the fragment takes at least
// half a second to restore, so every cancel below lands while bytes still flow.
const slowReader = "binmode STDIN; while (sysread(STDIN, my $chunk, 65536)) { select(undef, undef, undef, 0.002) }"

const actionOf = (event: OrchestratorEvent) =>
  "actionId" in event ? event.actionId : "action" in event ? event.action.id : undefined

layerLive(NodeContext.layer)("a streaming restore cancelled at a random moment", (it) => {
  it.scoped(`answers each of ${rounds} cancels, keeps the agent registered and leaves no process and no unhandled error`, () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const work = yield* tempFolder
      const pidFile = join(work, "pids")
      yield* fs.writeFileString(pidFile, "")

      const unhandled = yield* unhandledErrors

      // The consumer notes its pid (exec keeps it) before it reads.
      const consumer = Command.make("sh", "-c", `echo $$ >> "$0"; exec perl -e '${slowReader}'`, pidFile)

      const orchestrator = yield* startOrchestrator(yield* tempFolder, { stageTimeout: "30 seconds" })
      const events = yield* Ref.make<ReadonlyArray<OrchestratorEvent>>([])
      yield* Effect.forkScoped(Stream.runForEach(orchestrator.events, (event) => Ref.update(events, (all) => [...all, event])))

      yield* startAgent(orchestrator.port, behaviorWith<Commands.CommandFailed | Fragments.FailedToTransferBackup | Fragments.FailedToDownload>({
        registration: registration(agentId),
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: `${agentId}_dump`,
            version: "1.0",
            backupFile: Fragments.fromBytes("dump.bin", randomBytes(fragmentSize))
          }),
        executeRestore: (context) =>
          Effect.forEach(context.fragments, (fragment) =>
            Commands.runWithInput(consumer, context.downloadFragmentStream(fragment)))
      }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "big")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")

      for (let round = 1; round <= rounds; round++) {
        const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "big")
        // The consumer of this round is running (it wrote its pid): bytes are flowing.
        yield* pidsIn(pidFile).pipe(
          Effect.filterOrFail((pids) => pids.length === round),
          Effect.retry(Schedule.spaced("10 millis"))
        )
        // Only provokes different interleavings; nothing below depends on it.
        yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 400)))
        const cancelled = yield* orchestrator.cancelAction(restore.id).pipe(Effect.either)
        expect(cancelled._tag, `round ${round}: the restore was still running when cancelled`).toBe("Right")
        const finished = yield* orchestrator.awaitAction(restore.id)
        expect(finished.result, `round ${round}`).toBe("FAILURE")
        expect(finished.progressInfo, `round ${round}`).toBe("Cancelled by the user")

        // The action's events are all published once it finished.
        const ofAction = yield* Ref.get(events).pipe(
          Effect.map((all) => all.filter((event) => actionOf(event) === restore.id)),
          Effect.filterOrFail((all) => all.some((event) => event._tag === "ActionFinished")),
          Effect.retry(Schedule.spaced("20 millis"))
        )
        const answers = ofAction.filter((event) => event._tag === "StageCompleted" && event.stage === "CANCEL")
        expect(answers, `round ${round}: the cancel is answered`).toMatchObject([{ agentId, success: true }])

        expect((yield* orchestrator.agents).map((agent) => agent.agentId), `round ${round}`).toContain(agentId)
        const pids = yield* pidsIn(pidFile)
        expect(pids, `round ${round}: one consumer per round`).toHaveLength(round)
        for (const pid of pids) {
          expect(exists(pid), `round ${round}: consumer ${pid} is gone`).toBe(false)
          expect(exists(-pid), `round ${round}: consumer ${pid}'s process group is gone`).toBe(false)
        }
        expect(unhandled.map(String), `round ${round}: no unhandled error`).toEqual([])
      }
    }), 300_000)
})
