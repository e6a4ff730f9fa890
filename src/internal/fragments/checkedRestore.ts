/**
 * A fragment's restore stream, read and checked: the pure restore reader
 * checks the order and the names, each file is hashed as its bytes pass and
 * its checksum compared at its end. Both downloads (into a folder, as a byte
 * stream) pull from it.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import { Chunk, Data, Effect, Either, Option, Scope, Stream } from "effect"
import type { FragmentInformation } from "../../core/Fragment.js"
import type { FragmentFile, FragmentRequest, RestoreMessage } from "../../core/Message.js"
import type { DataChannelError, DataChannelTimeout } from "../../transport/OrchestratorTransport.js"
import { fileNameProblem } from "../Checksum.js"
import * as ChecksumWorker from "../ChecksumWorker.js"
import * as RestoreReader from "../RestoreReader.js"
import type { BackupTarget, DataChannel } from "./channel.js"
import type { TransferFailureReason } from "./errors.js"
import { reporter } from "./progress.js"

/**
 * The restore stream cannot be accepted: what the reader or the checksum
 * refused, and which kind of refusal it is.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReaderRefused extends Data.TaggedError("ReaderRefused")<{
  readonly reason: Extract<TransferFailureReason, "ChecksumMismatch" | "UnsafeFileName" | "ProtocolViolation">
  readonly problem: RestoreReader.RestoreProblem
}> {}

/**
 * What passed the checks: a file's start, its bytes, and its end once its
 * checksum matched.
 *
 * @since 0.1.0
 * @category models
 */
export type CheckedOutput =
  | Exclude<RestoreReader.RestoreOutput, { readonly _tag: "FileEnded" }>
  | {
    readonly _tag: "FileVerified"
    readonly file: FragmentFile
    readonly fileName: string
    readonly checksum: string
    readonly size: number
  }

/**
 * How reading the restore stream fails.
 *
 * @since 0.1.0
 * @category errors
 */
export type DownloadError = DataChannelError | DataChannelTimeout | ReaderRefused | PlatformError

/**
 * Where the checked stream writes a file itself, on its checksum's worker
 * thread, rather than handing its bytes on to be written: asked when the
 * file starts; `undefined` for a file whose bytes the caller takes.
 *
 * @since 0.1.0
 * @category models
 */
export type WriteFile = (file: FragmentFile, fileName: string) => ChecksumWorker.FileWriteOptions | undefined

/**
 * A pull's next value, or `None` once it ended.
 *
 * @since 0.1.0
 */
export const untilEnd = <A, E>(pull: Effect.Effect<A, Option.Option<E>>): Effect.Effect<Option.Option<A>, E> =>
  Effect.catchAll(
    Effect.map(pull, Option.some),
    Option.match({ onNone: () => Effect.succeed(Option.none()), onSome: Effect.fail })
  )

const requestFor = (channel: DataChannel, target: BackupTarget, fragment: FragmentInformation): FragmentRequest => ({
  agentId: channel.agentId,
  backupName: target.backupName,
  backupType: target.backupType,
  fragment
})

const sizeHint = (fragment: FragmentInformation): number | undefined => {
  const size = Number(fragment.sizeInBytes)
  return Number.isSafeInteger(size) && size > 0 ? size : undefined
}

// The reader refuses a file name it was expecting when the name could leave
// the folder; anything else it refuses breaks the protocol's order.
const refusalOf = (message: RestoreMessage, problem: RestoreReader.RestoreProblem): ReaderRefused["reason"] =>
  message._tag === "FileName" && problem.fileName === message.fileName && fileNameProblem(message.fileName) !== undefined
    ? "UnsafeFileName"
    : "ProtocolViolation"

/**
 * The restore stream, read and checked, as a pull: each pull gives what
 * passed of the next messages, and fails with `None` at the stream's end.
 *
 * @since 0.1.0
 */
