// Issue 15, verified streaming: `downloadFragmentStream` hands on the backup
// file's last chunk, and its end, only once the whole fragment checked out.
// A consumer such as pg_restore commits as soon as it holds a complete
// archive: it must never hold one of unverified bytes. Against a TestServer
// over real gRPC, which serves exactly what each test scripts.
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect, Exit, Fiber, Queue, Stream } from "effect"
import { randomBytes } from "node:crypto"
import * as Fragments from "../../src/behavior/Fragments.js"
import { FilePart } from "../../src/core/Message.js"
import { layerLive } from "../support/layers.js"
import { chunkSize, information, md5Hex, scriptedServer, servedFile, target } from "./DownloadSupport.js"

/** Runs the stream as a consumer would, keeping every piece it was handed, and how it ended. */
const consume = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.gen(function*() {
    const received: Array<Uint8Array> = []
    const exit = yield* Stream.runForEach(stream, (bytes) => Effect.sync(() => void received.push(bytes))).pipe(Effect.exit)
    return { bytes: Buffer.concat(received), exit }
  })

// Four whole chunks and a shorter last one.
const original = randomBytes(chunkSize * 4 + 1234)
const lastChunk = original.subarray(chunkSize * 4)

/** What the consumer was handed is a part of the start of the file, without its last chunk. */
const expectNoLastChunk = (bytes: Buffer) => {
  expect(bytes.length).toBeLessThanOrEqual(original.length - lastChunk.length)
  expect(bytes.equals(original.subarray(0, bytes.length))).toBe(true)
}

