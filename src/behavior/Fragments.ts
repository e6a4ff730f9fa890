/**
 * Fragments on the data channel: sending one during a backup (from a file,
 * from bytes, or from a byte `Stream` such as a database dump, with no
 * temporary file), and downloading one during a restore (into a folder, or
 * as a byte `Stream`). Checksums are computed as the bytes pass; memory
 * holds a few chunks whatever the fragment's size; every file handle and
 * call is scoped, so an interruption (a cancel) closes them.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Chunk, Clock, Config, Data, Duration, Effect, Either, Option, PubSub, Scope, Stream } from "effect"
import type { ConfigError } from "effect"
import { basename, join } from "node:path"
import { randomBytes } from "node:crypto"
import { fileNameProblem } from "../internal/Checksum.js"
import { FragmentInformation } from "../core/Fragment.js"
import type { FragmentFile, FragmentRequest, RestoreMessage } from "../core/Message.js"
import { FilePart } from "../core/Message.js"
import { idProblem } from "../core/Registration.js"
import * as RestoreReader from "../internal/RestoreReader.js"
import type { StatusCode } from "../core/Status.js"
import type { FragmentUpload } from "../transport/OrchestratorTransport.js"
import { DataChannelError, DataChannelTimeout, OrchestratorTransport } from "../transport/OrchestratorTransport.js"
import * as ChecksumWorker from "../internal/ChecksumWorker.js"

// ---------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------

/**
 * Where a file of a fragment comes from.
 *
 * @since 0.1.0
 * @category sources
 */
export type FileSource =
  | { readonly _tag: "Path"; readonly path: string }
  | { readonly _tag: "Bytes"; readonly name: string; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Stream"
    readonly name: string
    readonly stream: Stream.Stream<Uint8Array, unknown>
    readonly size: number | undefined
  }

/**
 * A file on disk; it travels under its base name and its size is read from
 * the file.
 *
 * @since 0.1.0
 * @category sources
 */
export const fromPath = (path: string): FileSource => ({ _tag: "Path", path })

/**
 * Bytes held in memory (a small custom-metadata file, say), sent under `name`.
 *
 * @since 0.1.0
 * @category sources
 */
export const fromBytes = (name: string, bytes: Uint8Array | string): FileSource => ({
  _tag: "Bytes",
  name,
  bytes: typeof bytes === "string" ? Buffer.from(bytes) : bytes
})

/**
 * A byte stream (a dump piped from a database tool, say), sent under `name`
 * as it is produced, with no temporary file. Give its `size` when known;
 * otherwise the fragment's `sizeInBytes` is sent as `"0"`: the orchestrator
 * uses the size only as a hint.
 *
 * @since 0.1.0
 * @category sources
 */
export const fromStream = <E>(
  name: string,
  stream: Stream.Stream<Uint8Array, E>,
  options: { readonly size?: number } = {}
): FileSource => ({ _tag: "Stream", name, stream, size: options.size })

const sourceName = (source: FileSource): string => (source._tag === "Path" ? basename(source.path) : source.name)

const describeSource = (source: FileSource): string =>
  source._tag === "Path" ? source.path : `${source._tag === "Bytes" ? "bytes" : "stream"} "${source.name}"`

/**
 * A fragment to send.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackupFragment {
  /** Unique in the backup; include the pod's host name when several pods back up. */
  readonly fragmentId: string
  readonly version: string
  readonly customInformation?: Readonly<Record<string, string>>
  readonly backupFile: FileSource
  readonly customMetadataFile?: FileSource
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

export {
  /**
   * The data channel made no progress for the configured time; see
   * `OrchestratorTransport.DataChannelTimeout`.
   *
   * @since 0.1.0
   * @category errors
   */
  DataChannelTimeout
} from "../transport/OrchestratorTransport.js"

/**
 * A fragment could not be sent. The call was cancelled, so the orchestrator
 * keeps no half fragment.
 *
 * @since 0.1.0
 * @category errors
 */
export class FailedToTransferBackup extends Data.TaggedError("FailedToTransferBackup")<{
  readonly fragmentId: string
  /** The file path, or the name of the bytes or stream. */
  readonly source: string
  readonly reason: string
  /** The orchestrator's gRPC status, when it answered with one. */
  readonly status: StatusCode | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    return `Failed to send fragment ${this.fragmentId} (${this.source}): ${this.reason}`
  }
}

