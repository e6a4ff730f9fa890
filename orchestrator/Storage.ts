/**
 * The development orchestrator's backup store: the storage folder, the
 * backup records (on disk and in memory), corruption marking, and recovery
 * at start.
 *
 * ```
 * <storage>/<manager>/<backup>/backup.json
 * <storage>/<manager>/<backup>/<agentId>/<fragmentId>/Fragment.json
 * <storage>/<manager>/<backup>/<agentId>/<fragmentId>/data/<file>       (+ <file>.md5)
 * <storage>/<manager>/<backup>/<agentId>/<fragmentId>/customMetadata/<file> (+ <file>.md5)
 * ```
 *
 * Every path is built from plain names and checked to stay inside the
 * storage folder (symbolic links resolved) before a read, a write or a
 * delete; records read back follow the same rules as requests
 * (`storage/RecordJson.ts`). Records are written aside, synced and renamed,
 * and the folder synced, so that a stop or a power cut leaves the old record
 * or the new one. A delete renames the backup's folder to `.deleting-*`
 * before removing it, so that a stop in the middle leaves nothing listed
 * under its name; start-up finishes it (`storage/Recovery.ts`).
 *
 * One store per storage folder and process: two orchestrators sharing a
 * folder would each take the other's work in progress for leftovers.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { BadArgument } from "@effect/platform/Error"
import { Context, Data, Effect, Either, Layer, Option, ParseResult, Ref, Schema, Stream } from "effect"
import { basename, dirname, join, resolve } from "node:path"
import { md5 } from "../src/internal/Checksum.js"
import { isNodeFileSystem, nativeRealPath } from "../src/internal/nodeFileSystem.js"
import type { BackupRecord, StoredFile, StoredFragment } from "./Model.js"
import * as Paths from "./storage/Paths.js"
import { BackupRecordJson } from "./storage/RecordJson.js"
import { recover } from "./storage/Recovery.js"

export {
  /**
   * The JSON record of a backup as kept on disk.
   *
   * @since 0.1.0
   * @category schemas
   */
  BackupRecordJson
} from "./storage/RecordJson.js"

/**
 * Which of a fragment's files.
 *
 * @since 0.1.0
 * @category models
 */
export type StoredFileKind = "BACKUP_FILE" | "CUSTOM_METADATA_FILE"

/**
 * A stored file cannot be read back whole: it is missing, not a file, leads
 * outside the storage folder, holds another number of bytes than was
 * stored, or its checksum differs. The backup has been marked CORRUPTED
 * when this error is seen.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoredFileUnreadable extends Data.TaggedError("StoredFileUnreadable")<{
  readonly backupManagerId: string
  readonly backupName: string
  readonly agentId: string
  readonly fragmentId: string
  readonly fileName: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The stored file ${this.fileName} of fragment ${this.fragmentId} cannot be read back: ${this.reason}`
  }
}

/**
 * How the store keys its records in memory (the same key as the job runner's).
 *
 * @since 0.1.0
 */
export const recordKey = (manager: string, backupName: string): string => `${manager}/${backupName}`

/**
 * The backup store of one storage folder.
 *
 * @since 0.1.0
 * @category models
 */
