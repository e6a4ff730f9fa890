/**
 * An example agent that streams a folder as a `tar` archive: the backup is
 * `tar` writing to stdout, piped straight into the data channel, and the
 * restore is the downloaded bytes piped straight into `tar -x`. No temporary
 * archive is ever written, and memory holds a few chunks whatever the size:
 * the pattern for a database dump tool (`pg_dump`, `mongodump`, ...).
 *
 * A stream restore cannot be undone once the tool has read it, and its
 * checksum is confirmed only at the end, so `tar` extracts into a staging
 * folder that replaces the folder only after the download checked out.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import { AgentBehavior, Fragments } from "bro-agent"
import { Effect, Stream } from "effect"
import { basename, dirname, join } from "node:path"

/**
 * A command ended with a non-zero exit code, or could not run.
 *
 * @since 0.1.0
 * @category errors
 */
const commandFailed = (command: string, detail: string) =>
  new AgentBehavior.StageFailure({ message: `${command} failed: ${detail}` })

/**
 * The agent's behaviour, backing up `folder` as one fragment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tarAgent = (options: { readonly agentId: string; readonly folder: string }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const executor = yield* CommandExecutor.CommandExecutor
    const run = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.provideService(effect, CommandExecutor.CommandExecutor, executor)

    // tar's output, failing (rather than ending) when tar exits with an error:
    // a truncated archive must never pass for a complete one.
    const archive = Stream.unwrapScoped(
      Effect.map(run(Command.start(Command.make("tar", "-c", "-C", options.folder, "."))), (tar) =>
        Stream.concat(
          tar.stdout,
          Stream.fromEffect(tar.exitCode).pipe(
            Stream.flatMap((code) => (code === 0 ? Stream.empty : Stream.fail(commandFailed("tar -c", `exit code ${code}`))))
          )
        ))
    ).pipe(Stream.provideService(CommandExecutor.CommandExecutor, executor))

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

      executeBackup: (context) =>
        context.sendFragment({
          fragmentId: `${options.agentId}_archive`,
          version: "1.0",
          backupFile: Fragments.fromStream("folder.tar", archive)
        }),

      executeRestore: (context) =>
        Effect.forEach(context.fragments, (fragment) =>
          Effect.scoped(Effect.gen(function*() {
            const staging = join(dirname(options.folder), `.${basename(options.folder)}.restoring`)
            yield* fs.remove(staging, { recursive: true, force: true })
            yield* fs.makeDirectory(staging, { recursive: true })
            // --ignore-zeros: tar reads to the end of its input instead of exiting at the
            // archive's end marker, which would leave the pipe's writer waiting for ever.
            const tar = yield* run(Command.start(Command.make("tar", "-x", "--ignore-zeros", "-C", staging)))
            // The download is piped into tar's stdin; a checksum mismatch fails it.
            yield* Stream.run(context.downloadFragmentStream(fragment), tar.stdin)
            const code = yield* tar.exitCode
            if (code !== 0) return yield* commandFailed("tar -x", `exit code ${code}`)
            yield* fs.remove(options.folder, { recursive: true })
            yield* fs.rename(staging, options.folder)
          }))).pipe(
            Effect.catchTags({
              SystemError: (error) => Effect.fail(commandFailed("restoring the folder", error.message)),
              BadArgument: (error) => Effect.fail(commandFailed("restoring the folder", error.message))
            })
          )
    })
  })