/**
 * A fragment could not be restored. Nothing of it is left behind: files
 * written so far are removed, and a file that was already in the folder
 * under the same name is untouched.
 *
 * @since 0.1.0
 * @category errors
 */
export class FailedToDownload extends Data.TaggedError("FailedToDownload")<{
  readonly fragmentId: string
  readonly fileName: string | undefined
  readonly reason: string
  readonly status: StatusCode | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    const file = this.fileName === undefined ? "" : ` (${this.fileName})`
    return `Failed to download fragment ${this.fragmentId}${file}: ${this.reason}`
  }
}

// ---------------------------------------------------------------------------
// Settings and progress
// ---------------------------------------------------------------------------

/**
 * How the data channel is used.
 *
 * @since 0.1.0
 * @category models
 */
export interface DataChannelSettings {
  /** Bytes of file content per message (512 KiB by default). */
  readonly chunkSize: number
  /** How long a transfer may make no progress before it fails (30 s by default). */
  readonly timeout: Duration.Duration
}

/**
 * The largest chunk: one message must stay under the orchestrator's 4 MiB
 * limit, envelope included.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxChunkSize = 4 * 1024 * 1024 - 64 * 1024

/**
 * Reads `AGENT_FRAGMENT_CHUNK_SIZE` (KiB, default 512) and
 * `AGENT_DATA_CHANNEL_TIMEOUT_SECS` (default 30), the variables the
 * reference agent reads.
 *
 * @since 0.1.0
 * @category settings
 */
export const settingsConfig: Config.Config<DataChannelSettings> = Config.all({
  chunkSizeKiB: Config.integer("AGENT_FRAGMENT_CHUNK_SIZE").pipe(
    Config.withDefault(512),
    Config.validate({
      message: `must be between 1 and ${maxChunkSize / 1024} KiB`,
      validation: (kib) => kib >= 1 && kib * 1024 <= maxChunkSize
    })
  ),
  timeoutSeconds: Config.integer("AGENT_DATA_CHANNEL_TIMEOUT_SECS").pipe(
    Config.withDefault(30),
    Config.validate({ message: "must be at least 1 second", validation: (seconds) => seconds >= 1 })
  )
}).pipe(
  Config.map(({ chunkSizeKiB, timeoutSeconds }) => ({
    chunkSize: chunkSizeKiB * 1024,
    timeout: Duration.seconds(timeoutSeconds)
  }))
)

/**
 * Where a transfer is.
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
 * What the data-channel operations need: given by the running agent to each
 * stage's context, or built by hand to use them on their own.
 *
 * @since 0.1.0
 * @category models
 */
export interface DataChannel {
  readonly agentId: string
  readonly settings: DataChannelSettings
  readonly transport: OrchestratorTransport["Type"]
  readonly fileSystem: FileSystem.FileSystem
  readonly progress: PubSub.PubSub<TransferProgress>
  /** Where the transfers' MD5 checksums are computed: see `ChecksumWorker`. */
  readonly checksums: ChecksumWorker.Checksums
}

/**
 * Builds a data channel from the environment: the transport, the file
 * system, and the settings given or else those of `settingsConfig`. Large
 * transfers are hashed on a worker thread that lives no longer than the
 * scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDataChannel = (
  agentId: string,
  settings?: Partial<DataChannelSettings>
): Effect.Effect<DataChannel, ConfigError.ConfigError, OrchestratorTransport | FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fromEnvironment = yield* settingsConfig
    const chunkSize = settings?.chunkSize ?? fromEnvironment.chunkSize
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > maxChunkSize) {
      return yield* Effect.dieMessage(`bro-agent: chunkSize must be an integer from 1 to ${maxChunkSize} bytes`)
    }
    return {
      agentId,
      settings: { chunkSize, timeout: settings?.timeout ?? fromEnvironment.timeout },
      transport: yield* OrchestratorTransport,
      fileSystem: yield* FileSystem.FileSystem,
      progress: yield* PubSub.sliding<TransferProgress>(4096),
      checksums: yield* ChecksumWorker.make
    }
  })

/**
 * The backup a transfer belongs to.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackupTarget {
  readonly backupName: string
  readonly backupType: string
}

type Progress = Omit<TransferProgress, "direction" | "backupName" | "fragmentId">

interface Reporter {
  /**
   * Reports a chunk's progress without waiting, so that no Effect per chunk
   * holds the chunk. When a slow subscriber's buffer is full, this report is
   * dropped: a later one supersedes it.
   */
  readonly chunk: (progress: Progress) => void
  /** Reports the end of a file; a slow subscriber's oldest report makes room for it. */
  readonly done: (progress: Progress) => Effect.Effect<void>
}

