/**
 * A byte `Stream` piped into a process's stdin, cancel-safe: the input is
 * written as fast as the process reads it (`write()`'s answer and 'drain'),
 * the process's pipes can fail at any moment without an unhandled error,
 * and on interruption or a failing input the input is stopped first, then
 * the process killed and waited for, with its stdin never ended cleanly: a
 * tool must not take a cut input for a complete one.
 *
 * @since 0.1.0
 */
import type * as Command from "@effect/platform/Command"
import { Effect, Exit, Fiber, Stream } from "effect"
import type { CommandOptions, CommandResult } from "./errors.js"
import type { CommandFailed } from "./errors.js"
import type { RunningProcess } from "./process.js"
import { exitFailure, spawn } from "./process.js"
import { describe, settings } from "./spec.js"

/**
 * Writes the input to stdin until it ends, then ends stdin. Once the
 * process stopped reading (its stdin broke, or it exited), its exit status
 * decides: after a 0 the rest of the input is still pulled and dropped, so
 * that a download is verified to its end; after a failure the fiber waits
 * to be interrupted.
 */
const feed = <E, R>(running: RunningProcess, input: Stream.Stream<Uint8Array, E, R>) =>
  Effect.gen(function*() {
    const { state } = running
    const stdin = running.stdin
    if (stdin === null) return yield* Effect.dieMessage("bro-agent: a command's stdin is not piped")
    const writing = () => !state.stdinBroken && state.exit === undefined
    let draining = false
    yield* Stream.runForEachChunk(input, (chunk) =>
      Effect.gen(function*() {
        for (const bytes of chunk) {
          if (draining) return
          if (!writing()) {
            // It stopped reading: its exit decides. A failure stops the input (the
            // caller interrupts this fiber); a success drains the rest.
            yield* running.exitStatus.pipe(Effect.filterOrElse((status) => status.code === 0, () => Effect.never))
            draining = true
            return
          }
          if (bytes.length === 0) continue
          const more = stdin.write(bytes, (error) => {
            if (error === null || error === undefined) running.state.bytesWritten += bytes.length
          })
          if (!more) yield* running.until(() => !stdin.writableNeedDrain || !writing())
        }
      }))
    if (draining || !writing()) return
    stdin.end()
    yield* running.until(() => state.stdinFinished || !writing())
  })

/**
 * See `Commands.runWithInput`.
 *
 * @since 0.1.0
 */
export const runWithInput = <E, R>(
  command: Command.Command,
  input: Stream.Stream<Uint8Array, E, R>,
  options?: CommandOptions
): Effect.Effect<CommandResult, CommandFailed | E, R> =>
  Effect.scoped(Effect.gen(function*() {
    // The process first, the input's fiber second: the scope closes them in
    // reverse, so an interruption stops the input before the process is killed.
    const running = yield* spawn(yield* describe(command), { stdin: "pipe", stdout: "ignore" }, yield* settings(options))
    const feeding = yield* Effect.forkScoped(feed(running, input))
    const inputFirst = yield* Effect.raceFirst(
      Effect.map(Fiber.await(feeding), (exit) => ({ exit })),
      Effect.as(running.exitStatus, undefined)
    )
    if (inputFirst !== undefined && Exit.isFailure(inputFirst.exit)) {
      // The input failed: the finalizer kills the process before its stdin is closed.
      return yield* Effect.failCause(inputFirst.exit.cause)
    }
    const status = yield* running.exitStatus
    if (status.code === 0) {
      // It exited with success before its whole input: the rest is drained (and so verified).
      if (inputFirst === undefined) yield* Fiber.join(feeding)
      return {
        command: running.spec.text,
        exitCode: 0,
        stderr: running.stderr(),
        bytesWritten: running.state.bytesWritten
      }
    }
    // Exited with a failure while input still flowed: the input stops first.
    yield* Fiber.interrupt(feeding)
    yield* running.terminate
    return yield* exitFailure(running, status)
  }))
