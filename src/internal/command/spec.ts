/**
 * What of an `@effect/platform` `Command` description a process is started
 * from: program, arguments, environment, working directory and shell. The
 * description's own stdin, stdout and stderr settings are not used: the
 * engines wire the three streams themselves.
 *
 * @since 0.1.0
 */
import type * as Command from "@effect/platform/Command"
import { Duration, Effect, Option } from "effect"
import type { CommandOptions } from "./errors.js"
import { CommandFailed } from "./errors.js"

/**
 * A command to start, and how it is shown in errors.
 *
 * @since 0.1.0
 */
export interface CommandSpec {
  readonly program: string
  readonly args: ReadonlyArray<string>
  /** The whole environment of the process. */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string | undefined
  readonly shell: boolean | string
  /** The program and its arguments, quoted as a shell would need them. */
  readonly text: string
}

/**
 * The options with their defaults applied.
 *
 * @since 0.1.0
 */
export interface CommandSettings {
  readonly killAfter: Duration.Duration
  readonly stderrTail: number
}

const plainWord = /^[\w@%+=:,./-]+$/

/** A word as a POSIX shell reads it back: quoted unless it is plain. */
const quote = (word: string): string => (plainWord.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`)

const commandText = (command: Command.Command): string =>
  command._tag === "StandardCommand"
    ? [command.command, ...command.args].map(quote).join(" ")
    : `${commandText(command.left)} | ${commandText(command.right)}`

/**
 * The command to start, or `Unsupported` for a piped one: its processes
 * would each need an exit status, and a shell already does that well.
 *
 * @since 0.1.0
 */
export const describe = (command: Command.Command): Effect.Effect<CommandSpec, CommandFailed> => {
  const text = commandText(command)
  if (command._tag === "PipedCommand") {
    return Effect.fail(
      new CommandFailed({
        reason: "Unsupported",
        command: text,
        exitCode: undefined,
        signal: undefined,
        stderr: "",
        detail: "is a piped command (Command.pipeTo), which is not supported: run one shell instead, " +
          "such as bash -c 'set -o pipefail; a | b', so that a failure of any part fails the whole",
        cause: undefined
      })
    )
  }
  const env = Object.fromEntries(command.env)
  return Effect.succeed({
    program: command.command,
    args: command.args,
    env: command.extendEnv ? { ...process.env, ...env } : env,
    cwd: Option.getOrUndefined(command.cwd),
    shell: command.shell,
    text
  })
}

/**
 * The options checked, with their defaults; bad ones are a bug of the
 * caller's, so they are defects.
 *
 * @since 0.1.0
 */
export const settings = (options: CommandOptions = {}): Effect.Effect<CommandSettings> =>
  Effect.suspend(() => {
    const killAfter = Duration.decodeUnknown(options.killAfter ?? "5 seconds")
    const stderrTail = options.stderrTail ?? 4096
    if (Option.isNone(killAfter)) {
      return Effect.dieMessage(`bro-agent: Commands killAfter is not a duration: ${String(options.killAfter)}`)
    }
    if (!Number.isSafeInteger(stderrTail) || stderrTail < 0) {
      return Effect.dieMessage(`bro-agent: Commands stderrTail must be a whole number of bytes, 0 or more: ${stderrTail}`)
    }
    return Effect.succeed({ killAfter: killAfter.value, stderrTail })
  })