const reporter = (
  channel: DataChannel,
  direction: TransferProgress["direction"],
  target: BackupTarget,
  fragmentId: string
): Reporter => ({
  chunk: (progress) =>
    void channel.progress.unsafeOffer({ direction, backupName: target.backupName, fragmentId, ...progress }),
  done: (progress) =>
    PubSub.publish(channel.progress, { direction, backupName: target.backupName, fragmentId, ...progress })
})

const withTimeout = (channel: DataChannel, waitingFor: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, {
    duration: channel.settings.timeout,
    onTimeout: () => new DataChannelTimeout({ waitingFor, after: channel.settings.timeout })
  })

const rate = (bytes: number, millis: number): string =>
  millis <= 0 ? "" : `, ${(bytes / 1024 / 1024 / (millis / 1000)).toFixed(1)} MiB/s`

// ---------------------------------------------------------------------------
// Backup
// ---------------------------------------------------------------------------

/**
 * What was sent.
 *
 * @since 0.1.0
 * @category models
 */
export interface SentFragment {
  readonly fragment: FragmentInformation
  readonly backupFile: { readonly fileName: string; readonly size: number; readonly checksum: string }
  readonly customMetadataFile:
    | { readonly fileName: string; readonly size: number; readonly checksum: string }
    | undefined
}

interface OpenedSource {
  readonly fileName: string
  readonly size: number | undefined
  readonly content:
    | { readonly _tag: "Chunks"; readonly chunks: Stream.Stream<Uint8Array, unknown> }
    // A file is read into one buffer, reused chunk after chunk: no chunk per read.
    | { readonly _tag: "File"; readonly file: FileSystem.File }
}

class SourceFailed extends Data.TaggedError("SourceFailed")<{ readonly reason: string; readonly cause: unknown }> {}

type TransferError = DataChannelError | DataChannelTimeout | SourceFailed | PlatformError

const openSource = (channel: DataChannel, source: FileSource) =>
  Effect.gen(function*() {
    const fileName = sourceName(source)
    const badName = fileNameProblem(fileName)
    if (badName !== undefined) return yield* new SourceFailed({ reason: badName, cause: undefined })
    switch (source._tag) {
      case "Bytes":
        return {
          fileName,
          size: source.bytes.length,
          content: { _tag: "Chunks", chunks: Stream.succeed(source.bytes) }
        } satisfies OpenedSource
      case "Stream":
        return { fileName, size: source.size, content: { _tag: "Chunks", chunks: source.stream } } satisfies OpenedSource
      case "Path": {
        // One handle for the size and the bytes: the file is read once.
        const file = yield* channel.fileSystem.open(source.path, { flag: "r" })
        const info = yield* file.stat
        if (info.type !== "File") {
          return yield* new SourceFailed({ reason: `${source.path} is not a file`, cause: undefined })
        }
        return { fileName, size: Number(info.size), content: { _tag: "File", file } } satisfies OpenedSource
      }
    }
  })

