// The checksum worker's file writers (issue 16): a download's backup file is
// written and hashed on a thread of its own, so that a disk that fails or
// hangs is that file's failure only. A named pipe nobody reads is the hung
// disk: opened for reading and writing it never blocks at open, and a write
// into it waits once the pipe's 64 KiB are full.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Scope } from "effect"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { md5Of } from "../../src/internal/Checksum.js"
import * as ChecksumWorker from "../../src/internal/ChecksumWorker.js"

const KiB = 1024
const MiB = 1024 * KiB

const temporaryFolder = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bro-agent-writer-"))),
  (folder) => Effect.sync(() => rmSync(folder, { recursive: true, force: true }))
)

const openWriter = (checksums: ChecksumWorker.Checksums, options: ChecksumWorker.FileWriteOptions) =>
  checksums.openFileWriter === undefined ? Effect.dieMessage("these checksums write no files") : checksums.openFileWriter(options)

const writeAll = (session: ChecksumWorker.FileWriteSession, bytes: Uint8Array, piece: number) =>
  Effect.gen(function*() {
    for (let offset = 0; offset < bytes.length; offset += piece) yield* session.write(bytes.subarray(offset, offset + piece))
    return yield* session.finish
  })

/** Reads what a hung writer wrote into the pipe until its thread is gone, so that the test leaves no thread behind. */
const unblock = (fifo: string, threadsBefore: number) =>
  Effect.gen(function*() {
    const descriptor = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
    const buffer = Buffer.alloc(MiB)
    try {
      for (let attempt = 0; attempt < 1000 && ChecksumWorker.runningThreads() > threadsBefore; attempt++) {
        try {
          readSync(descriptor, buffer)
        } catch {
          // EAGAIN: nothing written yet.
        }
        yield* Effect.sleep("5 millis")
      }
    } finally {
      closeSync(descriptor)
    }
  })

