/**
 * The download engine: a fragment's checked restore stream written into a
 * folder under temporary names and moved into place, in steps that can be
 * undone, once all of it checked out; or its backup file given as a byte
 * stream whose last chunk is held back until the whole fragment checked
 * out. Every failure is turned into `FailedToDownload` with its reason.
 *
 * On Node's file system the backup file is written by a worker thread of
 * its own while the shared checksum thread hashes it (see `ChecksumWorker`),
 * so that the event loop never waits for the disk and no chunk outlives its
 * copy; any other FileSystem
 * service (a test's faults, a user's) is given every write, one chunk
 * written while the next is received. Either way a disk that makes no
 * progress fails the download by the data channel's timeout.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Chunk, Clock, Data, Effect, Either, Fiber, Option, Scope, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import type { FragmentInformation } from "../../core/Fragment.js"
import type { FragmentFile } from "../../core/Message.js"
import { sameFileName } from "../Checksum.js"
import { isNodeFileSystem } from "../nodeFileSystem.js"
import type { DataChannelTimeout } from "../../transport/OrchestratorTransport.js"
import type { BackupTarget, DataChannel } from "./channel.js"
import { withTimeout } from "./channel.js"
import type { CheckedOutput, DownloadError, WriteFile } from "./checkedRestore.js"
import { checkedPull, ReaderRefused, untilEnd } from "./checkedRestore.js"
import { channelFailure, FailedToDownload } from "./errors.js"
import { rate } from "./progress.js"

/**
 * See `Fragments.DownloadedFragment`.
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

/** A file of the fragment would go where something other than a file is (a folder, a socket). */
class NotAFile extends Data.TaggedError("NotAFile")<{
  readonly fileName: string
  readonly path: string
  readonly type: FileSystem.File.Type
}> {}

const downloadFailure = (fragmentId: string, fileName: string | undefined) =>
(error: DownloadError | PlatformError | NotAFile): FailedToDownload => {
  switch (error._tag) {
    case "ReaderRefused":
      return new FailedToDownload({
        fragmentId,
        fileName: error.problem.fileName ?? fileName,
        reason: error.reason,
        detail: error.problem.reason,
        status: undefined,
        cause: undefined
      })
    case "NotAFile":
      return new FailedToDownload({
        fragmentId,
        fileName: error.fileName,
        reason: "FileSystem",
        detail: `${error.path} exists and is not a file (${error.type}): nothing in the folder was changed`,
        status: undefined,
        cause: undefined
      })
    default:
      return new FailedToDownload({ fragmentId, fileName, ...channelFailure(error) })
  }
}

// The custom-metadata file arrives after the backup file, whose last chunk
// waits for it in a streaming download: it is held in memory, so it is bounded.
const customMetadataLimit = 16 * 1024 * 1024

// A short name of its own in the folder: a long (valid) file name plus a
// suffix could pass the file system's limit.
const temporaryName = (folder: string, kind: "partial" | "aside") =>
  join(folder, `.bro-${kind}-${randomBytes(6).toString("hex")}`)

/** A downloaded file, complete under its temporary name, and where it goes. */
interface Placement {
  readonly fileName: string
  readonly temporary: string
  readonly final: string
}