const sendFile = (
  channel: DataChannel,
  upload: FragmentUpload,
  report: Reporter,
  file: FragmentFile,
  source: OpenedSource
) =>
  Effect.gen(function*() {
    const { chunkSize } = channel.settings
    const hash = yield* channel.checksums.open(source.size)
    let done = 0
    // Chunks are cut to chunkSize whatever the source yields; an empty chunk
    // is never sent (the orchestrator would read it as a new file name).
    // `pending` is reused: the transport is done with a chunk once its write
    // completed.
    const pending = Buffer.allocUnsafe(chunkSize)
    let filled = 0
    const sendChunk = (chunk: Uint8Array) => {
      done += chunk.length
      return hash.update(chunk).pipe(
        Effect.zipRight(upload.write(FilePart.Content({ file, content: chunk }))),
        Effect.tap(() =>
          report.chunk({ file, fileName: source.fileName, bytesDone: done, bytesTotal: source.size, done: false })
        )
      )
    }
    // Sends `bytes`, which the caller may reuse once this completes. A plain
    // loop, not a generator per chunk: see `checkedPull`.
    const take = (bytes: Uint8Array): Effect.Effect<void, DataChannelError | DataChannelTimeout> => {
      if (filled === 0 && bytes.length === chunkSize) return sendChunk(bytes)
      let offset = 0
      const rest = (): Effect.Effect<void, DataChannelError | DataChannelTimeout> => {
        while (offset < bytes.length) {
          const count = Math.min(chunkSize - filled, bytes.length - offset)
          pending.set(bytes.subarray(offset, offset + count), filled)
          filled += count
          offset += count
          if (filled === chunkSize) {
            filled = 0
            return Effect.flatMap(sendChunk(pending), rest)
          }
        }
        return Effect.void
      }
      return Effect.suspend(rest)
    }

    yield* upload.write(FilePart.FileName({ file, fileName: source.fileName }))
    const content = source.content
    if (content._tag === "File") {
      const buffer = Buffer.allocUnsafe(chunkSize)
      const sendAll: Effect.Effect<void, PlatformError | DataChannelError | DataChannelTimeout> = Effect.flatMap(
        content.file.read(buffer),
        (count) => count === BigInt(0) ? Effect.void : Effect.zipRight(take(buffer.subarray(0, Number(count))), sendAll)
      )
      yield* sendAll
    } else {
      yield* content.chunks.pipe(
        Stream.mapError((cause) => new SourceFailed({ reason: `the source failed: ${describeCause(cause)}`, cause })),
        Stream.runForEach(take)
      )
    }
    if (filled > 0) yield* sendChunk(pending.subarray(0, filled))
    const checksum = yield* hash.digest
    yield* upload.write(FilePart.Checksum({ file, checksum }))
    yield* report.done({ file, fileName: source.fileName, bytesDone: done, bytesTotal: done, done: true })
    return { fileName: source.fileName, size: done, checksum }
  })

const describeCause = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string"
    ? cause.message
    : String(cause)

/**
 * Sends one fragment over a new `backup` call: its metadata, the backup
 * file, then the custom-metadata file if any, each as name, chunks and MD5;
 * then half-closes and waits for the orchestrator's final status. Any
 * failure or interruption cancels the call.
 *
 * @since 0.1.0
 * @category backup
 */
