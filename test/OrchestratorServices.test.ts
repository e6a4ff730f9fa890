// The development orchestrator's services on their own, without a network:
// the job runner's stage protocol, the action records, the flow-control
// budgets, and `Orchestrator.layerTest`. Time is TestClock's.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, Queue, Random, TestClock } from "effect"
import type { OrchestratorMessage } from "../src/core/Message.js"
import * as AgentRegistry from "../orchestrator/AgentRegistry.js"
import * as BackupRecords from "../orchestrator/BackupRecords.js"
import * as Events from "../orchestrator/Events.js"
import * as FlowControl from "../orchestrator/FlowControl.js"
import * as ActionRecords from "../orchestrator/jobs/ActionRecords.js"
import * as JobRunner from "../orchestrator/JobRunner.js"
import type { BackupRecord, RegisteredAgent } from "../orchestrator/Model.js"
import * as Orchestrator from "../orchestrator/Orchestrator.js"
import type { StageQuestion } from "../orchestrator/StageProtocol.js"
import { softwareVersion } from "./support/agentHarness.js"

const agent = (agentId: string, scope: ReadonlyArray<string> = []): RegisteredAgent => ({
  agentId,
  scope,
  apiVersion: "4.0",
  softwareVersion: { ...softwareVersion, commercialVersion: "1.0.0", semanticVersion: "1.0.0" },
  features: [],
  backendType: "BRO"
})

// A job runner on an empty registry and records in memory, with a one-minute stage timeout.
const runnerLayer = JobRunner.layer({ stageTimeout: Duration.minutes(1) }).pipe(
  Layer.provideMerge(AgentRegistry.layer),
  Layer.provideMerge(BackupRecords.layerMemory()),
  Layer.provideMerge(Events.layer)
)

interface Asked {
  readonly question: StageQuestion
  readonly messages: ReadonlyArray<OrchestratorMessage>
}

/** Registers an agent whose questions the test takes from a queue and answers itself. */
const scriptedAgent = (agentId: string) =>
  Effect.gen(function*() {
    const registry = yield* AgentRegistry.AgentRegistry
    const runner = yield* JobRunner.JobRunner
    const asked = yield* Queue.unbounded<Asked>()
    yield* registry.register({
      info: agent(agentId),
      peer: { address: "in-memory", authContext: {} },
      ask: (question, messages) => Queue.offer(asked, { question, messages })
    })
    return {
      next: Queue.take(asked),
      answer: (question: StageQuestion | undefined, success: boolean, message: string) =>
        runner.answer({ question, agentId, action: "BACKUP", success, message })
    }
  })

/** Moves TestClock on a minute at a time until the action is finished. */
const finishWhileAdvancing = (id: string) =>
  Effect.gen(function*() {
    const runner = yield* JobRunner.JobRunner
    for (let minute = 0; minute < 10; minute++) {
      const record = yield* runner.action(id)
      if (record.state === "FINISHED") return record
      yield* TestClock.adjust("1 minute")
    }
    return yield* runner.action(id)
  })

describe("the job runner's stage protocol", () => {
  it.effect("drops answers to a stage that timed out and to its cancel round, and to no stage at all", () =>
    Effect.gen(function*() {
      const runner = yield* JobRunner.JobRunner
      const silent = yield* scriptedAgent("silent-agent")
      yield* silent.answer(undefined, true, "idle answer")

      const first = yield* runner.start("DEFAULT", "CREATE_BACKUP", "first")
      const preparation = yield* silent.next
      expect(preparation.question).toEqual({ actionId: first.id, stage: "PREPARATION" })
      const timedOut = yield* finishWhileAdvancing(first.id)
      expect(timedOut.resultInfo).toMatch(/silent-agent failed at stage PREPARATION: No answer to the PREPARATION stage/)
      const cancel = yield* silent.next
      expect(cancel.question).toEqual({ actionId: first.id, stage: "CANCEL" })

      const second = yield* runner.start("DEFAULT", "CREATE_BACKUP", "second")
      const secondPreparation = yield* silent.next
      // Late, while the second action's preparation waits: answers to the first action's stages.
      yield* silent.answer(preparation.question, true, "prepared, late")
      yield* silent.answer(cancel.question, true, "cancelled, late")
      yield* silent.answer(secondPreparation.question, false, "the database is locked")
      const secondCancel = yield* silent.next
      expect(secondCancel.question).toEqual({ actionId: second.id, stage: "CANCEL" })
      yield* silent.answer(secondCancel.question, true, "cancelled")
      // Had a late answer counted, the preparation would have succeeded and this answer failed the execution.
      const failed = yield* runner.awaitAction(second.id)
      expect(failed.resultInfo).toBe("Agent silent-agent failed at stage PREPARATION: the database is locked")
    }).pipe(Effect.provide(runnerLayer)))

  it.effect("does not count a second answer to a stage for the next one", () =>
    Effect.gen(function*() {
      const runner = yield* JobRunner.JobRunner
      const eager = yield* scriptedAgent("eager-agent")
      const backup = yield* runner.start("DEFAULT", "CREATE_BACKUP", "nightly")
      const preparation = yield* eager.next
      yield* eager.answer(preparation.question, true, "prepared")
      yield* eager.answer(preparation.question, true, "prepared again")
      const execution = yield* eager.next
      expect(execution.question.stage).toBe("EXECUTION")
      yield* eager.answer(execution.question, false, "nothing to back up")
      const cancel = yield* eager.next
      yield* eager.answer(cancel.question, true, "cancelled")
      expect((yield* runner.awaitAction(backup.id)).resultInfo).toBe(
        "Agent eager-agent failed at stage EXECUTION: nothing to back up"
      )
    }).pipe(Effect.provide(runnerLayer)))
})

