/**
 * The backups one orchestrator knows: their records, in memory and (with
 * `layer`) in the storage folder, which `Storage.ts` keeps. The job runner
 * reads and changes records only here; the data handlers reach the stored
 * files through `BackupFiles`.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Context, Effect, Layer, Ref } from "effect"
import type { BackupRecord } from "./Model.js"
import * as Storage from "./Storage.js"

/**
 * The backup records of one orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class BackupRecords extends Context.Tag("bro-agent/orchestrator/BackupRecords")<
  BackupRecords,
  {
    /** Every record, oldest first. */
    readonly all: Effect.Effect<ReadonlyArray<BackupRecord>>
    readonly find: (manager: string, backupName: string) => Effect.Effect<BackupRecord | undefined>
    /** Writes a record (a new one, or the new state of one). */
    readonly save: (record: BackupRecord) => Effect.Effect<void, PlatformError>
    /** Deletes a backup: its record and its files. */
    readonly remove: (manager: string, backupName: string) => Effect.Effect<void, PlatformError>
    /** Marks a backup CORRUPTED (a stored file no longer reads back as it was stored). */
    readonly markCorrupted: (manager: string, backupName: string, reason: string) => Effect.Effect<void>
  }
>() {}

/**
 * The storage folder's files, for the data handlers (uploads are written,
 * and restores read, there).
 *
 * @since 0.1.0
 * @category tags
 */
export class BackupFiles extends Context.Tag("bro-agent/orchestrator/BackupFiles")<BackupFiles, Storage.Storage>() {}

const key = (manager: string, backupName: string) => `${manager}/${backupName}`

// The records in memory, and how to write them through `persist` (nothing, in memory only).
const makeRecords = (
  initial: ReadonlyArray<BackupRecord>,
  persist: {
    readonly write: (record: BackupRecord) => Effect.Effect<void, PlatformError>
    readonly delete: (manager: string, backupName: string) => Effect.Effect<void, PlatformError>
  }
): Effect.Effect<BackupRecords["Type"]> =>
  Effect.gen(function*() {
    const records = yield* Ref.make<ReadonlyMap<string, BackupRecord>>(
      new Map(initial.map((record) => [key(record.backupManagerId, record.name), record]))
    )
    const remember = (record: BackupRecord) =>
      Ref.update(records, (all) => new Map(all).set(key(record.backupManagerId, record.name), record))
    const find = (manager: string, backupName: string) => Effect.map(Ref.get(records), (all) => all.get(key(manager, backupName)))
    const save = (record: BackupRecord) => Effect.zipRight(persist.write(record), remember(record))
    return {
      all: Effect.map(Ref.get(records), (all) => [...all.values()].sort((a, b) => a.creationTime.localeCompare(b.creationTime))),
      find,
      save,
      remove: (manager, backupName) =>
        Effect.zipRight(
          persist.delete(manager, backupName),
          Ref.update(records, (all) => {
            const next = new Map(all)
            next.delete(key(manager, backupName))
            return next
          })
        ),
      markCorrupted: (manager, backupName, reason) =>
        Effect.gen(function*() {
          const record = yield* find(manager, backupName)
          if (record === undefined || record.status === "CORRUPTED") return
          const corrupted: BackupRecord = { ...record, status: "CORRUPTED" }
          yield* Effect.logWarning(`Marked backup ${backupName} of ${manager} CORRUPTED: ${reason}`)
          // In memory at least: the backup must not be restored again.
          yield* save(corrupted).pipe(
            Effect.catchAll((error) =>
              Effect.zipRight(Effect.logError(`Could not write the CORRUPTED record: ${error.message}`), remember(corrupted))
            )
          )
        }).pipe(Effect.annotateLogs({ backupManagerId: manager, backupName }))
    }
  })

/**
 * The records of the storage folder `root` (created when missing), loaded at
 * start, and its files.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (root: string): Layer.Layer<BackupRecords | BackupFiles, PlatformError, FileSystem.FileSystem> =>
  Layer.effectContext(Effect.gen(function*() {
    const storage = yield* Storage.make(root)
    const records = yield* makeRecords(yield* storage.loadRecords, {
      write: storage.writeRecord,
      delete: storage.deleteBackup
    })
    return Context.make(BackupRecords, records).pipe(Context.add(BackupFiles, storage))
  }))

/**
 * Records kept in memory only, starting with `initial`: nothing is written
 * anywhere, and there are no files (for `Orchestrator.layerTest`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (initial: ReadonlyArray<BackupRecord> = []): Layer.Layer<BackupRecords> =>
  Layer.effect(BackupRecords, makeRecords(initial, { write: () => Effect.void, delete: () => Effect.void }))