export const sendFragment = (
  channel: DataChannel,
  target: BackupTarget,
  fragment: BackupFragment
): Effect.Effect<SentFragment, FailedToTransferBackup> => {
  const source = describeSource(fragment.backupFile)
  const fail = (reason: string, status: StatusCode | undefined, cause: unknown) =>
    new FailedToTransferBackup({ fragmentId: fragment.fragmentId, source, reason, status, cause })
  const failure = (error: FailedToTransferBackup | TransferError): FailedToTransferBackup => {
    switch (error._tag) {
      case "FailedToTransferBackup":
        return error
      case "DataChannelError":
        return fail(error.details === "" ? error.message : error.details, error.status, error)
      case "SourceFailed":
        return fail(error.reason, undefined, error.cause)
      default:
        return fail(error.message, undefined, error)
    }
  }
  return Effect.gen(function*() {
    const badId = idProblem(fragment.fragmentId)
    if (badId !== undefined) return yield* fail(`the fragment id ${badId}`, undefined, undefined)
    if (fragment.version.trim() === "") return yield* fail("the fragment version must not be empty", undefined, undefined)
    const started = yield* Clock.currentTimeMillis
    const backupFile = yield* openSource(channel, fragment.backupFile)
    const customMetadataFile = fragment.customMetadataFile === undefined
      ? undefined
      : yield* openSource(channel, fragment.customMetadataFile)
    if (customMetadataFile?.fileName === backupFile.fileName) {
      return yield* fail(
        `the custom-metadata file is named ${backupFile.fileName} like the backup file: restored into one folder, one would overwrite the other`,
        undefined,
        undefined
      )
    }
    const information = FragmentInformation.make({
      fragmentId: fragment.fragmentId,
      version: fragment.version,
      sizeInBytes: String(backupFile.size ?? 0),
      customInformation: { ...fragment.customInformation }
    })
    const report = reporter(channel, "upload", target, fragment.fragmentId)
    const upload = yield* channel.transport.openUpload({ idleTimeout: channel.settings.timeout })
    yield* upload.write({
      _tag: "Metadata",
      metadata: { agentId: channel.agentId, backupName: target.backupName, backupType: "", fragment: information }
    })
    const sentBackupFile = yield* sendFile(channel, upload, report, "BACKUP_FILE", backupFile)
    const sentCustomMetadata = customMetadataFile === undefined
      ? undefined
      : yield* sendFile(channel, upload, report, "CUSTOM_METADATA_FILE", customMetadataFile)
    yield* upload.finish.pipe(withTimeout(channel, "the orchestrator's final status"))
    const millis = (yield* Clock.currentTimeMillis) - started
    const bytes = sentBackupFile.size + (sentCustomMetadata?.size ?? 0)
    yield* Effect.logInfo(`Sent fragment ${fragment.fragmentId}: ${bytes} bytes in ${millis} ms${rate(bytes, millis)}`)
    return { fragment: information, backupFile: sentBackupFile, customMetadataFile: sentCustomMetadata }
  }).pipe(
    Effect.scoped,
    Effect.mapError(failure),
    Effect.withSpan("bro-agent.sendFragment", { attributes: { fragmentId: fragment.fragmentId } }),
    Effect.annotateLogs({ fragmentId: fragment.fragmentId })
  )
}

// ---------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------

/**
 * Where a downloaded fragment's files were written.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownloadedFragment {
  readonly fragmentId: string
  readonly backupFile: { readonly path: string; readonly size: number; readonly checksum: string }
  readonly customMetadataFile:
    | { readonly path: string; readonly size: number; readonly checksum: string }
    | undefined
}

class ReaderRefused extends Data.TaggedError("ReaderRefused")<{ readonly problem: RestoreReader.RestoreProblem }> {}

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

/** What passed the checks: a file's start, its bytes, and its end once its checksum matched. */
type CheckedOutput =
  | Exclude<RestoreReader.RestoreOutput, { readonly _tag: "FileEnded" }>
  | {
    readonly _tag: "FileVerified"
    readonly file: FragmentFile
    readonly fileName: string
    readonly checksum: string
    readonly size: number
  }

type DownloadError = DataChannelError | DataChannelTimeout | ReaderRefused

// A pull's next value, or `None` once it ended.
const untilEnd = <A, E>(pull: Effect.Effect<A, Option.Option<E>>): Effect.Effect<Option.Option<A>, E> =>
  Effect.catchAll(
    Effect.map(pull, Option.some),
    Option.match({ onNone: () => Effect.succeed(Option.none()), onSome: Effect.fail })
  )

