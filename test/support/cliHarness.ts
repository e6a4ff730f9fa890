// Runs the command line in-process, with its output captured.
import { FetchHttpClient } from "@effect/platform"
import type { Console } from "effect"
import { Effect, Queue } from "effect"
import * as Cli from "../../cli/Cli.js"

export interface Captured {
  readonly code: Cli.ExitCode
  readonly out: ReadonlyArray<string>
  readonly err: ReadonlyArray<string>
}

/** A console that keeps what is printed, and also hands each line to `lines`. */
export const capturingConsole = (
  out: Array<string>,
  err: Array<string>,
  lines?: Queue.Queue<string>
): Effect.Effect<Console.Console> =>
  Effect.map(Effect.console, (console): Console.Console => ({
    ...console,
    log: (...args: ReadonlyArray<unknown>) =>
      Effect.sync(() => out.push(args.join(" "))).pipe(
        Effect.zipRight(lines === undefined ? Effect.void : Queue.offer(lines, args.join(" ")))
      ),
    error: (...args: ReadonlyArray<unknown>) => Effect.sync(() => err.push(...args.join(" ").split("\n")))
  }))

/** Runs the command line in-process, with its output captured. */
export const cli = (argv: ReadonlyArray<string>, options: Cli.RunOptions = {}) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const console = yield* capturingConsole(out, err)
    const code = yield* Cli.run(argv, { pollInterval: "1 millis", ...options }).pipe(
      Effect.withConsole(console),
      Effect.provide(FetchHttpClient.layer)
    )
    return { code, out, err } satisfies Captured
  })