describe("the action records", () => {
  it.effect("gives each action the next id after a random start, and its times from the Clock", () =>
    Effect.gen(function*() {
      const records = yield* ActionRecords.make()
      const first = yield* records.create("DELETE_BACKUP", "DEFAULT", "a")
      yield* TestClock.adjust("1 hour")
      const second = yield* records.create("DELETE_BACKUP", "DEFAULT", "b")
      expect(Number(second.id)).toBe(Number(first.id) + 1)
      expect(Number(first.id)).toBeLessThan(65536)
      expect(first.startTime).toBe("1970-01-01T00:00:00.000Z")
      expect(second.startTime).toBe("1970-01-01T01:00:00.000Z")
    }).pipe(Effect.withRandom(Random.make("a seed"))))

  it.effect("keeps the latest finished records beyond the bound, and every running one", () =>
    Effect.gen(function*() {
      const records = yield* ActionRecords.make({ kept: 2 })
      const created = yield* Effect.forEach(["a", "b", "c", "d"], (name) => records.create("DELETE_BACKUP", "DEFAULT", name))
      const [a, b, c, d] = created.map((record) => record.id)
      for (const id of [a, b, c]) yield* records.finish(id ?? "", { result: "FAILURE" })
      expect((yield* records.all).map((record) => record.id)).toEqual([b, c, d])
      expect(yield* Effect.flip(records.awaitFinished(a ?? ""))).toMatchObject({ _tag: "ActionNotFound" })
      expect(yield* records.awaitFinished(c ?? "")).toMatchObject({ state: "FINISHED", result: "FAILURE" })
    }))
})

describe("the flow-control budgets", () => {
  const budgets = Effect.provide(FlowControl.FlowControl, FlowControl.layer({ downloadChunks: 1, uploadHigh: 100, uploadLow: 50 }))

  it.effect("are each orchestrator's own", () =>
    Effect.gen(function*() {
      const one = yield* budgets
      const other = yield* budgets
      yield* one.downloads.take
      one.uploads.hold(100)
      // The other orchestrator's budgets are untouched.
      yield* other.downloads.take
      expect(other.uploads.held()).toBe(0)
      const waiting = yield* Effect.fork(one.downloads.take)
      yield* Effect.yieldNow()
      expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      one.downloads.giveBack()
      yield* Fiber.join(waiting)
    }))

  it.effect("wakes the uploads waiting for room once the content held falls under the low mark", () =>
    Effect.gen(function*() {
      const { uploads } = yield* budgets
      let woken = 0
      uploads.hold(120)
      uploads.waitForRoom(() => woken++)
      uploads.release(60)
      expect(woken).toBe(0)
      uploads.release(20)
      expect(woken).toBe(1)
    }))
})

describe("Orchestrator.layerTest", () => {
  const nightly: BackupRecord = {
    name: "nightly",
    backupManagerId: "alpha",
    status: "COMPLETE",
    creationTime: "2024-05-01T10:00:05.000Z",
    softwareVersions: [{ ...agent("db-agent").softwareVersion, agentId: "db-agent", apiVersion: "4.0" }],
    fragments: []
  }

  it.effect("runs backups, restores and deletes through the job runner with agents that always succeed", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      expect((yield* orchestrator.managers).map((manager) => manager.id)).toEqual([
        "DEFAULT", "DEFAULT-db-agent", "DEFAULT-web-agent", "alpha", "alpha-db-agent", "beta", "beta-web-agent"
      ])
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "weekly")
      expect(yield* orchestrator.awaitAction(backup.id)).toMatchObject({ result: "SUCCESS", progressPercentage: 100 })
      const weekly = yield* orchestrator.backup("DEFAULT", "weekly")
      expect(weekly.status).toBe("COMPLETE")
      expect(weekly.softwareVersions.map((version) => version.agentId)).toEqual(["db-agent", "web-agent"])

      const restore = yield* orchestrator.startAction("alpha", "RESTORE", "nightly")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      const removal = yield* orchestrator.startAction("DEFAULT", "DELETE_BACKUP", "weekly")
      expect((yield* orchestrator.awaitAction(removal.id)).result).toBe("SUCCESS")
      expect(yield* orchestrator.backups("DEFAULT")).toEqual([])
      expect(yield* Effect.flip(orchestrator.fragmentPath("alpha", "nightly", "db-agent", "f"))).toMatchObject({
        _tag: "BackupNotFound"
      })
    }).pipe(
      Effect.provide(Orchestrator.layerTest({ agents: [agent("db-agent", ["alpha"]), agent("web-agent", ["beta"])], backups: [nightly] }))
    ))

  it.effect("fails a backup of a manager without agents, as the real one does", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator.Orchestrator
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "weekly")
      expect(yield* orchestrator.awaitAction(backup.id)).toMatchObject({
        result: "FAILURE",
        resultInfo: "No agent is registered for backup manager DEFAULT"
      })
      expect(yield* orchestrator.health).toMatchObject({ availability: "Available", registeredAgents: [] })
    }).pipe(Effect.provide(Orchestrator.layerTest())))
})
