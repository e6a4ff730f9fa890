/**
 * Start-up: the storage folder read back as people and crashes leave it.
 *
 * - Anything that is not what the store writes (a stray file such as
 *   `.DS_Store`, a symbolic link, dangling or not, a `backup.json` that is a
 *   folder, a record that breaks the rules or lies in another backup's
 *   folder) is skipped with a warning naming its path, and left alone.
 * - What a stop (`kill -9`) interrupted is finished or undone: a backup being
 *   deleted (renamed to `.deleting-*` first) is removed; a backup folder with
 *   no record at all (a stop before its first record, or during a delete
 *   made before deletes were recoverable) is removed; an upload's
 *   `.upload-*` folder and a record's temporary file are removed; a backup
 *   still INCOMPLETE is marked CORRUPTED, as BRO does.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Either, ParseResult, Schema } from "effect"
import { join } from "node:path"
import type { BackupRecord } from "../Model.js"
import { backupNameProblem, idProblem } from "../Names.js"
import { deletingPrefix, recordFile, recordTemporaryPrefix, uploadPrefix } from "./Paths.js"
import { BackupRecordJson } from "./RecordJson.js"

/** Larger than any record the store writes by far; a bigger `backup.json` is not read into memory. */
const largestRecord = 64 * 1024 * 1024

type Kind = "SymbolicLink" | FileSystem.File.Type | "Missing"

/** What is at `path`, without following a symbolic link (FileSystem has no `lstat`). */
const kindOf = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Kind, PlatformError> =>
  fs.readLink(path).pipe(
    Effect.as<Kind>("SymbolicLink"),
    Effect.catchAll(() =>
      fs.stat(path).pipe(
        Effect.map((info): Kind => info.type),
        Effect.catchIf(
          (error) => error._tag === "SystemError" && error.reason === "NotFound",
          () => Effect.succeed<Kind>("Missing")
        )
      )
    )
  )

type ReadRecord =
  | { readonly _tag: "Valid"; readonly record: BackupRecord }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Invalid"; readonly reason: string }

const decode = Schema.decodeUnknownEither(Schema.parseJson(BackupRecordJson))

const describe = (error: ParseResult.ParseError): string =>
  // The formatter quotes what it was given: a pathological record must not make the warning itself fail.
  Either.getOrElse(
    Either.try(() => ParseResult.TreeFormatter.formatErrorSync(error)),
    () => "it does not follow the record's schema"
  )

const readRecord = (fs: FileSystem.FileSystem, path: string): Effect.Effect<ReadRecord> =>
  Effect.gen(function*() {
    const kind = yield* kindOf(fs, path)
    if (kind === "Missing") return { _tag: "Missing" } as const
    if (kind !== "File") return { _tag: "Invalid", reason: `it is a ${kind}, not a file` } as const
    const info = yield* fs.stat(path)
    if (Number(info.size) > largestRecord) {
      return { _tag: "Invalid", reason: `it holds ${info.size} bytes, more than a record may` } as const
    }
    const decoded = decode(yield* fs.readFileString(path))
    return Either.isLeft(decoded)
      ? { _tag: "Invalid", reason: describe(decoded.left) } as const
      : { _tag: "Valid", record: decoded.right } as const
  }).pipe(Effect.catchAll((error) => Effect.succeed({ _tag: "Invalid", reason: error.message } as const)))

const skipped = (path: string, why: string) =>
  Effect.logWarning(`Skipped ${path} in the storage folder: ${why}`).pipe(Effect.annotateLogs({ path }))

/** Removes what a stop left; a failure is logged, not fatal: the next start tries again. */
const removeLeftover = (fs: FileSystem.FileSystem, path: string, what: string) =>
  fs.remove(path, { recursive: true }).pipe(
    Effect.zipRight(Effect.logWarning(`Removed ${path} from the storage folder: ${what}`)),
    Effect.catchAll((error) => Effect.logWarning(`Could not remove ${path} (${what}): ${error.message}`)),
    Effect.annotateLogs({ path })
  )

/**
 * Reads every backup record in `root`, recovering on the way, and returns
 * the records to list. `markCorrupted` writes a record left INCOMPLETE
 * as CORRUPTED.
 *
 * @since 0.1.0
 */
