// Fragments over real gRPC: the data channel of `behavior/Fragments` on the
// gRPC transport, against a TestServer on 127.0.0.1 that plays the
// orchestrator's store, with real files in temporary folders.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Option, Schedule, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { join } from "node:path"
import * as Fragments from "../src/behavior/Fragments.js"
import { FragmentInformation } from "../src/core/Fragment.js"
import type { BackupMessage, FragmentFile, RestoreMessage } from "../src/core/Message.js"
import { FilePart } from "../src/core/Message.js"
import * as GrpcTransport from "../src/transport/GrpcTransport.js"
import * as TestServer from "./support/TestServer.js"
import { layerLive } from "./support/layers.js"

const agentId = "my-agent"
const target = { backupName: "nightly", backupType: "DEFAULT" }
const chunkSize = 512 * 1024
const MiB = 1024 * 1024

/** The data channel over gRPC to `port`; the client lives as long as the test's scope. */
const channelTo = (port: number) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port }), NodeFileSystem.layer)
    )
    return yield* Fragments.makeDataChannel(agentId, { chunkSize }).pipe(Effect.provide(context))
  })

/**
 * A TestServer that serves, for a download, the restore messages the test
 * stored under the fragment's id (NOT_FOUND for any other).
 */
const storingServer = (options: Omit<TestServer.TestServerOptions, "serveDownload"> = {}) =>
  Effect.gen(function*() {
    const served = new Map<string, TestServer.DownloadScript>()
    const server = yield* TestServer.make({
      ...options,
      serveDownload: (request) =>
        served.get(request.fragment.fragmentId) ??
          { messages: [], end: { status: "NOT_FOUND", details: `no fragment ${request.fragment.fragmentId}` } }
    })
    const channel = yield* channelTo(server.port)
    return { server, served, channel }
  })

const tempFolder = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bro-agent-grpc-" }))

// A restore stream carries the file parts of an upload as they are: the same
// shape, without the metadata.
const asRestoreMessages = (messages: ReadonlyArray<BackupMessage>): ReadonlyArray<RestoreMessage> =>
  messages.flatMap((message) => (message._tag === "Metadata" ? [] : [message]))

const contentChunks = (messages: ReadonlyArray<BackupMessage | RestoreMessage>, file: FragmentFile) =>
  messages.flatMap((message) => (message._tag === "Content" && message.file === file ? [message.content] : []))

// An upload's shape: which part of which file each message is.
const shapeOf = (messages: ReadonlyArray<BackupMessage>) =>
  messages.map((message) =>
    message._tag === "Metadata" || message._tag === "Unsupported" ? message._tag : `${message._tag} ${message.file}`
  )

const fileShape = (file: FragmentFile, chunks: number) => [
  `FileName ${file}`,
  ...Array.from({ length: chunks }, () => `Content ${file}`),
  `Checksum ${file}`
]

const uploadedMessages = (server: TestServer.TestServer) =>
  Effect.gen(function*() {
    const outcome = yield* (yield* server.uploads).outcome
    expect(outcome._tag).toBe("Completed")
    return outcome.messages
  })

// Computed here, not with the library's helper: the server's side of the check.
const md5Hex = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex").toUpperCase()

const sameBytes = (actual: Uint8Array, expected: Uint8Array) =>
  Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(
    Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)
  )

// What an orchestrator streams for a stored file, cut into chunks of `chunk` bytes.
const servedFile = (file: FragmentFile, fileName: string, bytes: Uint8Array, chunk = chunkSize) => {
  const parts: Array<RestoreMessage> = [FilePart.FileName({ file, fileName })]
  for (let offset = 0; offset < bytes.length; offset += chunk) {
    parts.push(FilePart.Content({ file, content: bytes.subarray(offset, offset + chunk) }))
  }
  parts.push(FilePart.Checksum({ file, checksum: md5Hex(bytes) }))
  return parts
}

const information = (fragmentId: string, size: number) =>
  FragmentInformation.make({ fragmentId, version: "1.0", sizeInBytes: String(size), customInformation: {} })

const sortedEntries = (folder: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(folder)).pipe(Effect.map((names) => [...names].sort()))

