/**
 * An example agent that backs up a folder of files and restores it: one
 * fragment per file, each with a small custom-metadata file describing it.
 * Written the way we suggest users write theirs: every stage is an Effect,
 * failures are typed, and nothing is held in memory but a few chunks.
 *
 * Restore downloads every fragment, each into a sub-folder of its own in a
 * staging folder of a unique name (`.bro-restore-*`, inside the folder, so
 * that a file is moved in by a rename), before touching the folder; only then
 * does it move the files in and remove those the backup does not hold. A
 * failed download leaves the folder as it was, and the staging folder is
 * removed on every exit: success, failure or cancel.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { AgentBehavior, Fragments } from "bro-agent"
import { Effect } from "effect"
import { basename, join } from "node:path"

/**
 * @since 0.1.0
 * @category models
 */
export interface FolderAgentOptions {
  readonly agentId: string
  /** The folder backed up and restored (its regular files, not sub-folders). */
  readonly folder: string
  /** Backup managers beside DEFAULT, `;`-separated. */
  readonly scope?: string
  /** The version of the "service" this agent backs up; a restore refuses a backup of another major version. */
  readonly version?: string
}

const fragmentVersion = "1.0"

// The custom-metadata file's name: never the backup file's own, also on a
// file system that ignores case (a fragment's two files must differ).
const metadataFileName = (file: string) =>
  file.normalize("NFC").toLowerCase() === "fragment.json" ? "fragment-information.json" : "fragment.json"

/**
 * The agent's behaviour.
 *
 * @since 0.1.0
 * @category constructors
 */
export const folderAgent = (
  options: FolderAgentOptions
): Effect.Effect<
  AgentBehavior.AgentBehavior<AgentBehavior.StageFailure | Fragments.FailedToTransferBackup | Fragments.FailedToDownload>,
  never,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const version = options.version ?? "1.0.0"
    const listFiles = fs.readDirectory(options.folder).pipe(
      Effect.flatMap((names) =>
        Effect.filter(names.sort(), (name) =>
          fs.stat(join(options.folder, name)).pipe(Effect.map((info) => info.type === "File")))
      ),
      Effect.mapError((error) => new AgentBehavior.StageFailure({ message: `Cannot read ${options.folder}: ${error.message}`, cause: error }))
    )

    return {
      registration: {
        agentId: options.agentId,
        scope: options.scope ?? "",
        softwareVersion: {
          productName: "Folder",
          productNumber: "APR 901 0001",
          revision: "R1A",
          productionDate: "2026-11-25",
          description: `The files of ${options.folder}`,
          type: "Folder",
          commercialVersion: version,
          semanticVersion: version
        }
      },

      executeBackup: (context) =>
        Effect.gen(function*() {
          const files = yield* listFiles
          const sent = yield* context.sendFragments(
            files.map((name, index) => ({
              fragmentId: `${options.agentId}_${index}`,
              version: fragmentVersion,
              customInformation: { file: name },
              backupFile: Fragments.fromPath(join(options.folder, name)),
              customMetadataFile: Fragments.fromBytes(
                metadataFileName(name),
                JSON.stringify({ file: name, agent: options.agentId })
              )
            })),
            { concurrency: 2 }
          )
          return `Sent ${sent.length} files of ${options.folder}`
        }),

      prepareRestore: (context) => {
        const backupMajor = context.softwareVersion?.semanticVersion.split(".")[0]
        return backupMajor === version.split(".")[0]
          ? Effect.succeed(`Backup ${context.backupName} (version ${context.softwareVersion?.semanticVersion}) can be restored`)
          : Effect.fail(new AgentBehavior.StageFailure({
            message: `Backup ${context.backupName} was made by version ${context.softwareVersion?.semanticVersion}, this is ${version}`
          }))
      },

      executeRestore: (context) =>
        Effect.scoped(Effect.gen(function*() {
          // A folder of a name no user file can have, removed on every exit.
          const staging = yield* Effect.acquireRelease(
            fs.makeTempDirectory({ directory: options.folder, prefix: ".bro-restore-" }).pipe(
              Effect.mapError((error) =>
                new AgentBehavior.StageFailure({ message: `Cannot restore into ${options.folder}: ${error.message}`, cause: error })
              )
            ),
            (path) => fs.remove(path, { recursive: true, force: true }).pipe(Effect.ignore)
          )
          // Everything is downloaded (and checked) before the folder is touched,
          // each fragment into a folder of its own: the files of two fragments
          // never meet, whatever their names.
          const downloaded = yield* Effect.forEach(
            context.fragments,
            (fragment, index) => context.downloadFragment(fragment, join(staging, String(index))),
            { concurrency: 2 }
          )
          const restored = new Map<string, string>()
          for (const fragment of downloaded) {
            const name = basename(fragment.backupFile.path)
            if (restored.has(name)) {
              return yield* new AgentBehavior.StageFailure({ message: `Backup ${context.backupName} holds ${name} twice` })
            }
            restored.set(name, fragment.backupFile.path)
          }
          yield* Effect.gen(function*() {
            for (const [name, path] of restored) yield* fs.rename(path, join(options.folder, name))
            for (const name of yield* listFiles) if (!restored.has(name)) yield* fs.remove(join(options.folder, name))
          }).pipe(
            Effect.mapError((error) =>
              error._tag === "StageFailure"
                ? error
                : new AgentBehavior.StageFailure({ message: `Cannot restore into ${options.folder}: ${error.message}`, cause: error })
            )
          )
          return `Restored ${restored.size} files into ${options.folder}`
        }))
    }
  })
