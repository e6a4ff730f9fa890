/**
 * How much fragment data one orchestrator holds in memory across all its data
 * calls. With one call per agent, memory would otherwise grow with the
 * number of agents: uploads stop reading while too much upload content is
 * held, and downloads wait for a place before reading a chunk. Each
 * orchestrator has budgets of its own, so two in one process do not slow
 * each other down.
 *
 * The budgets are touched from grpc-js callbacks (a message arrived, a write
 * went out), so they are plain synchronous counters.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"

/**
 * The upload content held (read, not yet written): past `high` every upload
 * call stops reading, and they read again under `low`.
 *
 * @since 0.1.0
 * @category models
 */
export interface UploadBudget {
  readonly high: number
  readonly low: number
  /** Bytes held now. */
  readonly held: () => number
  /** Counts bytes as held. */
  readonly hold: (bytes: number) => void
  /** Counts bytes as written; under `low`, every call waiting for room is woken. */
  readonly release: (bytes: number) => void
  /** Calls `wake` once the content held falls under `low` (until `stopWaiting`). */
  readonly waitForRoom: (wake: () => void) => void
  readonly stopWaiting: (wake: () => void) => void
}

/**
 * Places for restore chunks read and not yet written out: a download takes
 * one before it reads a chunk and gives it back once grpc-js wrote the chunk.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownloadBudget {
  readonly limit: number
  /** Waits for a place and takes it. */
  readonly take: Effect.Effect<void>
  readonly giveBack: () => void
}

/**
 * The budgets of one orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class FlowControl extends Context.Tag("bro-agent/orchestrator/FlowControl")<
  FlowControl,
  { readonly uploads: UploadBudget; readonly downloads: DownloadBudget }
>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface FlowControlOptions {
  /** Upload content held before uploads stop reading; 64 MiB by default. */
  readonly uploadHigh?: number
  /** Upload content under which uploads read again; 32 MiB by default. */
  readonly uploadLow?: number
  /** Restore chunks held at most; 64 by default (32 MiB at the default chunk size). */
  readonly downloadChunks?: number
}

const uploadBudget = (high: number, low: number): UploadBudget => {
  let held = 0
  const waiting = new Set<() => void>()
  return {
    high,
    low,
    held: () => held,
    hold: (bytes) => {
      held += bytes
    },
    release: (bytes) => {
      held -= bytes
      if (held <= low) for (const wake of [...waiting]) wake()
    },
    waitForRoom: (wake) => void waiting.add(wake),
    stopWaiting: (wake) => void waiting.delete(wake)
  }
}

const downloadBudget = (limit: number): DownloadBudget => {
  let used = 0
  const waiting = new Set<() => void>()
  return {
    limit,
    take: Effect.async<void>((resume) => {
      const attempt = () => {
        if (used >= limit) return false
        used++
        waiting.delete(wake)
        resume(Effect.void)
        return true
      }
      const wake = () => void attempt()
      if (!attempt()) waiting.add(wake)
      return Effect.sync(() => void waiting.delete(wake))
    }),
    giveBack: () => {
      used--
      for (const wake of [...waiting]) {
        if (used >= limit) break
        wake()
      }
    }
  }
}

/**
 * Fresh budgets for one orchestrator.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: FlowControlOptions = {}): Layer.Layer<FlowControl> =>
  Layer.sync(FlowControl, () => ({
    uploads: uploadBudget(options.uploadHigh ?? 64 * 1024 * 1024, options.uploadLow ?? 32 * 1024 * 1024),
    downloads: downloadBudget(options.downloadChunks ?? 64)
  }))