describe("files written on a checksum worker thread", () => {
  it.scoped("write every byte into the file and give its MD5, closing it before the checksum", () =>
    Effect.gen(function*() {
      const folder = yield* temporaryFolder
      const checksums = yield* ChecksumWorker.make
      const bytes = randomBytes(5 * MiB + 17)
      const path = join(folder, "data.bin")
      const session = yield* openWriter(checksums, { path, timeout: Duration.seconds(30) })
      const checksum = yield* writeAll(session, bytes, 300 * KiB + 1)
      expect(checksum).toBe(md5Of(bytes))
      expect(readFileSync(path).equals(bytes)).toBe(true)
    }))

  it.scoped("refuse to overwrite a file that exists, with the file system's AlreadyExists", () =>
    Effect.gen(function*() {
      const folder = yield* temporaryFolder
      const checksums = yield* ChecksumWorker.make
      const path = join(folder, "taken.bin")
      execFileSync("touch", [path])
      const failure = yield* Effect.flip(Effect.scoped(openWriter(checksums, { path, timeout: Duration.seconds(30) })))
      expect(failure._tag).toBe("SystemError")
      expect(failure._tag === "SystemError" && failure.reason).toBe("AlreadyExists")
    }))

  it.scoped("fail the file with ENOSPC when the disk is full, and let the next file be written", () =>
    Effect.gen(function*() {
      const folder = yield* temporaryFolder
      const checksums = yield* ChecksumWorker.make
      const full = yield* Effect.flip(
        Effect.scoped(
          Effect.flatMap(
            openWriter(checksums, { path: "/dev/full", flag: "w", timeout: Duration.seconds(30) }),
            (session) => writeAll(session, randomBytes(2 * MiB), 512 * KiB)
          )
        )
      )
      expect(full._tag).toBe("SystemError")
      expect(full.message).toContain("ENOSPC")
      const bytes = randomBytes(MiB)
      const path = join(folder, "after.bin")
      const checksum = yield* Effect.scoped(
        Effect.flatMap(openWriter(checksums, { path, timeout: Duration.seconds(30) }), (session) => writeAll(session, bytes, MiB))
      )
      expect(checksum).toBe(md5Of(bytes))
      expect(readFileSync(path).equals(bytes)).toBe(true)
    }))

  it.scopedLive("fail a file whose disk hangs by the timeout, while another file is written to its end", () =>
    Effect.gen(function*() {
      const folder = yield* temporaryFolder
      const fifo = join(folder, "hung")
      execFileSync("mkfifo", [fifo])
      const threadsBefore = ChecksumWorker.runningThreads()
      const scope = yield* Scope.make()
      const checksums = yield* Scope.extend(ChecksumWorker.make, scope)
      const hung = yield* Effect.fork(
        Effect.scoped(
          Effect.flatMap(
            openWriter(checksums, { path: fifo, flag: "r+", timeout: Duration.millis(300) }),
            (session) => writeAll(session, randomBytes(8 * MiB), 512 * KiB)
          )
        )
      )
      const bytes = randomBytes(8 * MiB)
      const path = join(folder, "other.bin")
      const checksum = yield* Effect.scoped(
        Effect.flatMap(openWriter(checksums, { path, timeout: Duration.seconds(30) }), (session) => writeAll(session, bytes, 512 * KiB))
      )
      expect(checksum).toBe(md5Of(bytes))
      const exit = yield* Fiber.await(hung)
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("DataChannelTimeout")
      // The channel's scope closes with the hung thread still in its write.
      yield* Scope.close(scope, Exit.void)
      yield* unblock(fifo, threadsBefore)
      expect(ChecksumWorker.runningThreads()).toBe(threadsBefore)
    }), 20_000)

  it.scoped("give each file written its own thread, and take it back once the file is closed", () =>
    Effect.gen(function*() {
      const folder = yield* temporaryFolder
      const before = ChecksumWorker.runningThreads()
      const checksums = yield* ChecksumWorker.make
      const open = (name: string) => openWriter(checksums, { path: join(folder, name), timeout: Duration.seconds(30) })
      const bytes = randomBytes(MiB)
      yield* Effect.scoped(
        Effect.gen(function*() {
          const a = yield* open("a")
          const b = yield* open("b")
          // A writer per file, and the hashing thread they share.
          expect(ChecksumWorker.runningThreads()).toBe(before + 3)
          expect([yield* writeAll(a, bytes, MiB), yield* writeAll(b, bytes, MiB)]).toEqual([md5Of(bytes), md5Of(bytes)])
        })
      )
      yield* Effect.scoped(Effect.flatMap(open("c"), (session) => writeAll(session, bytes, MiB)))
      expect(ChecksumWorker.runningThreads()).toBe(before + 3)
    }))
})

describe("slot memories of the checksum threads", () => {
  it.scoped("are made once per thread and reused by the sessions that follow, hashing or writing", () =>
    Effect.gen(function*() {
      const folder = yield* temporaryFolder
      const checksums = yield* ChecksumWorker.make
      const bytes = randomBytes(MiB + 5)
      const before = ChecksumWorker.slotMemoriesMade()
      for (let round = 0; round < 20; round++) {
        const hashed = yield* Effect.scoped(
          Effect.flatMap(checksums.open(undefined), (session) =>
            Effect.zipRight(session.update(bytes), session.digest))
        )
        expect(hashed).toBe(md5Of(bytes))
        const written = yield* Effect.scoped(
          Effect.flatMap(openWriter(checksums, { path: join(folder, `f-${round}`), timeout: Duration.seconds(30) }), (session) =>
            writeAll(session, bytes, 256 * KiB))
        )
        expect(written).toBe(md5Of(bytes))
      }
      // One memory, the hashing thread's: a file's writer reads the slots its hashing reads.
      expect(ChecksumWorker.slotMemoriesMade() - before).toBe(1)
    }))
})