export const recover = (
  fs: FileSystem.FileSystem,
  root: string,
  markCorrupted: (record: BackupRecord) => Effect.Effect<void, PlatformError>
): Effect.Effect<ReadonlyArray<BackupRecord>, PlatformError> =>
  Effect.gen(function*() {
    const records: Array<BackupRecord> = []

    const cleanBackup = (folder: string, record: BackupRecord) =>
      Effect.gen(function*() {
        for (const entry of yield* fs.readDirectory(folder)) {
          if (entry.startsWith(recordTemporaryPrefix)) {
            yield* removeLeftover(fs, join(folder, entry), "a record write that was interrupted")
          }
        }
        const recorded = new Set(record.fragments.map((fragment) => `${fragment.agentId}/${fragment.fragmentId}`))
        for (const { agentId } of record.softwareVersions) {
          const agentFolder = join(folder, agentId)
          if ((yield* kindOf(fs, agentFolder)) !== "Directory") continue
          for (const entry of yield* fs.readDirectory(agentFolder)) {
            // A fragment id may itself start so: only what the record does not list is an upload.
            if (entry.startsWith(uploadPrefix) && !recorded.has(`${agentId}/${entry}`)) {
              yield* removeLeftover(fs, join(agentFolder, entry), "an upload that was interrupted")
            }
          }
        }
      }).pipe(Effect.catchAll((error) => Effect.logWarning(`Could not tidy ${folder}: ${error.message}`)))

    const loadBackup = (manager: string, entry: string) =>
      Effect.gen(function*() {
        const folder = join(root, manager, entry)
        const kind = yield* kindOf(fs, folder)
        if (kind !== "Directory") return yield* skipped(folder, `it is a ${kind}, not a backup's folder`)
        const path = join(folder, recordFile)
        const read = yield* readRecord(fs, path)
        const own = read._tag === "Valid" && read.record.backupManagerId === manager && read.record.name === entry
        if (entry.startsWith(deletingPrefix) && !own) {
          return yield* removeLeftover(fs, folder, "a backup whose deletion was interrupted")
        }
        switch (read._tag) {
          case "Missing":
            return backupNameProblem(entry) === undefined
              ? yield* removeLeftover(fs, folder, "a backup folder without a record, left by an interrupted creation or deletion")
              : yield* skipped(folder, `it holds no ${recordFile}`)
          case "Invalid":
            return yield* skipped(path, read.reason)
          case "Valid": {
            const record = read.record
            if (!own) {
              return yield* skipped(
                path,
                `it records backup ${JSON.stringify(record.name)} of backup manager ${JSON.stringify(record.backupManagerId)}, ` +
                  `not the folder it lies in`
              )
            }
            yield* cleanBackup(folder, record)
            if (record.status !== "INCOMPLETE") return records.push(record)
            // Left INCOMPLETE by a stop: CORRUPTED, as BRO marks it at start-up.
            const corrupted: BackupRecord = { ...record, status: "CORRUPTED" }
            yield* markCorrupted(corrupted).pipe(
              Effect.catchAll((error) => Effect.logWarning(`Could not mark ${path} CORRUPTED: ${error.message}`))
            )
            records.push(corrupted)
          }
        }
      }).pipe(Effect.catchAll((error) => skipped(join(root, manager, entry), error.message)))

    for (const manager of (yield* fs.readDirectory(root)).sort()) {
      const folder = join(root, manager)
      const kind = yield* kindOf(fs, folder).pipe(Effect.orElseSucceed((): Kind => "Unknown"))
      if (kind !== "Directory") {
        yield* skipped(folder, `it is a ${kind}, not a backup manager's folder`)
        continue
      }
      const problem = idProblem(manager)
      if (problem !== undefined) {
        yield* skipped(folder, `its name is no backup manager id: it ${problem}`)
        continue
      }
      const entries = yield* fs.readDirectory(folder).pipe(
        Effect.tapError((error) => skipped(folder, error.message)),
        Effect.orElseSucceed((): ReadonlyArray<string> => [])
      )
      for (const entry of [...entries].sort()) yield* loadBackup(manager, entry)
    }
    return records
  })
