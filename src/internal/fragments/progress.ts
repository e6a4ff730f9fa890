/**
 * A transfer's progress as both engines report it: chunk by chunk without
 * waiting, and each file's end; and the rate logged at a fragment's end.
 *
 * @since 0.1.0
 */
import { Effect, PubSub } from "effect"
import type { FragmentFile } from "../../core/Message.js"

/**
 * See `Fragments.TransferProgress`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransferProgress {
  readonly direction: "upload" | "download"
  readonly backupName: string
  readonly fragmentId: string
  readonly file: FragmentFile
  readonly fileName: string
  readonly bytesDone: number
  /** Known for files and sized sources; for downloads, the size the orchestrator recorded. */
  readonly bytesTotal: number | undefined
  readonly done: boolean
}

/**
 * What an engine says about one file; the reporter adds the rest.
 *
 * @since 0.1.0
 * @category models
 */
export type FileProgress = Omit<TransferProgress, "direction" | "backupName" | "fragmentId">

/**
 * Reports one fragment's progress.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reporter {
  /**
   * Reports a chunk's progress without waiting, so that no Effect per chunk
   * holds the chunk. When a slow subscriber's buffer is full, this report is
   * dropped: a later one supersedes it.
   */
  readonly chunk: (progress: FileProgress) => void
  /** Reports the end of a file; a slow subscriber's oldest report makes room for it. */
  readonly done: (progress: FileProgress) => Effect.Effect<void>
}

/**
 * A reporter that publishes one fragment's progress to `progress`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reporter = (
  progress: PubSub.PubSub<TransferProgress>,
  direction: TransferProgress["direction"],
  backupName: string,
  fragmentId: string
): Reporter => ({
  chunk: (file) => void progress.unsafeOffer({ direction, backupName, fragmentId, ...file }),
  done: (file) => PubSub.publish(progress, { direction, backupName, fragmentId, ...file })
})

/**
 * The rate, for a log line: `", 12.3 MiB/s"`, or nothing when no time passed.
 *
 * @since 0.1.0
 */
export const rate = (bytes: number, millis: number): string =>
  millis <= 0 ? "" : `, ${(bytes / 1024 / 1024 / (millis / 1000)).toFixed(1)} MiB/s`