export interface Storage {
  /** The storage folder, absolute (as given, not with its links resolved). */
  readonly root: string
  /**
   * The folder of a backup. Every name must be a plain name (it was validated
   * before reaching here); one that is not is a defect: this throws.
   */
  readonly backupFolder: (manager: string, backupName: string) => string
  /** The folder of a fragment; throws for a name that is not plain, as `backupFolder`. */
  readonly fragmentFolder: (manager: string, backupName: string, agentId: string, fragmentId: string) => string
  /** Where a stored file lies; throws for a name that is not plain, as `backupFolder`. */
  readonly filePath: (
    manager: string,
    backupName: string,
    fragment: StoredFragment,
    file: StoredFileKind
  ) => string
  /**
   * Writes a record (synced, never half-written, no temporary file left by a
   * failure) and keeps it in memory. A record that breaks the rules of
   * `BackupRecordJson` is refused (`BadArgument`).
   */
  readonly writeRecord: (record: BackupRecord) => Effect.Effect<void, PlatformError>
  /**
   * Every record found at start-up and changed since. Start-up (in `make`)
   * skips what is not a valid record, finishes or undoes what a stop
   * interrupted, and marks a record left INCOMPLETE CORRUPTED, as BRO does.
   */
  readonly loadRecords: Effect.Effect<ReadonlyArray<BackupRecord>, PlatformError>
  /**
   * Deletes a backup, its record first in effect: its folder is renamed to a
   * `.deleting-*` name before it is removed. A failure to remove the renamed
   * folder is logged, not returned: the backup is gone, and start-up removes
   * the rest.
   */
  readonly deleteBackup: (manager: string, backupName: string) => Effect.Effect<void, PlatformError>
  /** A new empty folder beside a fragment's final folder, for an upload in progress. */
  readonly makeUploadFolder: (
    manager: string,
    backupName: string,
    agentId: string
  ) => Effect.Effect<string, PlatformError>
  /** Moves a finished upload into place, replacing an earlier attempt of the same fragment. */
  readonly commitUpload: (
    uploadFolder: string,
    manager: string,
    backupName: string,
    agentId: string,
    fragmentId: string
  ) => Effect.Effect<void, PlatformError>
  /**
   * The records in memory by `recordKey`. Read it freely; change records only
   * through `writeRecord`, `deleteBackup` and `markCorrupted`, which keep the
   * disk and this map in step.
   */
  readonly backups: Ref.Ref<ReadonlyMap<string, BackupRecord>>
  /** One record, if the store holds it. */
  readonly record: (manager: string, backupName: string) => Effect.Effect<Option.Option<BackupRecord>>
  /**
   * Marks a backup CORRUPTED (on disk when it can, in memory always) and logs
   * why. Does nothing for a backup the store does not hold or that is
   * CORRUPTED already.
   */
  readonly markCorrupted: (manager: string, backupName: string, reason: string) => Effect.Effect<void>
  /**
   * A stored file's bytes, in chunks of at most `chunkSize` bytes, exactly
   * as many as were stored; the stream fails after its last chunk if the
   * checksum differs. Whatever cannot be read back whole marks the backup
   * CORRUPTED and fails with `StoredFileUnreadable`; other failures (too many
   * open files, ...) say nothing about the backup and fail with the
   * `PlatformError`.
   */
  readonly readStoredFile: (
    manager: string,
    backupName: string,
    fragment: StoredFragment,
    file: StoredFileKind,
    chunkSize: number
  ) => Stream.Stream<Uint8Array, StoredFileUnreadable | PlatformError>
}

const encode = Schema.encodeEither(BackupRecordJson)

const subfolder = (file: StoredFileKind) => (file === "BACKUP_FILE" ? "data" : "customMetadata")

