/**
 * How a transfer on the data channel fails: the errors `behavior/Fragments`
 * re-exports, each with a `reason` a caller can branch on beside the text
 * that explains it, and the refusal of bad settings. Declared here, so that
 * the upload and download engines never import the public module.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import { Data } from "effect"
import type { StatusCode } from "../../core/Status.js"
import type { DataChannelError, DataChannelTimeout } from "../../transport/OrchestratorTransport.js"
import type { FieldProblem } from "../Settings.js"

/**
 * Why a transfer failed; see `Fragments.TransferFailureReason`.
 *
 * @since 0.1.0
 * @category models
 */
export type TransferFailureReason =
  | "RefusedByOrchestrator"
  | "ChecksumMismatch"
  | "UnsafeFileName"
  | "Timeout"
  | "SourceFailed"
  | "FileSystem"
  | "ProtocolViolation"
  | "InvalidFragment"

/**
 * What both kinds of transfer failure say about why.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailureFields {
  readonly reason: TransferFailureReason
  /** What went wrong, in words. */
  readonly detail: string
  /** The orchestrator's gRPC status, when it answered with one. */
  readonly status: StatusCode | undefined
  readonly cause: unknown
}

/**
 * See `Fragments.FailedToTransferBackup`.
 *
 * @since 0.1.0
 * @category errors
 */
export class FailedToTransferBackup extends Data.TaggedError("FailedToTransferBackup")<
  FailureFields & {
    readonly fragmentId: string
    /** The file path, or the name of the bytes or stream. */
    readonly source: string
  }
> {
  override get message(): string {
    return `Failed to send fragment ${this.fragmentId} (${this.source}): ${this.detail}`
  }
}

/**
 * See `Fragments.FailedToDownload`.
 *
 * @since 0.1.0
 * @category errors
 */
export class FailedToDownload extends Data.TaggedError("FailedToDownload")<
  FailureFields & {
    readonly fragmentId: string
    /** The file the failure is about, when one was named. */
    readonly fileName: string | undefined
  }
> {
  override get message(): string {
    const file = this.fileName === undefined ? "" : ` (${this.fileName})`
    return `Failed to download fragment ${this.fragmentId}${file}: ${this.detail}`
  }
}

/**
 * See `Fragments.InvalidDataChannelSettings`.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidDataChannelSettings extends Data.TaggedError("InvalidDataChannelSettings")<{
  readonly problems: ReadonlyArray<FieldProblem>
}> {
  override get message(): string {
    return `Invalid data channel settings: ${this.problems.map((problem) => `${problem.field} ${problem.reason}`).join("; ")}`
  }
}

/**
 * Why the call or the file system failed a transfer: a status from the
 * orchestrator (which ends the call, whether it refused the fragment or the
 * connection was lost: `status` tells which), no progress for the timeout,
 * or a file that could not be read, written or renamed.
 *
 * @since 0.1.0
 */
export const channelFailure = (error: DataChannelError | DataChannelTimeout | PlatformError): FailureFields => {
  switch (error._tag) {
    case "DataChannelError":
      return {
        reason: "RefusedByOrchestrator",
        detail: error.details === "" ? error.message : error.details,
        status: error.status,
        cause: error
      }
    case "DataChannelTimeout":
      return { reason: "Timeout", detail: error.message, status: undefined, cause: error }
    case "BadArgument":
    case "SystemError":
      return { reason: "FileSystem", detail: error.message, status: undefined, cause: error }
  }
}
