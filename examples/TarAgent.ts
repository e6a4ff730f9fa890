/**
 * An example agent that streams a folder as a `tar` archive: the backup is
 * `tar -c`'s stdout, piped straight into the data channel
 * (`Fragments.fromCommand`), and the restore is the verified download piped
 * straight into `tar -x`'s stdin (`Commands.runWithInput`). No temporary
 * archive is ever written, and memory holds a few chunks whatever the size:
 * the pattern for any dump tool (see `PostgresAgent.ts` for a database).
 *
 * `tar` extracts as it reads, so the restore extracts into a staging folder
 * of a unique name next to the folder, and swaps it in only once the whole
 * download checked out and `tar` exited with status 0. The staging folder
 * (with the folder's previous contents, once swapped) is removed on every
 * exit: success, failure or cancel. A cancel stops the download, then kills
 * `tar`; the folder is left as it was.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import * as FileSystem from "@effect/platform/FileSystem"
import type { Fragment } from "bro-agent"
import { AgentBehavior, Commands, Fragments } from "bro-agent"
import { Effect } from "effect"
import { basename, dirname, join } from "node:path"

/**
 * @since 0.1.0
 * @category models
 */
export interface TarAgentOptions {
  readonly agentId: string
  /** The folder backed up and restored, with everything under it. */
  readonly folder: string
}

/**
 * The errors of the agent's stages: a `tar` that failed, a transfer, or the
 * swap of the restored folder.
 *
 * @since 0.1.0
 * @category models
 */
export type TarAgentError =
  | Commands.CommandFailed
  | Fragments.FailedToTransferBackup
  | Fragments.FailedToDownload
  | AgentBehavior.StageFailure

/**
 * The agent's behaviour, backing up `folder` as one fragment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tarAgent = (
  options: TarAgentOptions
): Effect.Effect<AgentBehavior.AgentBehavior<TarAgentError>, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const cannot = (what: string) => (error: { readonly message: string }) =>
      new AgentBehavior.StageFailure({ message: `Cannot ${what} ${options.folder}: ${error.message}`, cause: error })

    const restoreFragment = (context: AgentBehavior.RestoreContext, fragment: Fragment.FragmentInformation) =>
      Effect.scoped(Effect.gen(function*() {
        // One folder of a unique name beside the folder (so a rename moves it
        // in): `new` is what tar extracts, `previous` the folder once swapped.
        const work = yield* Effect.acquireRelease(
          fs.makeTempDirectory({ directory: dirname(options.folder), prefix: `.${basename(options.folder)}.restoring-` }).pipe(
            Effect.mapError(cannot("stage the restore of"))
          ),
          (path) => fs.remove(path, { recursive: true, force: true }).pipe(Effect.ignore)
        )
        const extracted = join(work, "new")
        yield* fs.makeDirectory(extracted).pipe(Effect.mapError(cannot("stage the restore of")))
        // --ignore-zeros: tar reads its input to the end, past the archive's end marker.
        yield* Commands.runWithInput(
          Command.make("tar", "-x", "--ignore-zeros", "-C", extracted),
          context.downloadFragmentStream(fragment)
        )
        yield* swapIn(extracted, join(work, "previous"))
      }))

    // The folder and the extracted one trade places, or nothing changes.
    const swapIn = (extracted: string, previous: string) =>
      Effect.gen(function*() {
        const existed = yield* fs.exists(options.folder).pipe(Effect.mapError(cannot("restore")))
        if (existed) yield* fs.rename(options.folder, previous).pipe(Effect.mapError(cannot("restore")))
        yield* fs.rename(extracted, options.folder).pipe(
          Effect.mapError(cannot("restore")),
          Effect.tapError(() => existed ? fs.rename(previous, options.folder).pipe(Effect.ignore) : Effect.void)
        )
      }).pipe(Effect.uninterruptible)

    return AgentBehavior.make({
      registration: {
        agentId: options.agentId,
        softwareVersion: {
          productName: "Tar example",
          productNumber: "APR 901 0002",
          revision: "R1A",
          productionDate: "2026-11-25",
          description: `The files under ${options.folder}, as a tar archive`,
          type: "Folder",
          semanticVersion: "1.0.0"
        }
      },

      // A non-zero exit of tar fails the fragment with its status and stderr:
      // a truncated archive never passes for a complete one.
      executeBackup: (context) =>
        context.sendFragment({
          fragmentId: `${options.agentId}_archive`,
          version: "1.0",
          backupFile: Fragments.fromCommand("folder.tar", Command.make("tar", "-c", "-C", options.folder, "."))
        }),

      executeRestore: (context) =>
        Effect.forEach(context.fragments, (fragment) => restoreFragment(context, fragment), {
          discard: true
        })
    })
  })
