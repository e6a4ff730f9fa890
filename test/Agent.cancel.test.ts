import { expect } from "@effect/vitest"
import { Deferred, Effect, Ref } from "effect"
import type { AgentBehavior, CancelContext } from "../src/behavior/AgentBehavior.js"
import { StageFailure } from "../src/behavior/AgentBehavior.js"
import type { OrchestratorMessage } from "../src/core/Message.js"
import {
  backupPreparation,
  behaviorWith,
  cancel,
  connect,
  execution,
  fragment,
  nothingToCancelAnswer,
  placeholder,
  postActions,
  restorePreparation,
  stageComplete,
  inMemoryLayer
} from "./support/agentHarness.js"
import { layerPerTest } from "./support/layers.js"
import { OrchestratorMessage as Messages } from "../src/core/Message.js"


type StepKey = "prepareBackup" | "executeBackup" | "postBackup" | "prepareRestore" | "executeRestore" | "postRestore"

// The messages that lead to each stage, and the stage's own message.
const pathTo: Record<StepKey, { readonly action: "BACKUP" | "RESTORE"; readonly before: ReadonlyArray<OrchestratorMessage>; readonly start: OrchestratorMessage }> = {
  prepareBackup: { action: "BACKUP", before: [], start: backupPreparation },
  executeBackup: { action: "BACKUP", before: [backupPreparation], start: execution("BACKUP") },
  postBackup: { action: "BACKUP", before: [backupPreparation, execution("BACKUP")], start: postActions("BACKUP") },
  prepareRestore: { action: "RESTORE", before: [], start: restorePreparation([]) },
  executeRestore: { action: "RESTORE", before: [restorePreparation([])], start: execution("RESTORE") },
  postRestore: {
    action: "RESTORE",
    before: [restorePreparation([]), execution("RESTORE")],
    start: postActions("RESTORE")
  }
}

layerPerTest(inMemoryLayer())("cancel", (it) => {
  for (const [step, path] of Object.entries(pathTo) as Array<[StepKey, (typeof pathTo)[StepKey]]>) {
    it.scoped(`interrupts a running ${step} step, then runs the cancel step and answers`, () =>
      Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const interrupted = yield* Ref.make(false)
        const cancelled = yield* Ref.make<CancelContext | undefined>(undefined)
        const hang = () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Ref.set(interrupted, true))
          )
        const behavior: AgentBehavior<StageFailure> = behaviorWith<StageFailure>({
          [step]: hang,
          cancel: (context: CancelContext) =>
            // The stage is already interrupted when the cancel step starts.
            Ref.get(interrupted).pipe(
              Effect.flatMap((wasInterrupted) =>
                wasInterrupted ? Ref.set(cancelled, context) : Effect.fail(new StageFailure({ message: "still running" }))
              )
            )
        })
        const { control } = yield* connect(behavior)
        for (const message of path.before) {
          yield* control.send(message)
          yield* control.receive
        }
        yield* control.send(path.start)
        yield* Deferred.await(started)
        yield* control.send(cancel(path.action))
        // One answer only: the cancel's. The interrupted stage is never answered.
        expect(yield* control.receive).toEqual(stageComplete(path.action, true, "Cancel actions completed"))
        expect(yield* Ref.get(interrupted)).toBe(true)
        expect((yield* Ref.get(cancelled))?.action).toBe(path.action)
        expect((yield* Ref.get(cancelled))?.backupName).toBe("nightly")
        // Idle after the cancel: a stage message is not answered...
        yield* control.send(execution(path.action))
        // ...and a further cancel is, for the same recorded action.
        yield* control.send(cancel(path.action))
        expect(yield* control.receive).toEqual(stageComplete(path.action, true, "Cancel actions completed"))
      }))
  }

  it.scoped("closes what the interrupted stage held open before the cancel step runs", () =>
    Effect.gen(function*() {
      const order = yield* Ref.make<Array<string>>([])
      const started = yield* Deferred.make<void>()
      const { control } = yield* connect(behaviorWith({
        executeBackup: () =>
          Effect.acquireRelease(
            Ref.update(order, (steps) => [...steps, "open dump"]),
            () => Ref.update(order, (steps) => [...steps, "close dump"])
          ).pipe(Effect.zipRight(Deferred.succeed(started, undefined)), Effect.zipRight(Effect.never), Effect.scoped),
        cancel: () => Ref.update(order, (steps) => [...steps, "cancel step"])
      }))
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(execution("BACKUP"))
      yield* Deferred.await(started)
      yield* control.send(cancel("BACKUP"))
      yield* control.receive
      expect(yield* Ref.get(order)).toEqual(["open dump", "close dump", "cancel step"])
    }))

  it.scoped("answers a cancel with no action since registration, running nothing", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make(false)
      const { control } = yield* connect(behaviorWith({ cancel: () => Ref.set(ran, true) }))
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(nothingToCancelAnswer)
      yield* control.send(cancel("RESTORE"))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", true, "Nothing to cancel: no action since registration"))
      expect(yield* Ref.get(ran)).toBe(false)
    }))

  it.scoped("answers with the action the agent is in, whatever the cancel message says", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      yield* control.send(restorePreparation([]))
      yield* control.receive
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", true, "Cancel actions completed"))
    }))

  it.scoped("answers a cancel after a stage has answered", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
    }))

  it.scoped("answers a cancel while the fragment list arrives", () =>
    Effect.gen(function*() {
      const prepared = yield* Ref.make(false)
      const { control } = yield* connect(behaviorWith({ prepareRestore: () => Ref.set(prepared, true) }))
      yield* control.send(restorePreparation([placeholder]))
      yield* control.send(Messages.FragmentListEntry({ action: "RESTORE", fragment: fragment("f-1"), last: false }))
      yield* control.send(cancel("RESTORE"))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", true, "Cancel actions completed"))
      expect(yield* Ref.get(prepared)).toBe(false)
    }))

  it.scoped("answers success false when the cancel step fails", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith({
        cancel: () => Effect.fail(new StageFailure({ message: "Could not roll back" }))
      }))
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", false, "Could not roll back"))
    }))

  it.scoped("answers a second cancel that arrives while the cancel step runs, after it", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const calls = yield* Ref.make(0)
      const { control } = yield* connect(behaviorWith({
        cancel: () =>
          Ref.updateAndGet(calls, (n) => n + 1).pipe(
            Effect.tap((n) => (n === 1 ? Deferred.succeed(started, undefined) : Effect.void)),
            Effect.zipRight(Deferred.await(release))
          )
      }))
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(cancel("BACKUP"))
      yield* Deferred.await(started)
      yield* control.send(cancel("BACKUP"))
      yield* Deferred.succeed(release, undefined)
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
      expect(yield* Ref.get(calls)).toBe(2)
    }))
})