/** Waits until `folder` holds at least one entry (a download's partial file, say). */
const awaitEntryIn = (folder: string) =>
  sortedEntries(folder).pipe(
    Effect.repeat({ schedule: Schedule.spaced("5 millis"), until: (entries) => entries.length > 0 })
  )

/**
 * The process's open file descriptors that point into `folder` (Linux: the
 * links of /proc/self/fd). A removed file still open shows as
 * `<path> (deleted)`, inside the folder too.
 */
const handlesInto = (folder: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const real = yield* fs.realPath(folder)
    const descriptors = yield* fs.readDirectory("/proc/self/fd")
    // The descriptor that lists the folder is gone by now: ignore what no longer resolves.
    const links = yield* Effect.forEach(descriptors, (fd) => Effect.option(fs.readLink(`/proc/self/fd/${fd}`)))
    return links.flatMap(Option.toArray).filter((link) => link.startsWith(`${real}/`))
  })

const sizes = [
  { label: "an empty file", size: 0, chunks: 0 },
  { label: "a file of one byte", size: 1, chunks: 1 },
  { label: "a file of exactly one chunk", size: chunkSize, chunks: 1 },
  { label: "a file of one chunk plus one byte", size: chunkSize + 1, chunks: 2 },
  { label: "a file of 5 MiB", size: 5 * MiB, chunks: 10 }
]

