// Issue 14, item 1: a STAGE_COMPLETE counts only as the answer of the running
// action's current stage. Answers sent while no action runs, or after a
// stage (or a cancel round) timed out, must never complete a later stage.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Ref } from "effect"
import type * as Fragments from "../../src/behavior/Fragments.js"
import { StageFailure } from "../../src/behavior/AgentBehavior.js"
import * as FragmentSources from "../../src/behavior/Fragments.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { behaviorWith } from "../support/agentHarness.js"
import { awaitStatus } from "../support/agentHarness.js"
import { pollUntil, startAgentOn, within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { registration } from "../support/orchestratorHarness.js"
import { channel, expectNext, registerAgent, roundTrip } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

describe("stage answers that belong to no running stage (issue 14, item 1)", () => {
  it.live("does not take stage answers sent while no action runs for the next backup's stages", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "300 millis" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "silent-agent")
      for (let i = 0; i < 3; i++) yield* control.answer("BACKUP", true, `idle answer ${i}`)
      // Once this acknowledgement is back, the orchestrator has read the three answers.
      yield* roundTrip(control, "silent-agent")

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      // The agent receives its preparation and never answers anything again.
      yield* expectNext(control, "Preparation")
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))

      expect(finished.result).toBe("FAILURE")
      expect(finished.resultInfo).toMatch(/silent-agent/)
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).status).not.toBe("COMPLETE")
    }).pipe(Effect.scoped, live))

  it.live("does not take an API 2.0 agent's answer that came after the stage timeout for the next backup's stage", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "1 second" })
      const late = yield* Deferred.make<void>()
      const executions = yield* Ref.make(0)
      const agent = yield* startAgentOn(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup>({
        registration: registration("old-agent", { apiVersion: "2.0" }),
        executeBackup: (context) =>
          Effect.gen(function*() {
            const execution = yield* Ref.updateAndGet(executions, (n) => n + 1)
            // The first backup is answered late: after its stage timed out and its action ended.
            if (execution === 1) return yield* Deferred.await(late)
            yield* context.sendFragment({
              fragmentId: `old-agent_${execution}`,
              version: "1.0",
              backupFile: FragmentSources.fromBytes("dump.sql", "Hello World!")
            })
          })
      }))
      yield* pollUntil("the agent to register", orchestrator.agents, (agents) => agents.length === 1)

      const first = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "first")
      expect((yield* within("the first backup to time out")(orchestrator.awaitAction(first.id))).result).toBe("FAILURE")
      yield* Deferred.succeed(late, undefined)
      // The late answer is written once the agent is done with the stage.
      yield* within("the agent to answer late")(awaitStatus(agent, (status) => status.action?.running !== true))

      const second = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "second")
      const finished = yield* within("the second backup to end")(orchestrator.awaitAction(second.id))
      const record = yield* orchestrator.backup("DEFAULT", "second")
      // Its own answer, after its own upload, completes the second backup.
      expect(finished.result).toBe("SUCCESS")
      expect(record.status).toBe("COMPLETE")
      expect(record.fragments.map((fragment) => fragment.fragmentId)).toEqual(["old-agent_2"])
    }).pipe(Effect.scoped, live))

  it.live("does not take an API 4.0 agent's answer to a cancel round that timed out for the next backup's stages", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "1 second" })
      const late = yield* Deferred.make<void>()
      const executions = yield* Ref.make(0)
      const steps = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (step: string) => Ref.update(steps, (all) => [...all, step])
      const agent = yield* startAgentOn(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup | StageFailure>({
        registration: registration("slow-cancel-agent"),
        prepareBackup: (context) => note(`prepare ${context.backupName}`),
        executeBackup: (context) =>
          Effect.gen(function*() {
            const execution = yield* Ref.updateAndGet(executions, (n) => n + 1)
            yield* note(`execute ${context.backupName}`)
            if (execution === 1) return yield* new StageFailure({ message: "The first backup fails" })
            yield* context.sendFragment({
              fragmentId: "slow-cancel-agent_0",
              version: "1.0",
              backupFile: FragmentSources.fromBytes("dump.sql", "Hello World!")
            })
          }),
        postBackup: (context) => note(`post ${context.backupName}`),
        // The cancel step outlasts the cancel round's timeout: its answer comes after the action ended.
        cancel: (context) => Effect.zipRight(note(`cancel ${context.backupName}`), Deferred.await(late))
      }))
      yield* pollUntil("the agent to register", orchestrator.agents, (agents) => agents.length === 1)

      const first = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "first")
      expect((yield* within("the first backup to fail")(orchestrator.awaitAction(first.id))).result).toBe("FAILURE")
      yield* Deferred.succeed(late, undefined)
      yield* within("the agent to answer the cancel late")(awaitStatus(agent, (status) => status.action?.running !== true))

      const second = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "second")
      const finished = yield* within("the second backup to end")(orchestrator.awaitAction(second.id))
      const record = yield* orchestrator.backup("DEFAULT", "second")
      expect(yield* Ref.get(steps)).toEqual([
        "prepare first",
        "execute first",
        "cancel first",
        "prepare second",
        "execute second",
        "post second"
      ])
      expect(finished.result).toBe("SUCCESS")
      expect(record.status).toBe("COMPLETE")
      expect(record.fragments.map((fragment) => fragment.fragmentId)).toEqual(["slow-cancel-agent_0"])
    }).pipe(Effect.scoped, live))
})
