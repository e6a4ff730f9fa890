// The SIGKILL after killAfter, on the TestClock. In a file of its own: a
// suite of `layer(...)` in the same file replaces the shared \`it\`'s testers
// with its own, which have no TestClock.
import * as Command from "@effect/platform/Command"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Queue, Stream, TestClock } from "effect"
import * as Commands from "../../src/behavior/Commands.js"
import { exists } from "./CommandsSupport.js"

describe("Commands killAfter", () => {
  it.scoped("sends SIGKILL once killAfter passed to a process that ignores SIGTERM", () =>
    Effect.gen(function*() {
      const printed = yield* Queue.unbounded<string>()
      // exec keeps the ignored SIGTERM: the shell's own disposition passes to sleep.
      const command = Command.make("sh", "-c", "trap '' TERM; echo $$; exec sleep 1000")
      const reading = yield* Effect.fork(
        Stream.runForEach(Commands.stdout(command, { killAfter: "10 seconds" }).pipe(Stream.decodeText(), Stream.splitLines), (line) =>
          Queue.offer(printed, line))
      )
      const pid = Number(yield* Queue.take(printed))
      const interrupting = yield* Effect.fork(Fiber.interrupt(reading))
      // SIGTERM is sent, and the wait for the exit is on the clock.
      yield* TestClock.sleeps().pipe(
        Effect.tap(() => Effect.yieldNow()),
        Effect.repeat({ until: (sleeps) => Chunk.isNonEmpty(sleeps) })
      )
      expect(exists(pid)).toBe(true)
      expect(Option.isNone(yield* Fiber.poll(interrupting))).toBe(true)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(interrupting)
      expect(exists(pid)).toBe(false)
    }))
})
