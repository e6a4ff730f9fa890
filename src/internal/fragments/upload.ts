/**
 * The upload engine: a fragment's files opened from their sources, sent in
 * chunks of the chunk size with their MD5 computed as the bytes pass, and
 * every failure turned into `FailedToTransferBackup` with its reason.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Clock, Data, Effect, Stream } from "effect"
import { basename } from "node:path"
import { FragmentInformation } from "../../core/Fragment.js"
import type { FragmentFile } from "../../core/Message.js"
import { FilePart } from "../../core/Message.js"
import { idProblem } from "../../core/Registration.js"
import type { DataChannelError, DataChannelTimeout, FragmentUpload } from "../../transport/OrchestratorTransport.js"
import { fileNameProblem, sameFileName } from "../Checksum.js"
import type { BackupTarget, DataChannel } from "./channel.js"
import { withTimeout } from "./channel.js"
import type { FailureFields, TransferFailureReason } from "./errors.js"
import { channelFailure, FailedToTransferBackup } from "./errors.js"
import type { Reporter } from "./progress.js"
import { rate, reporter } from "./progress.js"

/**
 * See `Fragments.FileSource`.
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

const sourceName = (source: FileSource): string => (source._tag === "Path" ? basename(source.path) : source.name)

const describeSource = (source: FileSource): string =>
  source._tag === "Path" ? source.path : `${source._tag === "Bytes" ? "bytes" : "stream"} "${source.name}"`

/**
 * See `Fragments.BackupFragment`.
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

/**
 * See `Fragments.SentFragment`.
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

/** A source that cannot be sent: its name, what its path points to, or its stream failing. */
class UnusableSource extends Data.TaggedError("UnusableSource")<{
  readonly reason: TransferFailureReason
  readonly detail: string
  readonly cause: unknown
}> {}

type TransferError = DataChannelError | DataChannelTimeout | UnusableSource | PlatformError

const openSource = (channel: DataChannel, source: FileSource) =>
  Effect.gen(function*() {
    const fileName = sourceName(source)
    const badName = fileNameProblem(fileName)
    if (badName !== undefined) {
      return yield* new UnusableSource({ reason: "UnsafeFileName", detail: badName, cause: undefined })
    }
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
          return yield* new UnusableSource({ reason: "FileSystem", detail: `${source.path} is not a file`, cause: undefined })
        }
        return { fileName, size: Number(info.size), content: { _tag: "File", file } } satisfies OpenedSource
      }
    }
  })

const describeCause = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string"
    ? cause.message
    : String(cause)

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
    // loop, not a generator per chunk: see `checkedPull` in `checkedRestore.ts`.
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
        Stream.mapError((cause) =>
          new UnusableSource({ reason: "SourceFailed", detail: `the source failed: ${describeCause(cause)}`, cause })
        ),
        Stream.runForEach(take)
      )
    }
    if (filled > 0) yield* sendChunk(pending.subarray(0, filled))
    const checksum = yield* hash.digest
    yield* upload.write(FilePart.Checksum({ file, checksum }))
    yield* report.done({ file, fileName: source.fileName, bytesDone: done, bytesTotal: done, done: true })
    return { fileName: source.fileName, size: done, checksum }
  })

/**
 * See `Fragments.sendFragment`.
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
  const failWith = (fields: FailureFields) =>
    new FailedToTransferBackup({ fragmentId: fragment.fragmentId, source, ...fields })
  const fail = (reason: TransferFailureReason, detail: string) =>
    failWith({ reason, detail, status: undefined, cause: undefined })
  const failure = (error: FailedToTransferBackup | TransferError): FailedToTransferBackup => {
    switch (error._tag) {
      case "FailedToTransferBackup":
        return error
      case "UnusableSource":
        return failWith({ reason: error.reason, detail: error.detail, status: undefined, cause: error.cause })
      default:
        return failWith(channelFailure(error))
    }
  }
  return Effect.gen(function*() {
    const badId = idProblem(fragment.fragmentId)
    if (badId !== undefined) return yield* fail("InvalidFragment", `the fragment id ${badId}`)
    if (fragment.version.trim() === "") return yield* fail("InvalidFragment", "the fragment version must not be empty")
    const started = yield* Clock.currentTimeMillis
    const backupFile = yield* openSource(channel, fragment.backupFile)
    const customMetadataFile = fragment.customMetadataFile === undefined
      ? undefined
      : yield* openSource(channel, fragment.customMetadataFile)
    if (customMetadataFile !== undefined && sameFileName(customMetadataFile.fileName, backupFile.fileName)) {
      const named = customMetadataFile.fileName === backupFile.fileName
        ? `is named ${backupFile.fileName} like the backup file`
        : `${customMetadataFile.fileName} is named like the backup file ${backupFile.fileName} to a case-insensitive file system`
      return yield* fail(
        "UnsafeFileName",
        `the custom-metadata file ${named}: restored into one folder, one would overwrite the other`
      )
    }
    const information = FragmentInformation.make({
      fragmentId: fragment.fragmentId,
      version: fragment.version,
      sizeInBytes: String(backupFile.size ?? 0),
      customInformation: { ...fragment.customInformation }
    })
    const report = reporter(channel.progress, "upload", target.backupName, fragment.fragmentId)
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