layerLive(NodeFileSystem.layer)("verified streaming of a download", (it) => {
  it.scoped("never hands on the backup file's last chunk when its checksum differs", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({
        messages: servedFile("BACKUP_FILE", "dump.bin", original, { checksum: md5Hex(randomBytes(8)) })
      })
      const { bytes, exit } = yield* consume(Fragments.downloadFragmentStream(channel, target, information("f", original.length)))
      expect(exit).toMatchObject({ _tag: "Failure" })
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({ error: { _tag: "FailedToDownload", reason: "ChecksumMismatch" } })
      expectNoLastChunk(bytes)
    }))

  it.scoped("never hands on the backup file's last chunk when the custom-metadata file's checksum differs", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({
        messages: [
          ...servedFile("BACKUP_FILE", "dump.bin", original),
          ...servedFile("CUSTOM_METADATA_FILE", "dump.json", "{\"version\":16}", { checksum: md5Hex(randomBytes(8)) })
        ]
      })
      const { bytes, exit } = yield* consume(Fragments.downloadFragmentStream(channel, target, information("f", original.length)))
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({
        error: { _tag: "FailedToDownload", reason: "ChecksumMismatch", fileName: "dump.json" }
      })
      expectNoLastChunk(bytes)
    }))

  it.scoped("never hands on the last chunk when the call fails after it, before the checksum", () =>
    Effect.gen(function*() {
      // What the development orchestrator does with a corrupted stored fragment.
      const { channel } = yield* scriptedServer({
        messages: servedFile("BACKUP_FILE", "dump.bin", original).slice(0, -1),
        end: { status: "ABORTED", details: "the stored fragment is corrupted" }
      })
      const { bytes, exit } = yield* consume(Fragments.downloadFragmentStream(channel, target, information("f", original.length)))
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({
        error: { _tag: "FailedToDownload", reason: "RefusedByOrchestrator", status: "ABORTED" }
      })
      expectNoLastChunk(bytes)
    }))

  it.scoped("never hands on the last chunk when the call fails after both checksums matched", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({
        messages: [...servedFile("BACKUP_FILE", "dump.bin", original), ...servedFile("CUSTOM_METADATA_FILE", "dump.json", "{}")],
        end: { status: "INTERNAL", details: "the orchestrator failed" }
      })
      const { bytes, exit } = yield* consume(Fragments.downloadFragmentStream(channel, target, information("f", original.length)))
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({
        error: { _tag: "FailedToDownload", reason: "RefusedByOrchestrator", status: "INTERNAL" }
      })
      expectNoLastChunk(bytes)
    }))

  it.scoped("never hands on the last chunk when a message follows the complete fragment", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({
        messages: [
          ...servedFile("BACKUP_FILE", "dump.bin", original),
          ...servedFile("CUSTOM_METADATA_FILE", "dump.json", "{}"),
          FilePart.Content({ file: "CUSTOM_METADATA_FILE", content: Buffer.from("more") })
        ]
      })
      const { bytes, exit } = yield* consume(Fragments.downloadFragmentStream(channel, target, information("f", original.length)))
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({
        error: { _tag: "FailedToDownload", reason: "ProtocolViolation" }
      })
      expectNoLastChunk(bytes)
    }))

  it.scoped("holds back one chunk only: all the others are handed on while the rest is still to come", () =>
    Effect.gen(function*() {
      // The file's chunks without its checksum; the call stays open until the test ends it.
      const { channel, server } = yield* scriptedServer({
        messages: servedFile("BACKUP_FILE", "dump.bin", original).slice(0, -1),
        end: "hold"
      })
      const pieces = yield* Queue.unbounded<Uint8Array>()
      const consumer = yield* Fragments.downloadFragmentStream(channel, target, information("f", original.length)).pipe(
        Stream.runForEach((bytes) => Queue.offer(pieces, bytes)),
        Effect.fork
      )
      const download = yield* server.downloads
      let handed = 0
      while (handed < chunkSize * 4) handed += (yield* Queue.take(pieces)).length
      expect(handed).toBe(chunkSize * 4)
      yield* download.end({ status: "ABORTED", details: "the stored fragment is corrupted" })
      const exit = yield* Fiber.await(consumer)
      expect(Exit.isFailure(exit)).toBe(true)
      const rest = yield* Queue.takeAll(pieces)
      expect([...rest].reduce((total, bytes) => total + bytes.length, 0)).toBe(0)
    }))

  it.scoped("hands on a correct fragment whole, byte for byte, and ends", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({
        messages: [...servedFile("BACKUP_FILE", "dump.bin", original), ...servedFile("CUSTOM_METADATA_FILE", "dump.json", "{}")]
      })
      const { bytes, exit } = yield* consume(Fragments.downloadFragmentStream(channel, target, information("f", original.length)))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(bytes.length).toBe(original.length)
      expect(bytes.equals(original)).toBe(true)
    }))

  it.scoped("hands on a one-chunk fragment whole once it checked out", () =>
    Effect.gen(function*() {
      const small = randomBytes(100)
      const { channel } = yield* scriptedServer({ messages: servedFile("BACKUP_FILE", "small.bin", small) })
      const { bytes, exit } = yield* consume(Fragments.downloadFragmentStream(channel, target, information("f", small.length)))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(bytes.equals(small)).toBe(true)
    }))

  it.scoped("ends a zero-length backup file's stream, with no bytes, only after its custom-metadata file checked out", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const { channel } = yield* scriptedServer({
        messages: [...servedFile("BACKUP_FILE", "empty.bin", ""), ...servedFile("CUSTOM_METADATA_FILE", "empty.json", "{}")]
      })
      const exit = yield* Fragments.downloadFragmentStream(channel, target, information("f", 0), {
        onCustomMetadata: (file) => Effect.sync(() => void events.push(`metadata ${file?.fileName}`))
      }).pipe(
        Stream.runForEach((bytes) => Effect.sync(() => void events.push(`bytes ${bytes.length}`))),
        Effect.zipRight(Effect.sync(() => void events.push("end"))),
        Effect.exit
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(events).toEqual(["metadata empty.json", "end"])
    }))

  it.scoped("fails a zero-length backup file's stream, instead of ending it, when its checksum differs", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({
        messages: servedFile("BACKUP_FILE", "empty.bin", "", { checksum: md5Hex(Buffer.from("x")) })
      })
      const { bytes, exit } = yield* consume(Fragments.downloadFragmentStream(channel, target, information("f", 0)))
      expect(bytes.length).toBe(0)
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({ error: { reason: "ChecksumMismatch" } })
    }))
})
