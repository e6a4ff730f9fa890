/**
 * The backup records as the job runner sees them: find, list, save, delete,
 * mark CORRUPTED. `layer` reads and writes them through the backup store
 * (`Storage.ts`: disk, memory, recovery at start); `layerMemory` keeps them
 * in memory only, for `Orchestrator.layerTest`.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import { Context, Effect, Layer, Option, Ref } from "effect"
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
    /** Marks a backup CORRUPTED, saying why. */
    readonly markCorrupted: (manager: string, backupName: string, reason: string) => Effect.Effect<void>
  }
>() {}

const byCreation = (records: ReadonlyMap<string, BackupRecord>) =>
  [...records.values()].sort((a, b) => a.creationTime.localeCompare(b.creationTime))

/**
 * The records of the backup store in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<BackupRecords, never, Storage.BackupStore> = Layer.effect(
  BackupRecords,
  Effect.map(Storage.BackupStore, (store): BackupRecords["Type"] => ({
    all: Effect.map(Ref.get(store.backups), byCreation),
    find: (manager, backupName) => Effect.map(store.record(manager, backupName), Option.getOrUndefined),
    save: store.writeRecord,
    remove: store.deleteBackup,
    markCorrupted: store.markCorrupted
  }))
)

/**
 * Records in memory only, starting with `initial`: nothing is written
 * anywhere, and no backup has files.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (initial: ReadonlyArray<BackupRecord> = []): Layer.Layer<BackupRecords> =>
  Layer.effect(
    BackupRecords,
    Effect.map(
      Ref.make<ReadonlyMap<string, BackupRecord>>(
        new Map(initial.map((record) => [Storage.recordKey(record.backupManagerId, record.name), record]))
      ),
      (records): BackupRecords["Type"] => {
        const find = (manager: string, backupName: string) =>
          Effect.map(Ref.get(records), (all) => all.get(Storage.recordKey(manager, backupName)))
        const save = (record: BackupRecord) =>
          Ref.update(records, (all) => new Map(all).set(Storage.recordKey(record.backupManagerId, record.name), record))
        return {
          all: Effect.map(Ref.get(records), byCreation),
          find,
          save,
          remove: (manager, backupName) =>
            Ref.update(records, (all) => {
              const next = new Map(all)
              next.delete(Storage.recordKey(manager, backupName))
              return next
            }),
          markCorrupted: (manager, backupName) =>
            Effect.flatMap(find(manager, backupName), (record) =>
              record === undefined ? Effect.void : save({ ...record, status: "CORRUPTED" }))
        }
      }
    )
  )
