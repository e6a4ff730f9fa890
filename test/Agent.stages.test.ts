import { expect } from "@effect/vitest"
import { Deferred, Effect, Ref } from "effect"
import type { BackupContext, RestoreContext } from "../src/behavior/AgentBehavior.js"
import { StageFailure } from "../src/behavior/AgentBehavior.js"
import { OrchestratorMessage } from "../src/core/Message.js"
import {
  agentId,
  awaitStatus,
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
  softwareVersion,
  stageComplete,
  inMemoryLayer
} from "./support/agentHarness.js"
import { layerPerTest } from "./support/layers.js"


layerPerTest(inMemoryLayer())("backup stages", (it) => {
  it.scoped("answers each backup stage once, with the default texts", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      yield* control.send(backupPreparation)
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Preparation for backup is successful"))
      yield* control.send(execution("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Backup completed"))
      yield* control.send(postActions("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Post backup actions completed"))
      yield* control.send(cancel("REGISTER"))
      // The action is over but on record: the cancel runs the cancel step for it.
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
    }))

  it.scoped("hands each step the backup's name and type, and answers with the text a step returns", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<string>>([])
      const record = (step: string) => (context: BackupContext) =>
        Ref.update(seen, (steps) => [...steps, `${step}:${context.backupName}:${context.backupType}:${context.agentId}`])
          .pipe(Effect.as(`${step} done`))
      const { control } = yield* connect(behaviorWith({
        prepareBackup: record("prepare"),
        executeBackup: record("execute"),
        postBackup: record("post")
      }))
      yield* control.send(OrchestratorMessage.Preparation({ ...backupPreparation, backupType: "alpha" }))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "prepare done"))
      yield* control.send(execution("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "execute done"))
      yield* control.send(postActions("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "post done"))
      expect(yield* Ref.get(seen)).toEqual([
        `prepare:nightly:alpha:${agentId}`,
        `execute:nightly:alpha:${agentId}`,
        `post:nightly:alpha:${agentId}`
      ])
    }))

  it.scoped("answers a stage that fails with success false and the error's message", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith({
        executeBackup: () => Effect.fail(new StageFailure({ message: "Disk is full" }))
      }))
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(execution("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", false, "Disk is full"))
      // The agent stays in the failed stage, so BRO's cancel that follows is answered.
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
    }))

  it.scoped("answers a stage that throws with success false, and goes on serving", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const { control } = yield* connect(behaviorWith({
        prepareBackup: () =>
          Ref.getAndUpdate(calls, (count) => count + 1).pipe(
            Effect.flatMap((count) =>
              count === 0
                ? Effect.sync(() => {
                  throw new Error("boom")
                })
                : Effect.void
            )
          )
      }))
      yield* control.send(backupPreparation)
      expect(yield* control.receive).toEqual(
        stageComplete("BACKUP", false, "Exception executing agent behavior: boom")
      )
      yield* control.send(cancel("BACKUP"))
      yield* control.receive
      yield* control.send(backupPreparation)
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Preparation for backup is successful"))
    }))

  it.scoped("runs an API 2.0 backup as one stage that executes the backup", () =>
    Effect.gen(function*() {
      const executed = yield* Ref.make(0)
      const { control } = yield* connect(
        behaviorWith({
          registration: { agentId, softwareVersion, apiVersion: "2.0" },
          executeBackup: () => Ref.update(executed, (count) => count + 1)
        })
      )
      yield* control.send(backupPreparation)
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Backup completed"))
      // The action is over: a new preparation starts the next backup.
      yield* control.send(backupPreparation)
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Backup completed"))
      expect(yield* Ref.get(executed)).toBe(2)
    }))

  it.scoped("keeps a message that arrives while a step runs until the step returns", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const { control } = yield* connect(behaviorWith({
        prepareBackup: () => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(release)))
      }))
      yield* control.send(backupPreparation)
      yield* Deferred.await(started)
      yield* control.send(execution("BACKUP"))
      yield* Deferred.succeed(release, undefined)
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Preparation for backup is successful"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Backup completed"))
    }))

  it.scoped("shows the current action and stage in its status", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const { agent, control } = yield* connect(behaviorWith({ executeBackup: () => Deferred.await(release) }))
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(execution("BACKUP"))
      const running = yield* awaitStatus(agent, (status) => status.action?.stage === "EXECUTION")
      expect(running.action).toEqual({
        action: "BACKUP",
        backupName: "nightly",
        backupType: "DEFAULT",
        stage: "EXECUTION",
        running: true
      })
      yield* Deferred.succeed(release, undefined)
      yield* control.receive
      expect((yield* agent.status).action?.running).toBe(false)
    }))
})

