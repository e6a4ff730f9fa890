/**
 * Child processes for every benchmark, managed one way: each is a Node
 * program started in the current scope (killed when the scope closes, if it
 * still runs), spoken to by lines on its stdin, answering by lines on its
 * stdout; its stderr is shown as it comes, each line prefixed with its name.
 * A child whose stdin closes must stop by itself, so that a driver that died
 * leaves nothing behind.
 *
 * Also what the drivers read about a process from Linux's /proc: its CPU
 * time and its resident memory.
 */
import { Command } from "@effect/platform"
import type { CommandExecutor } from "@effect/platform"
import type { Scope } from "effect"
import { Console, Data, Duration, Effect, Queue, Stream } from "effect"
import { readFileSync } from "node:fs"

/** Why a benchmark could not go on. */
export class BenchFailure extends Data.TaggedError("BenchFailure")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** A running child process. */
export interface Child {
  readonly name: string
  readonly pid: number
  /** Writes one line on its stdin. */
  readonly send: (line: string) => Effect.Effect<void>
  /**
   * Its next stdout line that `select` turns into a value (the lines it
   * gives `undefined` for are skipped); fails when the process ends first,
   * or after `within`.
   */
  readonly next: <A>(what: string, select: (line: string) => A | undefined, within: Duration.DurationInput) => Effect.Effect<A, BenchFailure>
  /** Waits for it to exit by itself, within `within`, and fails unless its exit code is 0. */
  readonly succeeded: (within: Duration.DurationInput) => Effect.Effect<void, BenchFailure>
  /** Closes its stdin, waits a little for it to exit, and kills it (SIGKILL) if it does not. */
  readonly stop: Effect.Effect<void>
}

type Received = { readonly _tag: "Line"; readonly line: string } | { readonly _tag: "Ended" }

/**
 * Starts `node [nodeArgs] script args` in the current scope. `isStray`
 * picks the stdout lines that are not answers (logs, warnings): they are
 * shown on stderr instead of being queued.
 */
export const startChild = (
  name: string,
  script: string,
  args: ReadonlyArray<string>,
  options: { readonly nodeArgs?: ReadonlyArray<string>; readonly isStray?: (line: string) => boolean } = {}
): Effect.Effect<Child, BenchFailure, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const process_ = yield* Command.start(Command.make(process.execPath, ...(options.nodeArgs ?? []), script, ...args)).pipe(
      Effect.mapError((error) => new BenchFailure({ reason: `cannot start the ${name} process: ${error.message}` }))
    )
    const received = yield* Queue.unbounded<Received>()
    const commands = yield* Queue.unbounded<string | undefined>()
    const show = (line: string) => Console.error(`[${name}] ${line}`)
    const encoder = new TextEncoder()
    const isStray = options.isStray ?? (() => false)

    yield* Stream.fromQueue(commands).pipe(
      Stream.takeWhile((line): line is string => line !== undefined),
      Stream.map((line) => encoder.encode(`${line}\n`)),
      Stream.run(process_.stdin),
      Effect.ignore,
      Effect.forkScoped
    )
    yield* process_.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => (isStray(line) ? show(line) : Queue.offer(received, { _tag: "Line", line }))),
      Effect.ignore,
      Effect.ensuring(Queue.offer(received, { _tag: "Ended" })),
      Effect.forkScoped
    )
    yield* process_.stderr.pipe(Stream.decodeText(), Stream.splitLines, Stream.runForEach(show), Effect.ignore, Effect.forkScoped)

    const next = <A>(what: string, select: (line: string) => A | undefined, within: Duration.DurationInput) =>
      Effect.gen(function*() {
        for (;;) {
          const message = yield* Queue.take(received)
          if (message._tag === "Ended") {
            // Later waits see the end too.
            yield* Queue.offer(received, message)
            return yield* new BenchFailure({ reason: `the ${name} process ended before ${what} (see its output above)` })
          }
          const value = select(message.line)
          if (value !== undefined) return value
        }
      }).pipe(
        Effect.timeoutFail({
          duration: within,
          onTimeout: () => new BenchFailure({ reason: `no ${what} from the ${name} process within ${Duration.format(within)}` })
        })
      )

    const succeeded = (within: Duration.DurationInput) =>
      process_.exitCode.pipe(
        Effect.mapError((error) => new BenchFailure({ reason: `the ${name} process: ${error.message}` })),
        Effect.timeoutFail({
          duration: within,
          onTimeout: () => new BenchFailure({ reason: `the ${name} process did not exit within ${Duration.format(within)}` })
        }),
        Effect.flatMap((code) =>
          code === 0 ? Effect.void : Effect.fail(new BenchFailure({ reason: `the ${name} process exited with ${code} (see above)` }))
        )
      )

    const stop = Effect.gen(function*() {
      yield* Queue.offer(commands, undefined)
      yield* process_.exitCode.pipe(Effect.timeout("20 seconds"), Effect.ignore)
      if (yield* Effect.orElseSucceed(process_.isRunning, () => false)) {
        yield* Console.error(`[${name}] did not exit: killing it`)
        yield* process_.kill("SIGKILL").pipe(Effect.timeout("5 seconds"), Effect.ignore)
      }
    })

    return {
      name,
      pid: process_.pid,
      send: (line) => Queue.offer(commands, line).pipe(Effect.asVoid),
      next,
      succeeded,
      stop
    }
  })

/**
 * CPU seconds (user + system, all threads) a process has used so far, from
 * /proc (Linux, at its usual 100 clock ticks per second); `undefined`
 * elsewhere.
 */
export const cpuSecondsOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/** A process's resident memory now (VmRSS), KiB, from /proc; `undefined` elsewhere. */
export const rssKiBOf = (pid: number): number | undefined => {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((each) => each.startsWith("VmRSS:"))
    const kib = Number(line?.split(/\s+/)[1])
    return Number.isFinite(kib) ? kib : undefined
  } catch {
    return undefined
  }
}