// The restore stream, read and checked, as a pull: each pull gives what
// passed of the next messages, and fails with `None` at the stream's end. The
// pure reader checks the order and the names; each file is hashed as its
// bytes pass and its checksum compared at its end. The messages of one pull
// are checked in one Effect: an Effect per message as a stage of a Stream (or
// a generator per pull) made V8 keep the chunks' buffers until full
// collections, run back to back while chunks arrive.
const checkedPull = (
  channel: DataChannel,
  target: BackupTarget,
  fragment: FragmentInformation
): Effect.Effect<Effect.Effect<Chunk.Chunk<CheckedOutput>, Option.Option<DownloadError>>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const pull = yield* Stream.toPull(channel.transport.openDownload(requestFor(channel, target, fragment), {
      idleTimeout: channel.settings.timeout
    }))
    let state = RestoreReader.initial
    let hash: ChecksumWorker.Md5Session | undefined
    let done = 0
    const total = sizeHint(fragment)
    const report = reporter(channel, "download", target, fragment.fragmentId)
    const refused = (problem: RestoreReader.RestoreProblem) => Effect.fail(new ReaderRefused({ problem }))

    // A plain loop that steps into an Effect only where one is needed (a
    // session to open, a worker to wait for): an Effect.gen per pull made V8
    // keep the chunks' buffers until a full collection.
    const check = (messages: Chunk.Chunk<RestoreMessage>): Effect.Effect<Chunk.Chunk<CheckedOutput>, ReaderRefused> => {
      const outputs: Array<CheckedOutput> = []
      const pending = Chunk.toReadonlyArray(messages)
      let index = 0
      const rest = (): Effect.Effect<Chunk.Chunk<CheckedOutput>, ReaderRefused> => {
        while (index < pending.length) {
          const message = pending[index++]
          if (message === undefined) continue
          const result = RestoreReader.read(state, message)
          if (Either.isLeft(result)) return refused(result.left)
          const { output, state: next } = result.right
          state = next
          if (output === undefined) continue
          switch (output._tag) {
            case "FileStarted": {
              outputs.push(output)
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
              if (hash === undefined) return Effect.dieMessage("bro-agent: bytes arrived for a file not started")
              outputs.push(output)
              if (output.file === "BACKUP_FILE" && next._tag === "InFile") {
                done += output.bytes.length
                report.chunk({ file: "BACKUP_FILE", fileName: next.fileName, bytesDone: done, bytesTotal: total, done: false })
              }
              return Effect.flatMap(hash.update(output.bytes), rest)
            }
            case "FileEnded": {
              if (hash === undefined) return Effect.dieMessage("bro-agent: a file ended that was not started")
              return Effect.flatMap(hash.digest, (computed) => {
                const problem = RestoreReader.checksumProblem(output, computed)
                if (problem !== undefined) return refused(problem)
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
        ? Effect.fail(Option.some<DownloadError>(new ReaderRefused({ problem: ended.left })))
        : Effect.fail(Option.none())
    })

    return pull.pipe(
      Effect.catchAll(Option.match({ onNone: () => atEnd, onSome: (error) => Effect.fail(Option.some(error)) })),
      Effect.flatMap((messages) => Effect.mapError(check(messages), Option.some))
    )
  })

const downloadFailure = (fragmentId: string, fileName: string | undefined) =>
(error: DataChannelError | DataChannelTimeout | ReaderRefused | PlatformError): FailedToDownload => {
  switch (error._tag) {
    case "DataChannelError":
      return new FailedToDownload({
        fragmentId,
        fileName,
        reason: error.details === "" ? error.message : error.details,
        status: error.status,
        cause: error
      })
    case "ReaderRefused":
      return new FailedToDownload({
        fragmentId,
        fileName: error.problem.fileName ?? fileName,
        reason: error.problem.reason,
        status: undefined,
        cause: undefined
      })
    default:
      return new FailedToDownload({ fragmentId, fileName, reason: error.message, status: undefined, cause: error })
  }
}

/**
 * Downloads a fragment into `folder` (created if missing). Each file is
 * written under a temporary name in the folder and renamed once the whole
 * fragment has arrived with matching checksums; on any failure or
 * interruption the temporary files are removed.
 *
 * @since 0.1.0
 * @category restore
 */
export const downloadFragment = (
  channel: DataChannel,
  target: BackupTarget,
  fragment: FragmentInformation,
  folder: string
): Effect.Effect<DownloadedFragment, FailedToDownload> =>
  Effect.suspend(() => {
  const fs = channel.fileSystem
  let currentName: string | undefined
  return Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    yield* fs.makeDirectory(folder, { recursive: true })
    const partials: Array<{ readonly temporary: string; readonly final: string }> = []
    // Removes what this download wrote unless it completed.
    yield* Effect.addFinalizer((exit) =>
      exit._tag === "Success"
        ? Effect.void
        : Effect.forEach(partials, ({ temporary }) => fs.remove(temporary, { force: true }).pipe(Effect.ignore), {
          discard: true
        })
    )
    const written = new Map<FragmentFile, { path: string; size: number; checksum: string }>()
    let file: FileSystem.File | undefined
    const consume = (output: CheckedOutput): Effect.Effect<void, PlatformError | ReaderRefused, Scope.Scope> => {
      switch (output._tag) {
        case "FileStarted": {
          if (output.file === "CUSTOM_METADATA_FILE" && partials.some(({ final }) => final === join(folder, output.fileName))) {
            return Effect.fail(
              new ReaderRefused({
                problem: {
                  reason: "the custom-metadata file has the name of the backup file and would overwrite it",
                  fileName: output.fileName
                }
              })
            )
          }
          currentName = output.fileName
          const final = join(folder, output.fileName)
          // A short name of its own: a long (valid) file name plus a suffix could pass the file system's limit.
          const temporary = join(folder, `.bro-partial-${randomBytes(6).toString("hex")}`)
          partials.push({ temporary, final })
          return fs.open(temporary, { flag: "w" }).pipe(
            Effect.flatMap((opened) => Effect.sync(() => void (file = opened)))
          )
        }
        case "Bytes":
          return file === undefined ? Effect.void : file.writeAll(output.bytes)
        case "FileVerified":
          written.set(output.file, {
            path: join(folder, output.fileName),
            size: output.size,
            checksum: output.checksum
          })
          return Effect.void
      }
    }
    const next = yield* checkedPull(channel, target, fragment)
    // A loop of Effects rather than of a generator: see `checkedPull`.
    const drain: Effect.Effect<void, DownloadError | PlatformError, Scope.Scope> = Effect.flatMap(
      untilEnd(next),
      Option.match({
        onNone: () => Effect.void,
        onSome: (outputs) => Effect.zipRight(Effect.forEach(outputs, consume, { discard: true }), Effect.suspend(() => drain))
      })
    )
    yield* drain
    for (const { temporary, final } of partials) yield* fs.rename(temporary, final)
    const backupFile = written.get("BACKUP_FILE")
    if (backupFile === undefined) return yield* Effect.dieMessage("bro-agent: a verified download has no backup file")
    const millis = (yield* Clock.currentTimeMillis) - started
    yield* Effect.logInfo(
      `Downloaded fragment ${fragment.fragmentId}: ${backupFile.size} bytes in ${millis} ms${rate(backupFile.size, millis)}`
    )
    return { fragmentId: fragment.fragmentId, backupFile, customMetadataFile: written.get("CUSTOM_METADATA_FILE") }
  }).pipe(
    Effect.scoped,
    Effect.mapError((error) => downloadFailure(fragment.fragmentId, currentName)(error)),
    Effect.withSpan("bro-agent.downloadFragment", { attributes: { fragmentId: fragment.fragmentId } }),
    Effect.annotateLogs({ fragmentId: fragment.fragmentId })
  )
  })

/**
 * Downloads a fragment's backup file as a byte stream, to pipe into a
 * restore tool with no temporary file. The stream ends successfully only
 * once the checksum matched; on a mismatch it fails with
 * `FailedToDownload` instead of ending, so a consumer must treat what it
 * read as unconfirmed until then. The custom-metadata file, if any, is
 * checked and dropped: use {@link downloadFragment} to keep it.
 *
 * @since 0.1.0
 * @category restore
 */
export const downloadFragmentStream = (
  channel: DataChannel,
  target: BackupTarget,
  fragment: FragmentInformation
): Stream.Stream<Uint8Array, FailedToDownload> =>
  Stream.suspend(() => {
    let currentName: string | undefined
    const backupFileBytes = (outputs: Chunk.Chunk<CheckedOutput>): Chunk.Chunk<Uint8Array> => {
      const bytes: Array<Uint8Array> = []
      for (const output of outputs) {
        if (output.file !== "BACKUP_FILE") continue
        if (output._tag === "FileStarted") currentName = output.fileName
        else if (output._tag === "Bytes") bytes.push(output.bytes)
      }
      return Chunk.unsafeFromArray(bytes)
    }
    return Stream.unwrapScoped(
      Effect.map(checkedPull(channel, target, fragment), (pull) => Stream.repeatEffectChunkOption(Effect.map(pull, backupFileBytes)))
    ).pipe(Stream.mapError((error) => downloadFailure(fragment.fragmentId, currentName)(error)))
  })