layerLive(NodeFileSystem.layer)("fragments over gRPC: round trip", (it) => {
  for (const { chunks, label, size } of sizes) {
    for (const withMetadata of [false, true]) {
      const name = withMetadata
        ? `uploads ${label} with a custom-metadata file of the same size and downloads both byte for byte`
        : `uploads ${label} alone and downloads it byte for byte`
      it.scoped(name, () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const { channel, served, server } = yield* storingServer()
          const folder = yield* tempFolder
          yield* fs.makeDirectory(join(folder, "source"))
          const backupPath = join(folder, "source", "dump.bin")
          const metadataPath = join(folder, "source", "dump-meta.json")
          const backupBytes = randomBytes(size)
          const metadataBytes = randomBytes(size)
          yield* fs.writeFile(backupPath, backupBytes)
          if (withMetadata) yield* fs.writeFile(metadataPath, metadataBytes)
          const fragmentId = `my-agent_${size}`
          const customInformation: Record<string, string> = withMetadata ? { pod: "db-0" } : {}

          const sent = yield* Fragments.sendFragment(channel, target, {
            fragmentId,
            version: "1.0",
            customInformation,
            backupFile: Fragments.fromPath(backupPath),
            ...(withMetadata ? { customMetadataFile: Fragments.fromPath(metadataPath) } : {})
          })

          const received = yield* uploadedMessages(server)
          expect(received[0]).toEqual({
            _tag: "Metadata",
            metadata: {
              agentId,
              backupName: "nightly",
              backupType: "",
              fragment: { fragmentId, version: "1.0", sizeInBytes: String(size), customInformation }
            }
          })
          // An empty content chunk would arrive as a file name: the shape shows it too.
          expect(shapeOf(received)).toEqual([
            "Metadata",
            ...fileShape("BACKUP_FILE", chunks),
            ...(withMetadata ? fileShape("CUSTOM_METADATA_FILE", chunks) : [])
          ])
          const backupChunks = contentChunks(received, "BACKUP_FILE")
          const metadataChunks = contentChunks(received, "CUSTOM_METADATA_FILE")
          expect(backupChunks.length).toBe(chunks)
          expect(metadataChunks.length).toBe(withMetadata ? chunks : 0)
          expect([...backupChunks, ...metadataChunks].filter((chunk) => chunk.length === 0)).toEqual([])
          expect(received).toContainEqual(FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5Hex(backupBytes) }))
          expect(sent.backupFile).toEqual({ fileName: "dump.bin", size, checksum: md5Hex(backupBytes) })

          served.set(fragmentId, { messages: asRestoreMessages(received) })
          const restoreFolder = join(folder, "restored")
          const downloaded = yield* Fragments.downloadFragment(channel, target, sent.fragment, restoreFolder)

          const request = (yield* server.downloads).request
          expect(request).toEqual({ agentId, backupName: "nightly", backupType: "DEFAULT", fragment: sent.fragment })
          expect(downloaded.backupFile).toEqual({
            path: join(restoreFolder, "dump.bin"),
            size,
            checksum: md5Hex(backupBytes)
          })
          expect(yield* sortedEntries(restoreFolder)).toEqual(withMetadata ? ["dump-meta.json", "dump.bin"] : ["dump.bin"])
          expect(sameBytes(yield* fs.readFile(join(restoreFolder, "dump.bin")), backupBytes)).toBe(true)
          if (withMetadata) {
            expect(downloaded.customMetadataFile?.path).toBe(join(restoreFolder, "dump-meta.json"))
            expect(sameBytes(yield* fs.readFile(join(restoreFolder, "dump-meta.json")), metadataBytes)).toBe(true)
          } else {
            expect(downloaded.customMetadataFile).toBeUndefined()
          }
        }))
    }
  }

  it.scoped("uploads a stream of odd-sized pieces in full chunks with sizeInBytes \"0\", and downloads it byte for byte", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { channel, served, server } = yield* storingServer()
      const folder = yield* tempFolder
      const pieces = [7, 100_003, 0, 524_289, 1, 333_333, 65_537].map((size) => randomBytes(size))
      const whole = Buffer.concat(pieces)

      const sent = yield* Fragments.sendFragment(channel, target, {
        fragmentId: "my-agent_dump",
        version: "1.0",
        backupFile: Fragments.fromStream("dump.sql", Stream.fromIterable(pieces))
      })

      const received = yield* uploadedMessages(server)
      const metadata = received[0]
      expect(metadata?._tag === "Metadata" ? metadata.metadata.fragment.sizeInBytes : undefined).toBe("0")
      const sizes = contentChunks(received, "BACKUP_FILE").map((chunk) => chunk.length)
      expect(sizes).toEqual([chunkSize, whole.length - chunkSize])
      expect(sent.backupFile).toEqual({ fileName: "dump.sql", size: whole.length, checksum: md5Hex(whole) })

      served.set("my-agent_dump", { messages: asRestoreMessages(received) })
      const restoreFolder = join(folder, "restored")
      yield* Fragments.downloadFragment(channel, target, sent.fragment, restoreFolder)
      expect(yield* sortedEntries(restoreFolder)).toEqual(["dump.sql"])
      expect(sameBytes(yield* fs.readFile(join(restoreFolder, "dump.sql")), whole)).toBe(true)
    }))

  it.scoped("downloads an uploaded fragment as a byte stream that gives the original bytes", () =>
    Effect.gen(function*() {
      const { channel, served, server } = yield* storingServer()
      const original = randomBytes(chunkSize * 3 + 12_345)
      const sent = yield* Fragments.sendFragment(channel, target, {
        fragmentId: "my-agent_stream",
        version: "1.0",
        backupFile: Fragments.fromBytes("dump.sql", original),
        customMetadataFile: Fragments.fromBytes("meta.json", "{\"tables\":3}")
      })
      served.set("my-agent_stream", { messages: asRestoreMessages(yield* uploadedMessages(server)) })

      const pieces = yield* Stream.runCollect(Fragments.downloadFragmentStream(channel, target, sent.fragment))
      const restored = Buffer.concat(Chunk.toReadonlyArray(pieces))
      expect(restored.length).toBe(original.length)
      expect(sameBytes(restored, original)).toBe(true)
    }))
})

