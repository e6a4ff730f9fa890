/**
 * A process's stdout as a `Stream`, with backpressure: the pipe is read
 * only as fast as the stream is pulled (Node buffers at most its high-water
 * mark), so a dump tool waits for a slow upload instead of filling memory.
 *
 * @since 0.1.0
 */
import type * as Command from "@effect/platform/Command"
import { Chunk, Effect, Option, Stream } from "effect"
import type { CommandFailed, CommandOptions } from "./errors.js"
import { exitFailure, spawn } from "./process.js"
import { describe, settings } from "./spec.js"

/**
 * See `Commands.stdout`.
 *
 * @since 0.1.0
 */
export const stdout = (command: Command.Command, options?: CommandOptions): Stream.Stream<Uint8Array, CommandFailed> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const running = yield* spawn(yield* describe(command), { stdin: "ignore", stdout: "pipe" }, yield* settings(options))
    const { state } = running
    const output = running.stdout
    if (output === null) return yield* Effect.dieMessage("bro-agent: a command's stdout is not piped")
    // A non-zero exit fails at once: what is still buffered would only be thrown away.
    const failed = () => state.exit !== undefined && state.exit.code !== 0
    const done = () => state.stdoutEnded || state.stdoutClosed || failed()

    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<CommandFailed>> = Effect.gen(function*() {
      while (true) {
        if (!failed()) {
          const bytes: Buffer | null = output.read()
          if (bytes !== null) return Chunk.of<Uint8Array>(bytes)
        }
        if (done()) break
        yield* running.until(() => output.readableLength > 0 || done())
      }
      const status = yield* running.exitStatus
      if (status.code !== 0) {
        // Stop what it left behind and take stderr to its end first: its last lines say why.
        yield* running.terminate
        return yield* Effect.fail(Option.some(exitFailure(running, status)))
      }
      // Status 0 but the pipe broke: the output may be cut short, and passing it on as whole would be a lie.
      if (!state.stdoutEnded) return yield* Effect.die(state.stdoutError ?? new Error("stdout closed before its end"))
      return yield* Effect.fail(Option.none())
    })
    return Stream.repeatEffectChunkOption(pull)
  }))
