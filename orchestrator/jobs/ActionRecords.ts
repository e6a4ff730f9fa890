/**
 * The records of the actions asked for: their ids, states and results, as
 * the REST API shows them.
 *
 * @since 0.1.0
 */
import { Effect, Option, Stream, SubscriptionRef } from "effect"
import type { ActionName, ActionRecord } from "../Model.js"
import { ActionNotFound } from "../Model.js"

/**
 * The action records of one orchestrator.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActionRecords {
  /** A new action's record, RUNNING and queued. */
  readonly create: (name: ActionName, manager: string, backupName: string) => Effect.Effect<ActionRecord>
  /** Changes an action's record (and its last update time). */
  readonly update: (id: string, change: (record: ActionRecord) => Partial<ActionRecord>) => Effect.Effect<void>
  readonly get: (id: string) => Effect.Effect<ActionRecord, ActionNotFound>
  /** Every record kept, in the order the actions were asked for. */
  readonly all: Effect.Effect<ReadonlyArray<ActionRecord>>
  /** Waits until the action is FINISHED and returns its final record. */
  readonly awaitFinished: (id: string) => Effect.Effect<ActionRecord, ActionNotFound>
  /** The time now, ISO-8601. */
  readonly now: Effect.Effect<string>
}

/**
 * No records yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<ActionRecords> = Effect.sync(() => {
  const records = new Map<string, SubscriptionRef.SubscriptionRef<ActionRecord>>()
  const now = Effect.sync(() => new Date().toISOString())
  const newId = (): string => {
    for (;;) {
      const id = String(Math.floor(Math.random() * 65536))
      if (!records.has(id)) return id
    }
  }
  const find = (id: string) => {
    const ref = records.get(id)
    return ref === undefined ? Effect.fail(new ActionNotFound({ id })) : Effect.succeed(ref)
  }
  return {
    now,
    create: (name, manager, backupName) =>
      Effect.gen(function*() {
        const id = newId()
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
        records.set(id, yield* SubscriptionRef.make(record))
        return record
      }),
    update: (id, change) =>
      Effect.gen(function*() {
        const ref = records.get(id)
        if (ref === undefined) return
        const time = yield* now
        yield* SubscriptionRef.update(ref, (record) => ({ ...record, ...change(record), lastUpdateTime: time }))
      }),
    get: (id) => Effect.flatMap(find(id), SubscriptionRef.get),
    all: Effect.suspend(() => Effect.forEach([...records.values()], SubscriptionRef.get)),
    awaitFinished: (id) =>
      Effect.gen(function*() {
        const ref = yield* find(id)
        const finished = yield* ref.changes.pipe(Stream.filter((record) => record.state === "FINISHED"), Stream.runHead)
        return yield* Option.match(finished, { onNone: () => SubscriptionRef.get(ref), onSome: Effect.succeed })
      })
  }
})
