/**
 * An example agent that backs up a folder of files and restores it: one
 * fragment per file, each with a small custom-metadata file describing it.
 * Written the way we suggest users write theirs: every stage is an Effect,
 * failures are typed, and nothing is held in memory but a few chunks.
 *
 * Restore downloads every fragment before touching anything it does not
 * replace, and only then removes the files the backup does not hold, so a
 * failed restore leaves the folder's other files as they were.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { AgentBehavior, Fragments } from "bro-agent"
import { Effect } from "effect"
import { join } from "node:path"

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
              customMetadataFile: Fragments.fromBytes(`${name}.meta.json`, JSON.stringify({ file: name, agent: options.agentId }))
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
        Effect.gen(function*() {
          const staging = join(options.folder, `.restore-${context.backupName.replace(/[^\w-]/g, "_")}`)
          yield* fs.remove(staging, { recursive: true, force: true }).pipe(Effect.ignore)
          // Everything is downloaded (and checked) before the folder is touched.
          const downloaded = yield* Effect.forEach(context.fragments, (fragment) =>
            context.downloadFragment(fragment, staging), { concurrency: 2 })
          const restored = new Set(downloaded.map((fragment) => fragment.backupFile.path.slice(staging.length + 1)))
          const move = Effect.gen(function*() {
            for (const name of restored) yield* fs.rename(join(staging, name), join(options.folder, name))
            for (const name of yield* listFiles) if (!restored.has(name)) yield* fs.remove(join(options.folder, name))
            yield* fs.remove(staging, { recursive: true })
          })
          yield* move.pipe(
            Effect.mapError((error) =>
              error._tag === "StageFailure" ? error : new AgentBehavior.StageFailure({ message: `Cannot restore into ${options.folder}: ${error.message}`, cause: error })
            )
          )
          return `Restored ${restored.size} files into ${options.folder}`
        }).pipe(
          // A failed restore leaves no staging folder behind.
          Effect.onError(() =>
            fs.remove(join(options.folder, `.restore-${context.backupName.replace(/[^\w-]/g, "_")}`), {
              recursive: true,
              force: true
            }).pipe(Effect.ignore)
          )
        )
    }
  })
