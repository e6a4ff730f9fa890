import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, TestClock, TestServices } from "effect"
import { randomBytes } from "node:crypto"
import * as ChecksumWorker from "../src/internal/ChecksumWorker.js"
import { md5Of } from "../src/internal/Checksum.js"

const KiB = 1024
const MiB = 1024 * KiB

/** Feeds `bytes` to a session in pieces of the given sizes, over and over, and returns its digest. */
const feed = (session: ChecksumWorker.Md5Session, bytes: Uint8Array, pieces: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    for (let offset = 0, index = 0; offset < bytes.length; index++) {
      const size = pieces[index % pieces.length] ?? 1
      yield* session.update(bytes.subarray(offset, offset + size))
      offset += size
    }
    return yield* session.digest
  })

// Worker threads end on their own event; this waits for it with the real clock.
const eventually = (condition: () => boolean) =>
  TestServices.provideLive(
    Effect.gen(function*() {
      for (let attempt = 0; attempt < 500 && !condition(); attempt++) yield* Effect.sleep("10 millis")
      return condition()
    })
  )

describe("checksums on a worker thread", () => {
  it.scoped("give the MD5 of every byte of a transfer of unknown size, whatever the pieces, on one worker thread", () =>
    Effect.gen(function*() {
      const checksums = yield* ChecksumWorker.make
      const bytes = randomBytes(5 * MiB + 3)
      const session = yield* checksums.open(undefined)
      expect(ChecksumWorker.runningThreads()).toBe(1)
      const digest = yield* feed(session, bytes, [1, 1000, 700 * KiB, 512 * KiB, 2 * MiB + 5, 0, 17])
      expect(digest).toBe(md5Of(bytes))
    }))

  it.scoped("give the MD5 of the empty transfer", () =>
    Effect.gen(function*() {
      const checksums = yield* ChecksumWorker.make
      const session = yield* checksums.open(undefined)
      expect(yield* session.digest).toBe(md5Of(new Uint8Array(0)))
    }))

  it.scoped("hash a small transfer of known size in place, with no thread", () =>
    Effect.gen(function*() {
      const checksums = yield* ChecksumWorker.make
      const bytes = randomBytes(1000)
      const session = yield* checksums.open(bytes.length)
      expect(ChecksumWorker.runningThreads()).toBe(0)
      expect(yield* feed(session, bytes, [3])).toBe(md5Of(bytes))
    }))

  it.scoped("keep concurrent transfers apart", () =>
    Effect.gen(function*() {
      const checksums = yield* ChecksumWorker.make
      const inputs = [randomBytes(3 * MiB), randomBytes(2 * MiB + 1), randomBytes(7)]
      const digests = yield* Effect.forEach(
        inputs,
        (bytes, index) => Effect.flatMap(checksums.open(undefined), (session) => feed(session, bytes, [64 * KiB + index])),
        { concurrency: "unbounded" }
      )
      expect(digests).toEqual(inputs.map(md5Of))
      expect(ChecksumWorker.runningThreads()).toBe(1)
    }))

  it.scoped("start the next transfer afresh after one was interrupted mid-way", () =>
    Effect.gen(function*() {
      const checksums = yield* ChecksumWorker.make
      const interrupted = yield* Effect.fork(
        Effect.scoped(
          Effect.flatMap(checksums.open(undefined), (session) =>
            Effect.zipRight(session.update(randomBytes(MiB)), Effect.never))
        )
      )
      yield* Fiber.interrupt(interrupted)
      const bytes = randomBytes(MiB + 1)
      const session = yield* checksums.open(undefined)
      expect(yield* feed(session, bytes, [100 * KiB])).toBe(md5Of(bytes))
    }))

  it.effect("stop the worker thread when their scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const checksums = yield* Scope.extend(ChecksumWorker.make, scope)
      yield* Scope.extend(checksums.open(undefined), scope)
      expect(ChecksumWorker.runningThreads()).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(ChecksumWorker.runningThreads()).toBe(0)
    }))

  it.scoped("stop the worker thread once no transfer used it for 5 seconds, and start it again for the next", () =>
    Effect.gen(function*() {
      const checksums = yield* ChecksumWorker.make
      const bytes = randomBytes(MiB)
      expect(yield* Effect.scoped(Effect.flatMap(checksums.open(undefined), (session) => feed(session, bytes, [MiB]))))
        .toBe(md5Of(bytes))
      expect(ChecksumWorker.runningThreads()).toBe(1)
      yield* TestClock.adjust("4 seconds")
      expect(ChecksumWorker.runningThreads()).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(yield* eventually(() => ChecksumWorker.runningThreads() === 0)).toBe(true)
      expect(yield* Effect.scoped(Effect.flatMap(checksums.open(undefined), (session) => feed(session, bytes, [KiB]))))
        .toBe(md5Of(bytes))
      expect(ChecksumWorker.runningThreads()).toBe(1)
    }))
})
