/**
 * The job runner: the actions of one orchestrator, as BRO runs them: one at
 * a time, in the order asked (each gets its id at once); backups and
 * restores through their stages (`jobs/Stages.ts`), with a cancel round on
 * failure; backups recorded COMPLETE only when every agent succeeded.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Duration, Effect, Layer, Queue, Ref } from "effect"
import { AgentRegistry } from "./AgentRegistry.js"
import { BackupRecords } from "./BackupRecords.js"
import { OrchestratorEvents } from "./Events.js"
import type { ActionContext, ActionOutcome, ActionRequest } from "./jobs/Action.js"
import * as ActionRecords from "./jobs/ActionRecords.js"
import { createBackup } from "./jobs/Backup.js"
import { deleteBackup } from "./jobs/Delete.js"
import type { Job, RunningJob } from "./jobs/Job.js"
import { restore } from "./jobs/Restore.js"
import * as Stages from "./jobs/Stages.js"
import type { ActionName, ActionNotFound, ActionRecord } from "./Model.js"
import { backupNameProblem, InvalidActionRequest, NoActionRunning, OrchestratorEvent } from "./Model.js"
import { reasonOf } from "./Quote.js"
import type { StageAnswer } from "./StageProtocol.js"

/**
 * The actions of one orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class JobRunner extends Context.Tag("bro-agent/orchestrator/JobRunner")<
  JobRunner,
  {
    /**
     * Queues an action and returns its record at once. The backup manager
     * is the caller's to check.
     */
    readonly start: (
      manager: string,
      name: ActionName,
      backupName: string
    ) => Effect.Effect<ActionRecord, InvalidActionRequest>
    readonly action: (id: string) => Effect.Effect<ActionRecord, ActionNotFound>
    /** Every action kept, in the order asked for. */
    readonly actions: Effect.Effect<ReadonlyArray<ActionRecord>>
    /** Waits until the action is FINISHED and returns its final record. */
    readonly awaitAction: (id: string) => Effect.Effect<ActionRecord, ActionNotFound>
    /** Cancels the running action (only if it is `id`, when given). */
    readonly cancel: (id?: string) => Effect.Effect<ActionRecord, NoActionRunning>
    /** The running action, if one is. */
    readonly ongoing: Effect.Effect<ActionRecord | undefined>
    /** The running backup or restore, for the data calls. */
    readonly job: Effect.Effect<Job | undefined>
    /**
     * Takes a stage-complete of a registered agent: it counts only for the
     * running action's current stage, from a participant still awaited.
     */
    readonly answer: (answer: StageAnswer) => Effect.Effect<void>
  }
>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface JobRunnerOptions {
  /** How long a stage waits for an agent's answer (BRO waits for ever). */
  readonly stageTimeout: Duration.Duration
}

const actionNames: ReadonlyArray<string> = ["CREATE_BACKUP", "RESTORE", "DELETE_BACKUP"]


/**
 * A job runner, whose worker runs in the Layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: JobRunnerOptions
): Layer.Layer<JobRunner, never, AgentRegistry | BackupRecords | OrchestratorEvents> =>
  Layer.scoped(
    JobRunner,
    Effect.gen(function*() {
      const registry = yield* AgentRegistry
      const backups = yield* BackupRecords
      const events = yield* OrchestratorEvents
      const records = yield* ActionRecords.make()
      const pending = yield* Queue.unbounded<ActionRecord>()
      const running = yield* Ref.make<{ readonly id: string; readonly cancelled: Deferred.Deferred<void> } | undefined>(
        undefined
      )
      const job = yield* Ref.make<RunningJob | undefined>(undefined)

      const stages = yield* Stages.make({
        events,
        stageTimeout: options.stageTimeout,
        progress: records.update
      })
      const context: ActionContext = { registry, backups, stages, now: records.now, begin: (next) => Ref.set(job, next) }

      const perform = (record: ActionRecord, request: ActionRequest) => {
        switch (record.name) {
          case "CREATE_BACKUP":
            return createBackup(context, request)
          case "RESTORE":
            return restore(context, request)
          case "DELETE_BACKUP":
            return deleteBackup(context, request)
        }
      }

      const runAction = (queued: ActionRecord) =>
        Effect.gen(function*() {
          const id = queued.id
          const cancelled = yield* Deferred.make<void>()
          yield* Ref.set(running, { id, cancelled })
          yield* records.update(id, { state: "RUNNING", progressInfo: "Started" })
          yield* events.publish(OrchestratorEvent.ActionStarted({ action: yield* records.get(id) }))
          const request: ActionRequest = { id, manager: queued.backupManagerId, backupName: queued.backupName, cancelled }
          const outcome: ActionOutcome = yield* perform(queued, request).pipe(
            Effect.catchAllCause((cause) =>
              Effect.logError("The action failed unexpectedly", cause).pipe(
                Effect.as({ success: false, info: `The development orchestrator failed: ${reasonOf(cause)}` })
              )
            )
          )
          yield* Ref.set(job, undefined)
          yield* Ref.set(running, undefined)
          const finished = yield* records.finish(id, {
            result: outcome.success ? "SUCCESS" : "FAILURE",
            ...(outcome.success ? { progressPercentage: 100 } : {}),
            progressInfo: outcome.info,
            resultInfo: outcome.info,
            completionTime: yield* records.now
          })
          yield* events.publish(OrchestratorEvent.ActionFinished({ action: finished }))
        }).pipe(
          // A record always exists while its action runs: a missing one is a bug.
          Effect.orDie,
          Effect.annotateLogs({ actionId: queued.id })
        )

      yield* Queue.take(pending).pipe(Effect.flatMap(runAction), Effect.forever, Effect.forkScoped)

      return {
        start: (manager, name, backupName) =>
          Effect.gen(function*() {
            if (!actionNames.includes(name)) {
              return yield* new InvalidActionRequest({ reason: `Unknown action ${name}` })
            }
            const problem = backupNameProblem(backupName)
            if (problem !== undefined) {
              return yield* new InvalidActionRequest({ reason: `Failing for having an invalid backup name: ${problem}` })
            }
            const record = yield* records.create(name, manager, backupName)
            yield* Queue.offer(pending, record)
            return record
          }),
        action: records.get,
        actions: records.all,
        awaitAction: records.awaitFinished,
        cancel: (id) =>
          Effect.gen(function*() {
            const current = yield* Ref.get(running)
            if (current === undefined || (id !== undefined && id !== current.id)) return yield* new NoActionRunning()
            yield* Deferred.succeed(current.cancelled, undefined)
            return yield* Effect.orElseFail(records.get(current.id), () => new NoActionRunning())
          }),
        ongoing: Effect.flatMap(Ref.get(running), (current) =>
          current === undefined ? Effect.succeed(undefined) : Effect.orElseSucceed(records.get(current.id), () => undefined)),
        job: Ref.get(job),
        answer: stages.answer
      }
    })
  )
