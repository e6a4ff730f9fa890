/**
 * The records of the actions asked for: their ids, states and results, as
 * the REST API shows them.
 *
 * Ids are decimal numbers counted up from a random start below 65 536 (BRO's
 * ids are random numbers below 65 536, as text): every id is one no other
 * action of the orchestrator had, however many actions it runs, and none is
 * ever searched for. The records of queued and running actions are all
 * kept; of the finished ones, the latest `finishedActionsKept`, so that
 * memory does not grow with the number of actions run. Times come from
 * `Clock` and the start from `Random`, so that `TestClock` and a seeded
 * `Random` drive them in tests.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Effect, Random, Ref } from "effect"
import type { ActionName, ActionRecord } from "../Model.js"
import { ActionNotFound } from "../Model.js"
import * as Quote from "../Quote.js"

/**
 * How many finished actions' records are kept (the oldest go first): 1 000,
 * a few MB at most.
 *
 * @since 0.1.0
 * @category constants
 */
export const finishedActionsKept = 1_000

/**
 * The action records of one orchestrator.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActionRecords {
  /** A new action's record, RUNNING and queued. */
  readonly create: (name: ActionName, manager: string, backupName: string) => Effect.Effect<ActionRecord>
  /** Changes a running action's record (and its last update time). */
  readonly update: (id: string, change: Partial<ActionRecord>) => Effect.Effect<void>
  /** Finishes an action: its record becomes FINISHED with `change`, and older finished records beyond the bound go. */
  readonly finish: (id: string, change: Partial<ActionRecord>) => Effect.Effect<ActionRecord, ActionNotFound>
  readonly get: (id: string) => Effect.Effect<ActionRecord, ActionNotFound>
  /** Every record kept, in the order the actions were asked for. */
  readonly all: Effect.Effect<ReadonlyArray<ActionRecord>>
  /** Waits until the action is FINISHED and returns its final record. */
  readonly awaitFinished: (id: string) => Effect.Effect<ActionRecord, ActionNotFound>
  /** The time now, ISO-8601. */
  readonly now: Effect.Effect<string>
}

interface Entry {
  readonly record: Ref.Ref<ActionRecord>
  readonly finished: Deferred.Deferred<ActionRecord>
}

/**
 * No records yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly kept?: number } = {}): Effect.Effect<ActionRecords> =>
  Effect.gen(function*() {
    const kept = options.kept ?? finishedActionsKept
    // A Map iterates in insertion order: the order the actions were asked for.
    const records = new Map<string, Entry>()
    const finishedOrder: Array<string> = []
    const next = yield* Ref.make(yield* Random.nextIntBetween(0, 65536))
    const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString())
    const find = (id: string) => {
      const entry = records.get(id)
      return entry === undefined ? Effect.fail(new ActionNotFound({ id })) : Effect.succeed(entry)
    }
    // What users read is bounded: it may quote what agents and clients sent.
    const bounded = (fields: Partial<ActionRecord>): Partial<ActionRecord> => ({
      ...fields,
      ...(fields.progressInfo === undefined ? {} : { progressInfo: Quote.info(fields.progressInfo) }),
      ...(fields.resultInfo === undefined ? {} : { resultInfo: Quote.info(fields.resultInfo) })
    })
    const change = (entry: Entry, fields: Partial<ActionRecord>) =>
      Effect.flatMap(
        now,
        (time) => Ref.updateAndGet(entry.record, (record) => ({ ...record, ...bounded(fields), lastUpdateTime: time }))
      )
    return {
      now,
      create: (name, manager, backupName) =>
        Effect.gen(function*() {
          const id = String(yield* Ref.getAndUpdate(next, (n) => n + 1))
          const time = yield* now
          const record: ActionRecord = {
            id,
            name,
            backupManagerId: manager,
            backupName,
            state: "RUNNING",
            result: "NOT_AVAILABLE",
            progressPercentage: 0,
            progressInfo: "Queued",
            resultInfo: undefined,
            additionalInfo: undefined,
            startTime: time,
            completionTime: undefined,
            lastUpdateTime: time
          }
          records.set(id, { record: yield* Ref.make(record), finished: yield* Deferred.make<ActionRecord>() })
          return record
        }),
      update: (id, fields) => {
        const entry = records.get(id)
        return entry === undefined ? Effect.void : Effect.asVoid(change(entry, fields))
      },
      finish: (id, fields) =>
        Effect.gen(function*() {
          const entry = yield* find(id)
          const record = yield* change(entry, { ...fields, state: "FINISHED" })
          yield* Deferred.succeed(entry.finished, record)
          finishedOrder.push(id)
          for (const oldest of finishedOrder.splice(0, Math.max(0, finishedOrder.length - kept))) records.delete(oldest)
          return record
        }),
      get: (id) => Effect.flatMap(find(id), (entry) => Ref.get(entry.record)),
      all: Effect.suspend(() => Effect.forEach([...records.values()], (entry) => Ref.get(entry.record))),
      awaitFinished: (id) => Effect.flatMap(find(id), (entry) => Deferred.await(entry.finished))
    }
  })