layerLive(NodeFileSystem.layer)("fragments over gRPC: failed downloads", (it) => {
  it.scoped("fails the download naming the file when the served checksum differs, leaving nothing in the folder", () =>
    Effect.gen(function*() {
      const { channel, served } = yield* storingServer()
      const folder = yield* tempFolder
      const bytes = randomBytes(chunkSize + 100)
      const parts = servedFile("BACKUP_FILE", "dump.sql", bytes)
      served.set("corrupt", {
        messages: [...parts.slice(0, -1), FilePart.Checksum({ file: "BACKUP_FILE", checksum: "0".repeat(32) })]
      })

      const error = yield* Effect.flip(
        Fragments.downloadFragment(channel, target, information("corrupt", bytes.length), folder)
      )
      expect(error._tag).toBe("FailedToDownload")
      expect(error.fragmentId).toBe("corrupt")
      expect(error.fileName).toBe("dump.sql")
      expect(error.message).toContain("dump.sql")
      expect(error.reason).toBe("ChecksumMismatch")
      expect(error.detail).toContain("checksum")
      expect(yield* sortedEntries(folder)).toEqual([])
    }))

  it.scoped("leaves a file already in the folder under the same name untouched when the download fails", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { channel, served } = yield* storingServer()
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "dump.sql"), "the previous restore")
      const bytes = randomBytes(1000)
      const parts = servedFile("BACKUP_FILE", "dump.sql", bytes)
      served.set("corrupt", {
        messages: [...parts.slice(0, -1), FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5Hex(randomBytes(8)) })]
      })

      const error = yield* Effect.flip(
        Fragments.downloadFragment(channel, target, information("corrupt", bytes.length), folder)
      )
      expect(error._tag).toBe("FailedToDownload")
      expect(yield* sortedEntries(folder)).toEqual(["dump.sql"])
      expect(yield* fs.readFileString(join(folder, "dump.sql"))).toBe("the previous restore")
    }))

  it.scoped("fails the download with the server's status when the stream is cut in the middle, leaving nothing in the folder", () =>
    Effect.gen(function*() {
      const { channel, served, server } = yield* storingServer()
      const folder = yield* tempFolder
      const bytes = randomBytes(3 * 1000)
      // The name and two of the three chunks, then the call stays open until the test ends it.
      served.set("cut", { messages: servedFile("BACKUP_FILE", "dump.sql", bytes, 1000).slice(0, 3), end: "hold" })

      const downloading = yield* Effect.fork(
        Fragments.downloadFragment(channel, target, information("cut", bytes.length), folder)
      )
      const download = yield* server.downloads
      // The partial file exists: the cut happens in the middle of writing it.
      yield* awaitEntryIn(folder)
      const details = "Checksum mismatch: the stored file changed"
      yield* download.end({ status: "ABORTED", details })

      const error = yield* Effect.flip(Fiber.join(downloading))
      expect(error).toMatchObject({
        _tag: "FailedToDownload",
        fragmentId: "cut",
        fileName: "dump.sql",
        status: "ABORTED",
        reason: "RefusedByOrchestrator",
        detail: details
      })
      expect(yield* sortedEntries(folder)).toEqual([])
      expect(yield* handlesInto(folder)).toEqual([])
    }))

  it.scoped("fails the download with the server's NOT_FOUND as refused by the orchestrator, leaving nothing in the folder", () =>
    Effect.gen(function*() {
      const { channel } = yield* storingServer()
      const folder = yield* tempFolder
      const error = yield* Effect.flip(Fragments.downloadFragment(channel, target, information("unknown", 10), folder))
      expect(error).toMatchObject({
        _tag: "FailedToDownload",
        fragmentId: "unknown",
        fileName: undefined,
        status: "NOT_FOUND",
        reason: "RefusedByOrchestrator",
        detail: "no fragment unknown"
      })
      expect(yield* sortedEntries(folder)).toEqual([])
    }))

  it.scoped("fails the byte stream with the reason of the refusal when the checksum differs", () =>
    Effect.gen(function*() {
      const { channel, served } = yield* storingServer()
      const bytes = randomBytes(1000)
      const parts = servedFile("BACKUP_FILE", "dump.sql", bytes)
      served.set("corrupt", {
        messages: [...parts.slice(0, -1), FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5Hex(randomBytes(8)) })]
      })
      const error = yield* Effect.flip(
        Stream.runDrain(Fragments.downloadFragmentStream(channel, target, information("corrupt", bytes.length)))
      )
      expect(error).toMatchObject({ _tag: "FailedToDownload", fileName: "dump.sql", reason: "ChecksumMismatch" })
    }))

  // "../../" would land in the temporary folder itself, two levels up: the
  // check on names must stop it, not a failure to open a file.
  for (const fileName of ["../escaped.sql", "../../escaped.sql"]) {
    it.scoped(`refuses a served file name ${fileName} and writes nothing, in the folder or above it`, () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const { channel, served } = yield* storingServer()
        const root = yield* tempFolder
        const parent = join(root, "restores")
        const folder = join(parent, "nightly")
        yield* fs.makeDirectory(folder, { recursive: true })
        served.set("escape", { messages: servedFile("BACKUP_FILE", fileName, Buffer.from("DROP TABLE users;")) })

        const error = yield* Effect.flip(Fragments.downloadFragment(channel, target, information("escape", 17), folder))
        expect(error._tag).toBe("FailedToDownload")
        expect(error.fileName).toBe(fileName)
        expect(error.reason).toBe("UnsafeFileName")
        expect(yield* sortedEntries(folder)).toEqual([])
        expect(yield* sortedEntries(parent)).toEqual(["nightly"])
        expect(yield* sortedEntries(root)).toEqual(["restores"])
      }))
  }
})