// The messages of one pull are checked in one Effect: an Effect per message
// as a stage of a Stream (or a generator per pull) made V8 keep the chunks'
// buffers until full collections, run back to back while chunks arrive.
export const checkedPull = (
  channel: DataChannel,
  target: BackupTarget,
  fragment: FragmentInformation,
  writeFile?: WriteFile
): Effect.Effect<Effect.Effect<Chunk.Chunk<CheckedOutput>, Option.Option<DownloadError>>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const pull = yield* Stream.toPull(channel.transport.openDownload(requestFor(channel, target, fragment), {
      idleTimeout: channel.settings.timeout
    }))
    let state = RestoreReader.initial
    let hash: ChecksumWorker.Md5Session | undefined
    // The current file when this writes it: fed instead of `hash`.
    let writer: ChecksumWorker.FileWriteSession | undefined
    let done = 0
    const total = sizeHint(fragment)
    const report = reporter(channel.progress, "download", target.backupName, fragment.fragmentId)
    const refused = (reason: ReaderRefused["reason"], problem: RestoreReader.RestoreProblem) =>
      Effect.fail(new ReaderRefused({ reason, problem }))

    // A plain loop that steps into an Effect only where one is needed (a
    // session to open, a worker to wait for): an Effect.gen per pull made V8
    // keep the chunks' buffers until a full collection.
    type CheckError = ReaderRefused | PlatformError | DataChannelTimeout
    const check = (messages: Chunk.Chunk<RestoreMessage>): Effect.Effect<Chunk.Chunk<CheckedOutput>, CheckError> => {
      const outputs: Array<CheckedOutput> = []
      const pending = Chunk.toReadonlyArray(messages)
      let index = 0
      const rest = (): Effect.Effect<Chunk.Chunk<CheckedOutput>, CheckError> => {
        while (index < pending.length) {
          const message = pending[index++]
          if (message === undefined) continue
          const result = RestoreReader.read(state, message)
          if (Either.isLeft(result)) return refused(refusalOf(message, result.left), result.left)
          const { output, state: next } = result.right
          state = next
          if (output === undefined) continue
          switch (output._tag) {
            case "FileStarted": {
              outputs.push(output)
              hash = undefined
              writer = undefined
              const writing = channel.checksums.openFileWriter === undefined
                ? undefined
                : writeFile?.(output.file, output.fileName)
              if (writing !== undefined && channel.checksums.openFileWriter !== undefined) {
                return Effect.flatMap(Scope.extend(channel.checksums.openFileWriter(writing), scope), (session) => {
                  writer = session
                  return rest()
                })
              }
              // A custom-metadata file is small by nature: it is hashed in place.
              const opened = output.file === "BACKUP_FILE"
                ? channel.checksums.open(total)
                : ChecksumWorker.inPlace.open(undefined)
              return Effect.flatMap(Scope.extend(opened, scope), (session) => {
                hash = session
                return rest()
              })
            }
            case "Bytes": {
              if (output.file === "BACKUP_FILE" && next._tag === "InFile") {
                done += output.bytes.length
                report.chunk({ file: "BACKUP_FILE", fileName: next.fileName, bytesDone: done, bytesTotal: total, done: false })
              }
              // Written here: the bytes are not handed on, so that no chunk outlives its copy.
              if (writer !== undefined) return Effect.flatMap(writer.write(output.bytes), rest)
              if (hash === undefined) return Effect.dieMessage("bro-agent: bytes arrived for a file not started")
              outputs.push(output)
              return Effect.flatMap(hash.update(output.bytes), rest)
            }
            case "FileEnded": {
              const digest = writer?.finish ?? hash?.digest
              if (digest === undefined) return Effect.dieMessage("bro-agent: a file ended that was not started")
              return Effect.flatMap(digest, (computed): Effect.Effect<Chunk.Chunk<CheckedOutput>, CheckError> => {
                const problem = RestoreReader.checksumProblem(output, computed)
                if (problem !== undefined) return refused("ChecksumMismatch", problem)
                outputs.push({ ...output, _tag: "FileVerified", checksum: computed })
                return rest()
              })
            }
          }
        }
        return Effect.succeed(Chunk.unsafeFromArray(outputs))
      }
      return Effect.suspend(rest)
    }

    const atEnd = Effect.suspend(() => {
      const ended = RestoreReader.end(state)
      return Either.isLeft(ended)
        ? Effect.fail(Option.some<DownloadError>(new ReaderRefused({ reason: "ProtocolViolation", problem: ended.left })))
        : Effect.fail(Option.none())
    })

    return pull.pipe(
      Effect.catchAll(Option.match({ onNone: () => atEnd, onSome: (error) => Effect.fail(Option.some(error)) })),
      Effect.flatMap((messages) => Effect.mapError(check(messages), Option.some))
    )
  })