layerPerTest(inMemoryLayer())("restore stages", (it) => {
  it.scoped("collects the fragment list entries before preparing, then runs every restore stage", () =>
    Effect.gen(function*() {
      const prepared = yield* Ref.make<RestoreContext | undefined>(undefined)
      const executed = yield* Ref.make<RestoreContext | undefined>(undefined)
      const { control } = yield* connect(behaviorWith({
        prepareRestore: (context) => Ref.set(prepared, context),
        executeRestore: (context) => Ref.set(executed, context)
      }))
      yield* control.send(restorePreparation([placeholder]))
      yield* control.send(OrchestratorMessage.FragmentListEntry({ action: "RESTORE", fragment: fragment("f-1"), last: false }))
      yield* control.send(OrchestratorMessage.FragmentListEntry({ action: "RESTORE", fragment: fragment("f-2"), last: true }))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", true, "Preparation for restore is successful"))
      const context = yield* Ref.get(prepared)
      expect(context?.fragments.map((each) => each.fragmentId)).toEqual(["f-1", "f-2"])
      expect(context?.fragments[0]?.customInformation).toEqual({ pod: "db-0" })
      expect(context?.softwareVersion?.semanticVersion).toBe("5.1.0")
      expect(context?.backupName).toBe("nightly")
      yield* control.send(execution("RESTORE"))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", true, "Restore completed"))
      expect((yield* Ref.get(executed))?.fragments.length).toBe(2)
      yield* control.send(postActions("RESTORE"))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", true, "Post restore actions completed"))
    }))

  it.scoped("does not start the restore preparation before the last entry", () =>
    Effect.gen(function*() {
      const prepared = yield* Ref.make(false)
      const { control } = yield* connect(behaviorWith({ prepareRestore: () => Ref.set(prepared, true) }))
      yield* control.send(restorePreparation([placeholder]))
      yield* control.send(OrchestratorMessage.FragmentListEntry({ action: "RESTORE", fragment: fragment("f-1"), last: false }))
      // An unexpected message while collecting is answered, which proves the entries were handled.
      yield* control.send(execution("RESTORE"))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", false, "Unsuccessful restore stage"))
      expect(yield* Ref.get(prepared)).toBe(false)
    }))

  it.scoped("prepares at once when the agent has no fragments in the backup", () =>
    Effect.gen(function*() {
      const fragments = yield* Ref.make<number>(-1)
      const { control } = yield* connect(behaviorWith({
        prepareRestore: (context) => Ref.set(fragments, context.fragments.length)
      }))
      yield* control.send(restorePreparation([]))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", true, "Preparation for restore is successful"))
      expect(yield* Ref.get(fragments)).toBe(0)
    }))

  it.scoped("takes the whole fragment list from the preparation of an older orchestrator", () =>
    Effect.gen(function*() {
      const ids = yield* Ref.make<Array<string>>([])
      const { control } = yield* connect(behaviorWith({
        prepareRestore: (context) => Ref.set(ids, context.fragments.map((each) => each.fragmentId))
      }))
      yield* control.send(restorePreparation([fragment("a"), fragment("b")]))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", true, "Preparation for restore is successful"))
      expect(yield* Ref.get(ids)).toEqual(["a", "b"])
    }))

  it.scoped("answers a failed software version check with its message", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith({
        prepareRestore: (context) =>
          context.softwareVersion?.semanticVersion === "9.0.0"
            ? Effect.void
            : Effect.fail(new StageFailure({ message: "Incompatible version" }))
      }))
      yield* control.send(restorePreparation([]))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", false, "Incompatible version"))
    }))
})

