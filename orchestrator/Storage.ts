/**
 * The development orchestrator's storage: one folder, one sub-folder per
 * backup manager, backup, agent and fragment, and a JSON record per backup.
 * Every name that reaches a path was validated before (backup names by the
 * BRO rule, manager, agent and fragment ids by the id rule, file names as
 * plain base names), and paths are built only here.
 *
 * ```
 * <storage>/<manager>/<backup>/backup.json
 * <storage>/<manager>/<backup>/<agentId>/<fragmentId>/Fragment.json
 * <storage>/<manager>/<backup>/<agentId>/<fragmentId>/data/<file>       (+ <file>.md5)
 * <storage>/<manager>/<backup>/<agentId>/<fragmentId>/customMetadata/<file> (+ <file>.md5)
 * ```
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { join, resolve } from "node:path"
import type { BackupRecord, StoredFragment } from "./Model.js"

const SoftwareVersionJson = Schema.Struct({
  agentId: Schema.String,
  apiVersion: Schema.String,
  productName: Schema.String,
  productNumber: Schema.String,
  revision: Schema.String,
  productionDate: Schema.String,
  description: Schema.String,
  type: Schema.String,
  commercialVersion: Schema.String,
  semanticVersion: Schema.String
})

const StoredFileJson = Schema.Struct({ name: Schema.String, size: Schema.Number, checksum: Schema.String })

const FragmentJson = Schema.Struct({
  agentId: Schema.String,
  fragmentId: Schema.String,
  version: Schema.String,
  sizeInBytes: Schema.String,
  customInformation: Schema.Record({ key: Schema.String, value: Schema.String }),
  backupFile: StoredFileJson,
  customMetadataFile: Schema.optional(StoredFileJson)
})

/**
 * The JSON record of a backup as kept on disk.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BackupRecordJson = Schema.Struct({
  name: Schema.String,
  backupManagerId: Schema.String,
  status: Schema.Literal("COMPLETE", "INCOMPLETE", "CORRUPTED"),
  creationTime: Schema.String,
  softwareVersions: Schema.Array(SoftwareVersionJson),
  fragments: Schema.Array(FragmentJson)
})

const recordFile = "backup.json"

/**
 * @since 0.1.0
 * @category models
 */
export interface Storage {
  readonly root: string
  readonly backupFolder: (manager: string, backupName: string) => string
  readonly fragmentFolder: (manager: string, backupName: string, agentId: string, fragmentId: string) => string
  readonly filePath: (
    manager: string,
    backupName: string,
    fragment: StoredFragment,
    file: "BACKUP_FILE" | "CUSTOM_METADATA_FILE"
  ) => string
  readonly writeRecord: (record: BackupRecord) => Effect.Effect<void, PlatformError>
  /** Every stored record; one left INCOMPLETE by a stop is marked CORRUPTED, as BRO does at start-up. */
  readonly loadRecords: Effect.Effect<ReadonlyArray<BackupRecord>, PlatformError>
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
}

/**
 * Opens (and creates) the storage folder.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (root: string): Effect.Effect<Storage, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const absolute = resolve(root)
    yield* fs.makeDirectory(absolute, { recursive: true })
    const backupFolder = (manager: string, backupName: string) => join(absolute, manager, backupName)
    const fragmentFolder = (manager: string, backupName: string, agentId: string, fragmentId: string) =>
      join(backupFolder(manager, backupName), agentId, fragmentId)
    const encode = Schema.encodeSync(BackupRecordJson)
    const decode = Schema.decodeUnknownEither(Schema.parseJson(BackupRecordJson))

    const writeRecord = (record: BackupRecord) =>
      Effect.gen(function*() {
        const folder = backupFolder(record.backupManagerId, record.name)
        yield* fs.makeDirectory(folder, { recursive: true })
        // Written aside and renamed: a stop in the middle never leaves half a record.
        const temporary = join(folder, `.${recordFile}.${randomBytes(4).toString("hex")}`)
        yield* fs.writeFileString(temporary, JSON.stringify(encode(record), null, 2))
        yield* fs.rename(temporary, join(folder, recordFile))
      })

    const loadRecords = Effect.gen(function*() {
      const records: Array<BackupRecord> = []
      for (const manager of yield* fs.readDirectory(absolute)) {
        const managerFolder = join(absolute, manager)
        if ((yield* fs.stat(managerFolder)).type !== "Directory") continue
        for (const backup of yield* fs.readDirectory(managerFolder)) {
          const path = join(managerFolder, backup, recordFile)
          if (!(yield* fs.exists(path))) continue
          const decoded = decode(yield* fs.readFileString(path))
          if (decoded._tag === "Left") {
            yield* Effect.logWarning(`Ignored the unreadable backup record ${path}`)
            continue
          }
          const record: BackupRecord = decoded.right
          if (record.status === "INCOMPLETE") {
            const corrupted = { ...record, status: "CORRUPTED" as const }
            yield* writeRecord(corrupted)
            records.push(corrupted)
          } else {
            records.push(record)
          }
        }
      }
      return records
    })

    return {
      root: absolute,
      backupFolder,
      fragmentFolder,
      filePath: (manager, backupName, fragment, file) =>
        file === "BACKUP_FILE"
          ? join(fragmentFolder(manager, backupName, fragment.agentId, fragment.fragmentId), "data", fragment.backupFile.name)
          : join(
            fragmentFolder(manager, backupName, fragment.agentId, fragment.fragmentId),
            "customMetadata",
            fragment.customMetadataFile?.name ?? ""
          ),
      writeRecord,
      loadRecords,
      deleteBackup: (manager, backupName) => fs.remove(backupFolder(manager, backupName), { recursive: true }),
      makeUploadFolder: (manager, backupName, agentId) =>
        Effect.gen(function*() {
          const folder = join(backupFolder(manager, backupName), agentId, `.upload-${randomBytes(6).toString("hex")}`)
          yield* fs.makeDirectory(folder, { recursive: true })
          return folder
        }),
      commitUpload: (uploadFolder, manager, backupName, agentId, fragmentId) =>
        Effect.gen(function*() {
          const final = fragmentFolder(manager, backupName, agentId, fragmentId)
          yield* fs.remove(final, { recursive: true, force: true })
          yield* fs.rename(uploadFolder, final)
        })
    }
  })