/**
 * See `Fragments.downloadFragment`.
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

    // Whether a file is at `final` already; a failure when something else is.
    const existingFile = (fileName: string, final: string): Effect.Effect<boolean, PlatformError | NotAFile> =>
      Effect.matchEffect(fs.stat(final), {
        onFailure: (error) =>
          error._tag === "SystemError" && error.reason === "NotFound" ? Effect.succeed(false) : Effect.fail(error),
        onSuccess: (info) =>
          info.type === "File" ? Effect.succeed(true) : Effect.fail(new NotAFile({ fileName, path: final, type: info.type }))
      })

    // Moves the new files into place. Every final path is checked first;
    // files already there are moved aside and removed only once every new
    // file is in, and each rename is undone, latest first, when a later one
    // fails: a failure leaves the folder as it was. Not interruptible, so
    // that a cancel cannot stop it half-way.
    const moveIntoPlace = (placements: ReadonlyArray<Placement>) =>
      Effect.gen(function*() {
        const existing = yield* Effect.forEach(placements, ({ fileName, final }) => existingFile(fileName, final))
        const undo: Array<{ readonly from: string; readonly to: string }> = []
        const setAside: Array<string> = []
        const rename = (from: string, to: string) =>
          Effect.zipRight(fs.rename(from, to), Effect.sync(() => void undo.unshift({ from: to, to: from })))
        const renames = Effect.gen(function*() {
          for (const [index, { fileName, final }] of placements.entries()) {
            if (existing[index] !== true) continue
            currentName = fileName
            const aside = temporaryName(folder, "aside")
            yield* rename(final, aside)
            setAside.push(aside)
          }
          for (const { fileName, temporary, final } of placements) {
            currentName = fileName
            yield* rename(temporary, final)
          }
        })
        yield* Effect.onError(renames, () =>
          Effect.forEach(undo, ({ from, to }) =>
            fs.rename(from, to).pipe(
              Effect.catchAll((error) => Effect.logError(`Could not move ${from} back to ${to} after a failed download`, error))
            ), { discard: true }))
        // The download succeeded: a file set aside that cannot be removed is left, not a failure.
        yield* Effect.forEach(setAside, (aside) =>
          fs.remove(aside).pipe(
            Effect.catchAll((error) => Effect.logWarning(`Could not remove ${aside}, the file a download replaced`, error))
          ), { discard: true })
      }).pipe(Effect.uninterruptible)

    return Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      yield* fs.makeDirectory(folder, { recursive: true })
      const placements: Array<Placement> = []
      // Removes what this download wrote unless it completed (a file moved into
      // place and moved back is under its temporary name again).
      yield* Effect.addFinalizer((exit) =>
        exit._tag === "Success"
          ? Effect.void
          : Effect.forEach(placements, ({ temporary }) => fs.remove(temporary, { force: true }).pipe(Effect.ignore), {
            discard: true
          })
      )
      const written = new Map<FragmentFile, { path: string; size: number; checksum: string }>()
      let file: FileSystem.File | undefined
      // With Node's file system the backup file is written by its writer
      // thread (see `ChecksumWorker`), under its temporary name, known (and removed on a
      // failure) before the thread creates it; any other FileSystem service
      // (a test's faults, say) takes the writes below.
      let writtenByWorker: Placement | undefined
      const writeFile: WriteFile | undefined = (yield* isNodeFileSystem(fs))
        ? (kind, fileName) => {
          if (kind !== "BACKUP_FILE") return undefined
          const placement = { fileName, temporary: temporaryName(folder, "partial"), final: join(folder, fileName) }
          placements.push(placement)
          writtenByWorker = placement
          return { path: placement.temporary, timeout: channel.settings.timeout }
        }
        : undefined
      // The chunk being written, in a fiber of the download's scope: the disk
      // writes one chunk while the next is received and hashed, instead of
      // the transfer waiting for each write. The next write (and the next
      // file, and the renames) waits for it, bounded by the data channel's
      // timeout, so that a hung disk fails this download, not the others.
      // Writes go through the FileSystem service, on libuv's threads.
      const scope = yield* Effect.scope
      let writing: Fiber.Fiber<void, PlatformError> | undefined
      const writesDone: Effect.Effect<void, PlatformError | DataChannelTimeout> = Effect.suspend(() => {
        const pending = writing
        writing = undefined
        return pending === undefined
          ? Effect.void
          : Fiber.join(pending).pipe(withTimeout(channel, "the disk to write the chunk received before"))
      })
      const writeBehind = (target: FileSystem.File, bytes: Uint8Array) =>
        Effect.zipRight(
          writesDone,
          Effect.flatMap(Effect.forkIn(target.writeAll(bytes), scope), (fiber) => Effect.sync(() => void (writing = fiber)))
        )
      const consume = (
        output: CheckedOutput
      ): Effect.Effect<void, PlatformError | ReaderRefused | NotAFile | DataChannelTimeout, Scope.Scope> => {
        switch (output._tag) {
          case "FileStarted": {
            const backupFile = placements[0]
            if (output.file === "CUSTOM_METADATA_FILE" && backupFile !== undefined && sameFileName(backupFile.fileName, output.fileName)) {
              const named = backupFile.fileName === output.fileName
                ? "has the name of the backup file"
                : `has the name of the backup file ${backupFile.fileName} to a case-insensitive file system`
              return Effect.fail(
                new ReaderRefused({
                  reason: "UnsafeFileName",
                  problem: { reason: `the custom-metadata file ${named} and would overwrite it`, fileName: output.fileName }
                })
              )
            }
            currentName = output.fileName
            const final = join(folder, output.fileName)
            const byWorker = writtenByWorker
            writtenByWorker = undefined
            if (byWorker !== undefined && output.file === "BACKUP_FILE") {
              file = undefined
              return Effect.asVoid(existingFile(output.fileName, final))
            }
            const temporary = temporaryName(folder, "partial")
            // Checked here too, not only before the renames: no need to download a large file for nothing.
            return writesDone.pipe(
              Effect.zipRight(existingFile(output.fileName, final)),
              Effect.zipRight(Effect.sync(() => void placements.push({ fileName: output.fileName, temporary, final }))),
              Effect.zipRight(fs.open(temporary, { flag: "wx" })),
              Effect.flatMap((opened) => Effect.sync(() => void (file = opened)))
            )
          }
          case "Bytes":
            return file === undefined ? Effect.void : writeBehind(file, output.bytes)
          case "FileVerified":
            written.set(output.file, {
              path: join(folder, output.fileName),
              size: output.size,
              checksum: output.checksum
            })
            return writesDone
        }
      }
      const next = yield* checkedPull(channel, target, fragment, writeFile)
      // A loop of Effects rather than of a generator: see `checkedPull`.
      const drain: Effect.Effect<void, DownloadError | PlatformError | NotAFile | DataChannelTimeout, Scope.Scope> = Effect.flatMap(
        untilEnd(next),
        Option.match({
          onNone: () => Effect.void,
          onSome: (outputs) => Effect.zipRight(Effect.forEach(outputs, consume, { discard: true }), Effect.suspend(() => drain))
        })
      )
      yield* drain
      yield* writesDone
      yield* moveIntoPlace(placements)
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
 * See `Fragments.CustomMetadataFile`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomMetadataFile {
  readonly fileName: string
  readonly bytes: Uint8Array
  readonly checksum: string
}

/**
 * See `Fragments.DownloadStreamOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownloadStreamOptions<E = never, R = never> {
  readonly onCustomMetadata?: (file: CustomMetadataFile | undefined) => Effect.Effect<void, E, R>
}

/**
 * See `Fragments.downloadFragmentStream`.
 *
 * @since 0.1.0
 * @category restore
 */