layerLive(NodeFileSystem.layer)("fragments over gRPC: failed and cancelled uploads", (it) => {
  it.scoped("fails the upload with FailedToTransferBackup carrying ABORTED and the description when the server refuses it", () =>
    Effect.gen(function*() {
      const details = "Orchestrator not expecting backup. No create-backup job is in progress."
      const { channel } = yield* storingServer({ answerUpload: () => ({ status: "ABORTED", details }) })
      const error = yield* Effect.flip(Fragments.sendFragment(channel, target, {
        fragmentId: "my-agent_1",
        version: "1.0",
        backupFile: Fragments.fromBytes("dump.sql", "Hello World!")
      }))
      expect(error).toMatchObject({
        _tag: "FailedToTransferBackup",
        fragmentId: "my-agent_1",
        source: "bytes \"dump.sql\"",
        status: "ABORTED",
        reason: "RefusedByOrchestrator",
        detail: details
      })
    }))

  it.scoped("cancels the call when the upload is interrupted, and closes the file it read", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      // The server reads nothing: flow control holds the upload in the middle.
      const { channel, server } = yield* storingServer({ pauseUploads: true })
      const folder = yield* tempFolder
      const path = join(folder, "dump.bin")
      yield* fs.writeFile(path, randomBytes(5 * MiB))

      const sending = yield* Effect.fork(Fragments.sendFragment(channel, target, {
        fragmentId: "my-agent_big",
        version: "1.0",
        backupFile: Fragments.fromPath(path)
      }))
      const upload = yield* server.uploads
      // The file is opened before the call, and stays open until the upload ends.
      expect((yield* handlesInto(folder)).length).toBeGreaterThan(0)
      yield* Fiber.interrupt(sending)

      const outcome = yield* upload.outcome
      expect(outcome._tag).toBe("Cancelled")
      expect(yield* handlesInto(folder)).toEqual([])
    }))
})

layerLive(NodeFileSystem.layer)("fragments over gRPC: cancelled downloads", (it) => {
  it.scoped("removes the partial file and closes it when a download into a folder is interrupted", () =>
    Effect.gen(function*() {
      const { channel, served, server } = yield* storingServer()
      const folder = yield* tempFolder
      const bytes = randomBytes(3 * 1000)
      served.set("slow", { messages: servedFile("BACKUP_FILE", "dump.sql", bytes, 1000).slice(0, 3), end: "hold" })

      const downloading = yield* Effect.fork(
        Fragments.downloadFragment(channel, target, information("slow", bytes.length), folder)
      )
      const download = yield* server.downloads
      yield* awaitEntryIn(folder)
      expect((yield* handlesInto(folder)).length).toBeGreaterThan(0)
      yield* Fiber.interrupt(downloading)

      expect(yield* sortedEntries(folder)).toEqual([])
      expect(yield* handlesInto(folder)).toEqual([])
      expect(yield* download.outcome).toBe("Cancelled")
    }))
})
