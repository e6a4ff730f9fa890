/**
 * Child processes for backups and restores: a tool's stdout streamed into
 * a fragment (`pg_dump -Fc`, `tar -c`), and a download streamed into a
 * tool's stdin (`pg_restore`, `tar -x`), with no temporary file.
 *
 * Both count the exit status (a non-zero one fails with the status and the
 * end of stderr) and are safe to interrupt at any moment: the process and
 * its whole process group are stopped (SIGTERM, then SIGKILL after
 * `killAfter`) and waited for, and no pipe error (EPIPE, ECONNRESET) can
 * ever surface as an unhandled 'error' event that would end the agent.
 *
 * Commands are described with `@effect/platform`'s `Command.make`; of a
 * description only the program, arguments, environment (`Command.env`,
 * `extendEnv`), working directory and `shell` are used: its stdin, stdout
 * and stderr settings are ignored, these functions wire the pipes
 * themselves. A piped command (`Command.pipeTo`) fails as `Unsupported`:
 * run one shell with `set -o pipefail` instead. No `CommandExecutor` is
 * needed; processes are started with `node:child_process`.
 *
 * @since 0.1.0
 */
import type * as Command from "@effect/platform/Command"
import type { Effect, Stream } from "effect"
import type { CommandFailed, CommandOptions, CommandResult } from "../internal/command/errors.js"
import * as Input from "../internal/command/runWithInput.js"
import * as Output from "../internal/command/stdout.js"

// The declarations live with the engines (`internal/command`), so that
// those never import this module; they are documented here.

export type {
  /**
   * Why a command failed:
   *
   * - `NotStarted`: it could not be started (no such program, not
   *   executable, a missing working directory);
   * - `ExitCode`: it exited with a non-zero status (`exitCode`);
   * - `Signal`: a signal it was not sent by this library killed it (`signal`);
   * - `Unsupported`: a piped `Command` (`Command.pipeTo`).
   *
   * @since 0.1.0
   * @category models
   */
  CommandFailureReason,
  /**
   * `killAfter`: how long a process has after SIGTERM before SIGKILL (5
   * seconds by default); `stderrTail`: how many bytes of the end of stderr
   * are kept for the error (4096 by default).
   *
   * @since 0.1.0
   * @category models
   */
  CommandOptions,
  /**
   * A command that ran to a status 0: the command, its status, the end of
   * its stderr (trimmed; tools log warnings there) and how many bytes of
   * the input its stdin took.
   *
   * @since 0.1.0
   * @category models
   */
  CommandResult
} from "../internal/command/errors.js"

export {
  /**
   * A command failed: `reason` says how, `detail` in words ("exited with
   * status 1"), `stderr` holds the end of what it wrote there (the last
   * `stderrTail` bytes, trimmed, valid UTF-8), and `command` the program and
   * its arguments (never the environment, which may hold passwords). Its
   * `message` is `<command> <detail>: <stderr>`.
   *
   * @since 0.1.0
   * @category errors
   */
  CommandFailed
} from "../internal/command/errors.js"

/**
 * Runs `command` when the stream is run and streams its stdout, read only
 * as fast as the stream is pulled (the tool waits for a slow upload). The
 * stream ends once the process exited with status 0 and its stdout ended;
 * it fails with `CommandFailed` (the status and the end of stderr)
 * otherwise, so a truncated dump never passes for a complete one. The
 * process's stdin is `/dev/null`.
 *
 * Interrupting the stream, or ending it early (`Stream.take`), kills the
 * process and its process group (SIGTERM, then SIGKILL after `killAfter`)
 * and waits for it to exit. `Fragments.fromCommand` sends it as a fragment.
 *
 * @example
 * ```ts
 * const dump = Commands.stdout(Command.make("pg_dump", "-Fc", "--dbname", database))
 * context.sendFragment({ fragmentId, version: "1.0", backupFile: Fragments.fromStream("db.dump", dump) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const stdout: (command: Command.Command, options?: CommandOptions) => Stream.Stream<Uint8Array, CommandFailed> =
  Output.stdout

/**
 * Runs `command` with `input` piped into its stdin, as fast as the process
 * reads it, and succeeds with its result once it exited with status 0.
 * Made for a download going into a restore tool, and safe to cancel at any
 * moment:
 *
 * - no pipe error (EPIPE, ECONNRESET) is ever an unhandled 'error' event,
 *   whatever the interleaving;
 * - on interruption, or when the input fails, the input is stopped
 *   (interrupted) first, then the process group is killed (SIGTERM, then
 *   SIGKILL after `killAfter`) and waited for; its stdin is never ended
 *   cleanly then, so the tool never sees an end of input it could take for
 *   a complete one. A failing input fails with the input's error;
 * - once the input is complete, stdin is ended and the exit status awaited:
 *   a non-zero status fails with `CommandFailed` `ExitCode`;
 * - when the process exits with a failure while the input still flows, the
 *   input is stopped and the failure is `CommandFailed` with its status and
 *   stderr (not the EPIPE of the next write);
 * - when the process closes its stdin early and exits with status 0, the
 *   rest of the input is still pulled (and dropped), so a verified download
 *   is verified to its end before the success;
 * - the process's stdout goes to `/dev/null`, so it never blocks on it.
 *
 * @example
 * ```ts
 * executeRestore: (context) =>
 *   Effect.forEach(context.fragments, (fragment) =>
 *     Commands.runWithInput(
 *       Command.make("pg_restore", "--clean", "--single-transaction", "--dbname", database),
 *       context.downloadFragmentStream(fragment)
 *     ))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const runWithInput: <E, R>(
  command: Command.Command,
  input: Stream.Stream<Uint8Array, E, R>,
  options?: CommandOptions
) => Effect.Effect<CommandResult, CommandFailed | E, R> = Input.runWithInput
