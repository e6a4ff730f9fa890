/**
 * The download engine: a fragment's checked restore stream written into a
 * folder under temporary names and renamed once all of it checked out, or
 * its backup file given as a byte stream; every failure turned into
 * `FailedToDownload` with its reason.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Chunk, Clock, Effect, Option, Scope, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import type { FragmentInformation } from "../../core/Fragment.js"
import type { FragmentFile } from "../../core/Message.js"
import { sameFileName } from "../Checksum.js"
import type { BackupTarget, DataChannel } from "./channel.js"
import type { CheckedOutput, DownloadError } from "./checkedRestore.js"
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

const downloadFailure = (fragmentId: string, fileName: string | undefined) =>
(error: DownloadError | PlatformError): FailedToDownload =>
  error._tag === "ReaderRefused"
    ? new FailedToDownload({
      fragmentId,
      fileName: error.problem.fileName ?? fileName,
      reason: error.reason,
      detail: error.problem.reason,
      status: undefined,
      cause: undefined
    })
    : new FailedToDownload({ fragmentId, fileName, ...channelFailure(error) })

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
    return Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      yield* fs.makeDirectory(folder, { recursive: true })
      const partials: Array<{ readonly fileName: string; readonly temporary: string; readonly final: string }> = []
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
            const backupFile = partials[0]
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
            // A short name of its own: a long (valid) file name plus a suffix could pass the file system's limit.
            const temporary = join(folder, `.bro-partial-${randomBytes(6).toString("hex")}`)
            partials.push({ fileName: output.fileName, temporary, final })
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
 * See `Fragments.downloadFragmentStream`.
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
