/**
 * Reads a fragment's restore stream as the protocol lays it out: the backup
 * file (name, content chunks, checksum), then optionally the custom-metadata
 * file the same way. It checks the order and the names, counts the bytes,
 * and says what to do with each part; the checksum that ends a file is
 * handed on to be compared with the one computed (on a worker thread, for a
 * large file). No I/O: the folder and stream downloads of
 * `behavior/Fragments` are built on it.
 *
 * @since 0.1.0
 */
import { Either } from "effect"
import { fileNameProblem } from "./Checksum.js"
import type { FragmentFile, RestoreMessage } from "../core/Message.js"

/**
 * Why a restore stream cannot be accepted.
 *
 * @since 0.1.0
 * @category models
 */
export interface RestoreProblem {
  readonly reason: string
  /** The file the problem is about, when one was named. */
  readonly fileName: string | undefined
}

/**
 * What to do with a part of the stream that passed the checks.
 *
 * @since 0.1.0
 * @category models
 */
export type RestoreOutput =
  | { readonly _tag: "FileStarted"; readonly file: FragmentFile; readonly fileName: string }
  | { readonly _tag: "Bytes"; readonly file: FragmentFile; readonly bytes: Uint8Array }
  | {
    /** The file's last part: the checksum the orchestrator sent for it, and the bytes counted. */
    readonly _tag: "FileEnded"
    readonly file: FragmentFile
    readonly fileName: string
    readonly checksum: string
    readonly size: number
  }

/**
 * @since 0.1.0
 * @category models
 */
export type ReaderState =
  | { readonly _tag: "AwaitingBackupFile" }
  | {
    readonly _tag: "InFile"
    readonly file: FragmentFile
    readonly fileName: string
    readonly size: number
  }
  | { readonly _tag: "AfterBackupFile" }
  | { readonly _tag: "Complete" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const initial: ReaderState = { _tag: "AwaitingBackupFile" }

const label = (file: FragmentFile) => (file === "BACKUP_FILE" ? "backup file" : "custom-metadata file")

const problem = (reason: string, fileName?: string): Either.Either<never, RestoreProblem> =>
  Either.left({ reason, fileName })

/**
 * Takes one message of the stream.
 *
 * @since 0.1.0
 * @category transitions
 */
export const read = (
  state: ReaderState,
  message: RestoreMessage
): Either.Either<{ readonly state: ReaderState; readonly output: RestoreOutput | undefined }, RestoreProblem> => {
  if (message._tag === "Unsupported") {
    return problem(`unexpected message of type ${message.messageType}`, state._tag === "InFile" ? state.fileName : undefined)
  }
  switch (state._tag) {
    case "AwaitingBackupFile":
    case "AfterBackupFile": {
      const expected: FragmentFile = state._tag === "AwaitingBackupFile" ? "BACKUP_FILE" : "CUSTOM_METADATA_FILE"
      if (message._tag !== "FileName") {
        return problem(`a ${label(message.file)} chunk arrived for a file that was never named`)
      }
      if (message.file !== expected) {
        return problem(`the ${label(message.file)} was named where the ${label(expected)} was expected`, message.fileName)
      }
      const bad = fileNameProblem(message.fileName)
      if (bad !== undefined) return problem(`${bad}: refused, it could write outside the folder`, message.fileName)
      return Either.right({
        state: { _tag: "InFile", file: message.file, fileName: message.fileName, size: 0 },
        output: { _tag: "FileStarted", file: message.file, fileName: message.fileName }
      })
    }
    case "Complete":
      return problem(`a message arrived after the custom-metadata file was complete`)
    case "InFile": {
      if (message.file !== state.file) {
        return problem(`a ${label(message.file)} chunk arrived inside the ${label(state.file)}`, state.fileName)
      }
      switch (message._tag) {
        case "FileName":
          return problem(`a second file name arrived before the checksum of ${state.fileName}`, state.fileName)
        case "Content":
          return Either.right({
            state: { ...state, size: state.size + message.content.length },
            output: { _tag: "Bytes", file: state.file, bytes: message.content }
          })
        case "Checksum":
          return Either.right({
            state: state.file === "BACKUP_FILE" ? { _tag: "AfterBackupFile" } : { _tag: "Complete" },
            output: {
              _tag: "FileEnded",
              file: state.file,
              fileName: state.fileName,
              checksum: message.checksum,
              size: state.size
            }
          })
      }
    }
  }
}

/**
 * Checks the stream's end: the backup file must be complete.
 *
 * @since 0.1.0
 * @category transitions
 */
export const end = (state: ReaderState): Either.Either<void, RestoreProblem> => {
  switch (state._tag) {
    case "AfterBackupFile":
    case "Complete":
      return Either.void
    case "AwaitingBackupFile":
      return problem("the stream ended before any file arrived")
    case "InFile":
      return problem(`the stream ended before the checksum of ${state.fileName}`, state.fileName)
  }
}

/**
 * Why a file's checksum cannot be accepted, or `undefined` when the one
 * received (in either case) is the one computed.
 *
 * @since 0.1.0
 * @category validation
 */
export const checksumProblem = (
  ended: Extract<RestoreOutput, { readonly _tag: "FileEnded" }>,
  computed: string
): RestoreProblem | undefined =>
  computed === ended.checksum.toUpperCase()
    ? undefined
    : { reason: `checksum mismatch: received ${ended.checksum}, computed ${computed}`, fileName: ended.fileName }