export const downloadFragmentStream = <E = never, R = never>(
  channel: DataChannel,
  target: BackupTarget,
  fragment: FragmentInformation,
  options: DownloadStreamOptions<E, R> = {}
): Stream.Stream<Uint8Array, FailedToDownload | E, R> =>
  Stream.suspend(() => {
    const { onCustomMetadata } = options
    let currentName: string | undefined
    // The backup file's latest chunk: handed on only with the next one, or
    // once the whole fragment checked out.
    let held: Uint8Array | undefined
    // The custom-metadata file, kept only for onCustomMetadata.
    let metadataParts: Array<Uint8Array> = []
    let metadataSize = 0
    let metadata: CustomMetadataFile | undefined
    let ended = false

    const tooLarge = () =>
      new FailedToDownload({
        fragmentId: fragment.fragmentId,
        fileName: currentName,
        reason: "InvalidFragment",
        detail: `the custom-metadata file is larger than ${customMetadataLimit} bytes, the most held in memory for onCustomMetadata`,
        status: undefined,
        cause: undefined
      })

    // What a pull hands on: the backup file's chunks but the latest, which
    // takes the place of the one held before. A plain loop, with no Effect
    // and no copy per chunk: see `checkedPull`.
    const release = (outputs: Chunk.Chunk<CheckedOutput>): Either.Either<Chunk.Chunk<Uint8Array>, FailedToDownload> => {
      const bytes: Array<Uint8Array> = []
      for (const output of outputs) {
        switch (output._tag) {
          case "FileStarted":
            currentName = output.fileName
            break
          case "Bytes":
            if (output.file === "BACKUP_FILE") {
              if (held !== undefined) bytes.push(held)
              held = output.bytes
            } else if (onCustomMetadata !== undefined) {
              metadataSize += output.bytes.length
              if (metadataSize > customMetadataLimit) return Either.left(tooLarge())
              metadataParts.push(output.bytes)
            }
            break
          case "FileVerified":
            if (output.file === "CUSTOM_METADATA_FILE" && onCustomMetadata !== undefined) {
              const [only] = metadataParts
              metadata = {
                fileName: output.fileName,
                bytes: metadataParts.length === 1 && only !== undefined ? only : Buffer.concat(metadataParts),
                checksum: output.checksum
              }
              metadataParts = []
            }
            break
        }
      }
      return Either.right(Chunk.unsafeFromArray(bytes))
    }

    // The stream ended as the protocol says, every checksum matched: the
    // user's check of the custom-metadata file is the last, then the held
    // chunk goes.
    const finish = Effect.suspend(() => {
      ended = true
      const rest = held === undefined ? Chunk.empty<Uint8Array>() : Chunk.of(held)
      held = undefined
      const file = metadata
      metadata = undefined
      return onCustomMetadata === undefined
        ? Effect.succeed(rest)
        : Effect.as(Effect.mapError(onCustomMetadata(file), Option.some), rest)
    })

    const step = (
      pull: Effect.Effect<Chunk.Chunk<CheckedOutput>, Option.Option<DownloadError>>
    ): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<FailedToDownload | E>, R> =>
      Effect.suspend(() =>
        ended
          ? Effect.fail(Option.none())
          : Effect.matchEffect(pull, {
            onFailure: (error): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<FailedToDownload | E>, R> =>
              Option.isNone(error)
                ? finish
                : Effect.fail(Option.some(downloadFailure(fragment.fragmentId, currentName)(error.value))),
            onSuccess: (outputs) =>
              Either.match(release(outputs), {
                onLeft: (error) => Effect.fail(Option.some(error)),
                onRight: Effect.succeed
              })
          })
      )

    return Stream.unwrapScoped(
      Effect.map(checkedPull(channel, target, fragment), (pull) => Stream.repeatEffectChunkOption(step(pull)))
    )
  })
