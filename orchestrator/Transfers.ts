/**
 * Live byte-level progress of the data calls: for each action, per agent
 * and fragment, how many bytes an upload received (of the size its metadata
 * declared) or a download sent (of the size stored), its rate and the time
 * left. The REST API shows it beside BRO's progress fields, and the command
 * line while it waits for an action.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Schema } from "effect"

/**
 * One fragment's transfer, as the REST API shows it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TransferJson = Schema.Struct({
  agentId: Schema.String,
  fragmentId: Schema.String,
  direction: Schema.Literal("upload", "download"),
  bytesDone: Schema.Number,
  /** The size the upload's metadata declared, or the download's stored size. */
  bytesTotal: Schema.Number,
  bytesPerSecond: Schema.Number,
  /** Absent while no rate is known yet. */
  secondsLeft: Schema.optional(Schema.Number),
  state: Schema.Literal("RUNNING", "DONE", "FAILED")
})

/**
 * @since 0.1.0
 * @category models
 */
export type TransferJson = typeof TransferJson.Type

interface Entry {
  readonly agentId: string
  readonly fragmentId: string
  readonly direction: "upload" | "download"
  readonly startedAt: number
  // Changed in place by its handler, chunk by chunk: no copy of an action's
  // list per chunk when a thousand agents transfer at once.
  updatedAt: number
  bytesDone: number
  readonly bytesTotal: number
  state: "RUNNING" | "DONE" | "FAILED"
}

/**
 * A handle on one transfer, for the handler that runs it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transfer {
  /** `bytes` more were received or sent. */
  readonly add: (bytes: number) => Effect.Effect<void>
  readonly end: (state: "DONE" | "FAILED") => Effect.Effect<void>
}

/**
 * The transfers of one orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class Transfers extends Context.Tag("bro-agent/orchestrator/Transfers")<
  Transfers,
  {
    readonly start: (
      actionId: string,
      transfer: {
        readonly agentId: string
        readonly fragmentId: string
        readonly direction: "upload" | "download"
        readonly bytesTotal: number
      }
    ) => Effect.Effect<Transfer>
    /** An action's transfers, in the order they started. */
    readonly of: (actionId: string) => Effect.Effect<ReadonlyArray<TransferJson>>
  }
>() {}

/** How many actions' transfers are kept: the latest ones. */
const keptActions = 100

const shown = (entry: Entry, now: number): TransferJson => {
  const seconds = Math.max(0.001, ((entry.state === "RUNNING" ? now : entry.updatedAt) - entry.startedAt) / 1000)
  const rate = entry.bytesDone / seconds
  const left = Math.max(0, entry.bytesTotal - entry.bytesDone)
  return {
    agentId: entry.agentId,
    fragmentId: entry.fragmentId,
    direction: entry.direction,
    bytesDone: entry.bytesDone,
    bytesTotal: entry.bytesTotal,
    bytesPerSecond: Math.round(rate),
    ...(entry.state === "DONE" ? { secondsLeft: 0 } : rate > 0 ? { secondsLeft: Math.round((left / rate) * 10) / 10 } : {}),
    state: entry.state
  }
}

/**
 * An empty record of transfers.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Transfers> = Layer.sync(Transfers, () => {
  // Insertion-ordered: the oldest action's transfers go first.
  const actions = new Map<string, Array<Entry>>()
  return {
    start: (actionId, transfer) =>
      Effect.map(Clock.currentTimeMillis, (now): Transfer => {
        const entry: Entry = { ...transfer, startedAt: now, updatedAt: now, bytesDone: 0, state: "RUNNING" }
        const list = actions.get(actionId)
        if (list === undefined) {
          actions.set(actionId, [entry])
          for (const oldest of actions.keys()) {
            if (actions.size <= keptActions) break
            actions.delete(oldest)
          }
        } else {
          list.push(entry)
        }
        return {
          add: (bytes) =>
            Effect.map(Clock.currentTimeMillis, (at) => {
              if (entry.state !== "RUNNING") return
              entry.bytesDone += bytes
              entry.updatedAt = at
            }),
          end: (state) =>
            Effect.map(Clock.currentTimeMillis, (at) => {
              if (entry.state !== "RUNNING") return
              entry.state = state
              entry.updatedAt = at
            })
        }
      }),
    of: (actionId) =>
      Effect.map(Clock.currentTimeMillis, (now) => (actions.get(actionId) ?? []).map((entry) => shown(entry, now)))
  }
})