/**
 * Opens (and creates) the storage folder, and recovers what it holds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (root: string): Effect.Effect<Storage, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const absolute = resolve(root)
    yield* fs.makeDirectory(absolute, { recursive: true })
    // On Node's file system in one system call: with a thousand uploads
    // committing at once, Node's own realpath (an lstat per step of the path
    // on libuv's four threads) took seconds of the orchestrator's time.
    const realPath = (yield* isNodeFileSystem(fs)) ? nativeRealPath : fs.realPath
    const confinement = Paths.confinement(realPath, absolute, yield* realPath(absolute))
    const backups = yield* Ref.make<ReadonlyMap<string, BackupRecord>>(new Map())
    // Record changes, one at a time: a corruption mark never lands on a backup being deleted.
    const records = yield* Effect.makeSemaphore(1)

    const pathSync = (names: ReadonlyArray<string>): string =>
      Either.getOrThrowWith(Paths.below(absolute, names), (reason) => new Error(`Storage path refused: ${reason}`))
    // Checked twice: built from plain names, and leading (through what exists) into the storage folder.
    const pathTo = (method: string, names: ReadonlyArray<string>, followLast: boolean) =>
      Either.match(Paths.below(absolute, names), {
        onLeft: (reason) => Effect.fail(Paths.outside(method, reason)),
        onRight: (path) => Effect.as(confinement.check(method, path, followLast), path)
      })

    const backupFolder = (manager: string, backupName: string) => pathSync([manager, backupName])
    const fragmentFolder = (manager: string, backupName: string, agentId: string, fragmentId: string) =>
      pathSync([manager, backupName, agentId, fragmentId])
    // Without a custom metadata file, its folder (as before).
    const storedFileNames = (fragment: StoredFragment, file: StoredFileKind) => {
      const name = file === "BACKUP_FILE" ? fragment.backupFile.name : fragment.customMetadataFile?.name
      const folder = [fragment.agentId, fragment.fragmentId, subfolder(file)]
      return name === undefined ? folder : [...folder, name]
    }

    const remember = (record: BackupRecord) =>
      Ref.update(backups, (all) => new Map(all).set(recordKey(record.backupManagerId, record.name), record))

    // Makes a rename or a new entry in `folder` durable. Windows cannot open a folder for syncing.
    const syncFolder = (folder: string) =>
      process.platform === "win32"
        ? Effect.void
        : Effect.scoped(Effect.flatMap(fs.open(folder, { flag: "r" }), (handle) => handle.sync))

    const writeUnlocked = (record: BackupRecord) =>
      Effect.gen(function*() {
        const json = yield* Either.match(encode(record), {
          onLeft: (error) =>
            Effect.fail(
              new BadArgument({
                module: "FileSystem",
                method: "writeRecord",
                description: `Refused an invalid backup record: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
              })
            ),
          onRight: Effect.succeed
        })
        const folder = yield* pathTo("writeRecord", [record.backupManagerId, record.name], true)
        // The outermost folder this write creates, removed again if the record cannot be written.
        const created = (yield* fs.exists(dirname(folder)))
          ? ((yield* fs.exists(folder)) ? undefined : folder)
          : dirname(folder)
        const undo = created === undefined
          ? Effect.void
          : fs.remove(created, { recursive: true, force: true }).pipe(Effect.ignore)
        if (created !== undefined) {
          yield* fs.makeDirectory(folder, { recursive: true }).pipe(Effect.tapError(() => undo))
          yield* Effect.forEach([dirname(folder), absolute], syncFolder, { discard: true }).pipe(Effect.tapError(() => undo))
        }
        // Written aside, synced, renamed: a stop or a power cut leaves the old record or the new one.
        const temporary = join(folder, Paths.workingName(Paths.recordTemporaryPrefix))
        const bytes = new TextEncoder().encode(JSON.stringify(json, null, 2))
        yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* fs.open(temporary, { flag: "wx" })
          yield* handle.writeAll(bytes)
          yield* handle.sync
        })).pipe(
          Effect.zipRight(fs.rename(temporary, join(folder, Paths.recordFile))),
          // A full disk leaves neither an empty temporary file nor a folder without a record.
          Effect.tapError(() => Effect.zipRight(fs.remove(temporary, { force: true }).pipe(Effect.ignore), undo))
        )
        yield* remember(record)
        yield* syncFolder(folder)
      })

    const writeRecord = (record: BackupRecord) => records.withPermits(1)(writeUnlocked(record))

    const markCorrupted = (manager: string, backupName: string, reason: string) =>
      records.withPermits(1)(Effect.gen(function*() {
        const record = (yield* Ref.get(backups)).get(recordKey(manager, backupName))
        if (record === undefined || record.status === "CORRUPTED") return
        const corrupted: BackupRecord = { ...record, status: "CORRUPTED" }
        yield* Effect.logWarning(`Marked backup ${backupName} of ${manager} CORRUPTED: ${reason}`)
        yield* writeUnlocked(corrupted).pipe(
          Effect.catchAll((error) =>
            Effect.zipRight(
              Effect.logError(`Could not write the CORRUPTED record of ${backupName}: ${error.message}`),
              remember(corrupted)
            )
          )
        )
      })).pipe(Effect.annotateLogs({ backupManagerId: manager, backupName }))

    const deleteBackup = (manager: string, backupName: string) =>
      Effect.gen(function*() {
        const aside = yield* records.withPermits(1)(Effect.gen(function*() {
          const folder = yield* pathTo("deleteBackup", [manager, backupName], false)
          const forget = Ref.update(backups, (all) => {
            const next = new Map(all)
            next.delete(recordKey(manager, backupName))
            return next
          })
          if (!(yield* fs.exists(folder))) return yield* Effect.as(forget, undefined)
          // Renamed first: from here on a stop leaves a `.deleting-*` folder, which start-up removes.
          const aside = join(dirname(folder), Paths.workingName(Paths.deletingPrefix))
          yield* fs.rename(folder, aside)
          yield* forget
          yield* syncFolder(dirname(folder))
          return aside
        }))
        if (aside === undefined) return
        yield* fs.remove(aside, { recursive: true }).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(`Could not remove ${aside} (backup ${backupName}, deleted): ${error.message}; start-up will`)
          )
        )
      })

    const makeUploadFolder = (manager: string, backupName: string, agentId: string) =>
      Effect.gen(function*() {
        const folder = yield* pathTo(
          "makeUploadFolder",
          [manager, backupName, agentId, Paths.workingName(Paths.uploadPrefix)],
          true
        )
        yield* fs.makeDirectory(folder, { recursive: true })
        return folder
      })

    const commitUpload = (uploadFolder: string, manager: string, backupName: string, agentId: string, fragmentId: string) =>
      Effect.gen(function*() {
        const final = yield* pathTo("commitUpload", [manager, backupName, agentId, fragmentId], false)
        // Only an upload folder that `makeUploadFolder` could have made for this agent's backup moves.
        const upload = resolve(uploadFolder)
        if (dirname(upload) !== dirname(final) || !basename(upload).startsWith(Paths.uploadPrefix)) {
          return yield* Effect.fail(Paths.outside("commitUpload", `${upload} is not an upload folder beside ${final}`))
        }
        yield* confinement.check("commitUpload", upload, true)
        yield* fs.remove(final, { recursive: true, force: true })
        yield* fs.rename(upload, final)
      })

    const readStoredFile = (
      manager: string,
      backupName: string,
      fragment: StoredFragment,
      file: StoredFileKind,
      chunkSize: number
    ): Stream.Stream<Uint8Array, StoredFileUnreadable | PlatformError> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const stored: StoredFile | undefined = file === "BACKUP_FILE" ? fragment.backupFile : fragment.customMetadataFile
        if (stored === undefined) {
          return yield* Effect.dieMessage(`Fragment ${fragment.fragmentId} has no custom metadata file to read`)
        }
        const unreadable = (reason: string, cause?: unknown) => {
          const error = new StoredFileUnreadable({
            backupManagerId: manager,
            backupName,
            agentId: fragment.agentId,
            fragmentId: fragment.fragmentId,
            fileName: stored.name,
            reason,
            ...(cause === undefined ? {} : { cause })
          })
          return Effect.zipRight(markCorrupted(manager, backupName, error.message), Effect.fail(error))
        }
        const path = yield* pathTo("readStoredFile", [manager, backupName, ...storedFileNames(fragment, file)], true).pipe(
          // A file whose path leads out of the storage folder (a link) is no stored file: nothing of it is read.
          Effect.catchIf((error) => error._tag === "BadArgument", (error) => unreadable(error.description ?? "", error))
        )
        const info = yield* fs.stat(path).pipe(
          Effect.catchIf(
            (error) => error._tag === "SystemError" && error.reason === "NotFound",
            (error) => unreadable("it is missing", error)
          )
        )
        if (info.type !== "File") return yield* unreadable(`it is a ${info.type}, not a file`)
        if (Number(info.size) !== stored.size) {
          return yield* unreadable(`it holds ${info.size} bytes, ${stored.size} were stored`)
        }
        const handle = yield* fs.open(path, { flag: "r" })
        const hash = md5()
        let left = stored.size
        const chunk = Effect.suspend(() =>
          left === 0 ? Effect.fail(Option.none()) : handle.readAlloc(Math.min(chunkSize, left)).pipe(
            Effect.flatMap(Option.match({
              onNone: () => unreadable(`it ends after ${stored.size - left} of its ${stored.size} bytes`),
              onSome: (bytes) =>
                Effect.sync(() => {
                  left -= bytes.length
                  hash.update(bytes)
                  return bytes
                })
            })),
            Effect.mapError(Option.some)
          )
        )
        const verify = Effect.suspend(() => {
          const checksum = hash.digest()
          return checksum === stored.checksum
            ? Effect.void
            : unreadable(`checksum mismatch: it was stored with ${stored.checksum}, reads as ${checksum}`)
        })
        return Stream.concat(Stream.repeatEffectOption(chunk), Stream.drain(Stream.fromEffect(verify)))
      }))

    yield* Effect.forEach(yield* recover(fs, absolute, writeUnlocked), remember, { discard: true })

    return {
      root: absolute,
      backupFolder,
      fragmentFolder,
      filePath: (manager, backupName, fragment, file) => pathSync([manager, backupName, ...storedFileNames(fragment, file)]),
      writeRecord,
      loadRecords: Effect.map(Ref.get(backups), (all) => [...all.values()]),
      deleteBackup,
      makeUploadFolder,
      commitUpload,
      backups,
      record: (manager, backupName) => Effect.map(Ref.get(backups), (all) => Option.fromNullable(all.get(recordKey(manager, backupName)))),
      markCorrupted,
      readStoredFile
    }
  })

/**
 * The backup store as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class BackupStore extends Context.Tag("bro-agent/orchestrator/BackupStore")<BackupStore, Storage>() {}

/**
 * The backup store of the storage folder `root`, recovered at start.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (root: string): Layer.Layer<BackupStore, PlatformError, FileSystem.FileSystem> =>
  Layer.effect(BackupStore, make(root))
