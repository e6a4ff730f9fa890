/**
 * How a child process fails, and the options and result of running one:
 * the declarations `behavior/Commands` re-exports, here so that the engines
 * in this folder never import the public module.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Duration } from "effect"

/**
 * Why a command failed; see `Commands.CommandFailureReason`.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandFailureReason = "NotStarted" | "ExitCode" | "Signal" | "Unsupported"

/**
 * See `Commands.CommandFailed`.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly reason: CommandFailureReason
  /** The program and its arguments; never the environment, which may hold passwords. */
  readonly command: string
  readonly exitCode: number | undefined
  readonly signal: string | undefined
  /** The end of what the process wrote to stderr, trimmed. */
  readonly stderr: string
  /** What happened, in words: "exited with status 1". */
  readonly detail: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.command} ${this.detail}${this.stderr === "" ? "" : `: ${this.stderr}`}`
  }
}

/**
 * See `Commands.CommandOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandOptions {
  /** How long a process has after SIGTERM before SIGKILL; 5 seconds by default. */
  readonly killAfter?: Duration.DurationInput
  /** How many bytes of the end of stderr are kept for the error; 4096 by default. */
  readonly stderrTail?: number
}

/**
 * See `Commands.CommandResult`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandResult {
  readonly command: string
  readonly exitCode: number
  /** The end of what the process wrote to stderr, trimmed (tools log warnings there). */
  readonly stderr: string
  /** How many bytes of the input the process's stdin took. */
  readonly bytesWritten: number
}