layerPerTest(inMemoryLayer())("unexpected messages", (it) => {
  it.scoped("ignores, without answering, everything but a preparation while idle", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      yield* control.send(execution("BACKUP"))
      yield* control.send(postActions("RESTORE"))
      yield* control.send(OrchestratorMessage.FragmentListEntry({ action: "RESTORE", fragment: fragment("x"), last: true }))
      yield* control.send(OrchestratorMessage.Unsupported({ action: "BACKUP", messageType: "METRICS_REQUEST" }))
      yield* control.send(OrchestratorMessage.Preparation({ ...backupPreparation, action: "REGISTER" }))
      yield* control.send(OrchestratorMessage.RegisterAcknowledge({ message: "Registered Agent", features: [] }))
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(nothingToCancelAnswer)
    }))

  it.scoped("answers an unexpected message after backup preparation as a failed stage and goes idle", () =>
    Effect.gen(function*() {
      const executed = yield* Ref.make(false)
      const { control } = yield* connect(behaviorWith({ executeBackup: () => Ref.set(executed, true) }))
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(postActions("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", false, "Unsuccessful backup stage"))
      // Idle now: an execution is ignored, and a cancel runs the cancel step for the recorded action.
      yield* control.send(execution("BACKUP"))
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
      expect(yield* Ref.get(executed)).toBe(false)
    }))

  it.scoped("answers a preparation after backup execution as unexpected, without starting it", () =>
    Effect.gen(function*() {
      const prepared = yield* Ref.make(0)
      const { control } = yield* connect(behaviorWith({ prepareBackup: () => Ref.update(prepared, (n) => n + 1) }))
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(execution("BACKUP"))
      yield* control.receive
      yield* control.send(backupPreparation)
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", false, "Unsuccessful backup stage."))
      expect(yield* Ref.get(prepared)).toBe(1)
    }))

  it.scoped("answers an unexpected message in restore preparation and execution with the restore text", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      yield* control.send(restorePreparation([]))
      yield* control.receive
      yield* control.send(OrchestratorMessage.Unsupported({ action: "RESTORE", messageType: "CHECKPOINT_LIST_ENTRY" }))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", false, "Unsuccessful restore stage"))
      yield* control.send(restorePreparation([]))
      yield* control.receive
      yield* control.send(execution("RESTORE"))
      yield* control.receive
      yield* control.send(restorePreparation([]))
      expect(yield* control.receive).toEqual(stageComplete("RESTORE", false, "Unsuccessful restore stage"))
    }))

  it.scoped("treats a stage message without its sub-message as unexpected", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      yield* control.send(backupPreparation)
      yield* control.receive
      // What the wire gives for EXECUTION with no `execution` present.
      yield* control.send(OrchestratorMessage.Unsupported({ action: "BACKUP", messageType: "EXECUTION" }))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", false, "Unsuccessful backup stage"))
    }))

  it.scoped("never answers a register acknowledgement, even in the middle of an action", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(OrchestratorMessage.RegisterAcknowledge({ message: "Registered Agent", features: [] }))
      yield* control.send(execution("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Backup completed"))
    }))

  it.scoped("after the post-actions, ignores stage messages like an idle agent", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      for (const message of [backupPreparation, execution("BACKUP"), postActions("BACKUP")]) {
        yield* control.send(message)
        yield* control.receive
      }
      yield* control.send(execution("BACKUP"))
      yield* control.send(postActions("BACKUP"))
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
    }))
})
