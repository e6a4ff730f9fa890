import { FileSystem } from "@effect/platform"
import * as Command from "@effect/platform/Command"
import { expect } from "@effect/vitest"
import { Chunk, ConfigError, ConfigProvider, Duration, Effect, Fiber, Stream, TestClock } from "effect"
import { join } from "node:path"
import * as Agent from "../src/Agent.js"
import * as Fragments from "../src/behavior/Fragments.js"
import { md5Of } from "../src/internal/Checksum.js"
import { FragmentInformation } from "../src/core/Fragment.js"
import type { BackupMessage, RestoreMessage } from "../src/core/Message.js"
import { FilePart } from "../src/core/Message.js"
import { InMemoryOrchestrator } from "../src/transport/InMemoryTransport.js"
import { DataChannelError } from "../src/transport/OrchestratorTransport.js"
import { agentId, awaitSleep, behaviorWith, inMemoryLayer } from "./support/agentHarness.js"
import { layerPerTest } from "./support/layers.js"

const target = { backupName: "nightly", backupType: "DEFAULT" }
const chunkSize = 4

const channel = Fragments.makeDataChannel(agentId, { chunkSize, timeout: Duration.seconds(30) })

const tempFolder = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bro-agent-" }))

const contents = (messages: ReadonlyArray<BackupMessage | RestoreMessage>) =>
  messages.flatMap((message) => (message._tag === "Content" ? [Buffer.from(message.content).toString()] : []))

const information = (fragmentId: string, size: number) =>
  FragmentInformation.make({ fragmentId, version: "1.0", sizeInBytes: String(size), customInformation: {} })

// What an orchestrator streams back for a file it stored.
const servedFile = (file: "BACKUP_FILE" | "CUSTOM_METADATA_FILE", fileName: string, text: string, chunk = chunkSize) => {
  const bytes = Buffer.from(text)
  const parts: Array<RestoreMessage> = [FilePart.FileName({ file, fileName })]
  for (let offset = 0; offset < bytes.length; offset += chunk) {
    parts.push(FilePart.Content({ file, content: bytes.subarray(offset, offset + chunk) }))
  }
  parts.push(FilePart.Checksum({ file, checksum: md5Of(bytes) }))
  return parts
}

layerPerTest(inMemoryLayer())("sending a fragment", (it) => {
  it.scoped("sends the metadata, the file's name, its chunks and its upper-case MD5, then the custom metadata", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      const path = join(folder, "dump.sql")
      yield* fs.writeFileString(path, "Hello World!")
      const sent = yield* Fragments.sendFragment(yield* channel, target, {
        fragmentId: "my-agent-0",
        version: "1.0",
        customInformation: { pod: "db-0" },
        backupFile: Fragments.fromPath(path),
        customMetadataFile: Fragments.fromBytes("meta.json", "{}")
      })
      const upload = yield* orchestrator.nextUpload
      expect(upload.outcome).toBe("finished")
      expect(upload.messages[0]).toEqual({
        _tag: "Metadata",
        metadata: {
          agentId,
          backupName: "nightly",
          backupType: "",
          fragment: FragmentInformation.make({
            fragmentId: "my-agent-0",
            version: "1.0",
            sizeInBytes: "12",
            customInformation: { pod: "db-0" }
          })
        }
      })
      expect(upload.messages.slice(1).map((message) => message._tag)).toEqual([
        "FileName", "Content", "Content", "Content", "Checksum", "FileName", "Content", "Checksum"
      ])
      expect(upload.messages[1]).toEqual(FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }))
      expect(contents(upload.messages)).toEqual(["Hell", "o Wo", "rld!", "{}"])
      expect(upload.messages[5]).toEqual(FilePart.Checksum({ file: "BACKUP_FILE", checksum: "ED076287532E86365E841E92BFC50D8C" }))
      expect(upload.messages[6]).toEqual(FilePart.FileName({ file: "CUSTOM_METADATA_FILE", fileName: "meta.json" }))
      expect(sent.backupFile).toEqual({ fileName: "dump.sql", size: 12, checksum: "ED076287532E86365E841E92BFC50D8C" })
    }))

  it.scoped("sends an empty file as its name and checksum, with no content chunk", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      yield* Fragments.sendFragment(yield* channel, target, {
        fragmentId: "empty",
        version: "1.0",
        backupFile: Fragments.fromBytes("empty.bin", new Uint8Array(0))
      })
      const upload = yield* orchestrator.nextUpload
      expect(upload.messages.slice(1)).toEqual([
        FilePart.FileName({ file: "BACKUP_FILE", fileName: "empty.bin" }),
        FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5Of(new Uint8Array(0)) })
      ])
    }))

  it.scoped("cuts a stream's pieces into chunks of the chunk size, dropping empty pieces, and sends size 0 when unknown", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const pieces = ["He", "", "llo W", "o", "rld!!"].map((piece) => Buffer.from(piece))
      const sent = yield* Fragments.sendFragment(yield* channel, target, {
        fragmentId: "dump",
        version: "1.0",
        backupFile: Fragments.fromStream("dump.sql", Stream.fromIterable(pieces))
      })
      const upload = yield* orchestrator.nextUpload
      expect(contents(upload.messages)).toEqual(["Hell", "o Wo", "rld!", "!"])
      expect(sent.fragment.sizeInBytes).toBe("0")
      expect(sent.backupFile.checksum).toBe(md5Of(Buffer.from("Hello World!!")))
    }))

  it.scoped("sends a stream's declared size", () =>
    Effect.gen(function*() {
      const sent = yield* Fragments.sendFragment(yield* channel, target, {
        fragmentId: "dump",
        version: "1.0",
        backupFile: Fragments.fromStream("dump.sql", Stream.make(Buffer.from("abc")), { size: 3 })
      })
      expect(sent.fragment.sizeInBytes).toBe("3")
    }))

  it.scoped("fails with FailedToTransferBackup carrying the orchestrator's status when it refuses the fragment", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      yield* orchestrator.answerUploads(() =>
        Effect.fail(new DataChannelError({ status: "ABORTED", details: "Orchestrator not expecting backup." }))
      )
      const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "f-1",
        version: "1.0",
        backupFile: Fragments.fromBytes("a.bin", "abc")
      }))
      expect(error).toMatchObject({
        _tag: "FailedToTransferBackup",
        fragmentId: "f-1",
        source: `bytes "a.bin"`,
        status: "ABORTED",
        reason: "RefusedByOrchestrator",
        detail: "Orchestrator not expecting backup."
      })
    }))

  it.scoped("fails naming the path when the file is missing, before opening a call", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const path = join(folder, "missing.sql")
      const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "f-1",
        version: "1.0",
        backupFile: Fragments.fromPath(path)
      }))
      expect(error._tag).toBe("FailedToTransferBackup")
      expect(error.source).toBe(path)
      expect(error.message).toContain(path)
      expect(error.reason).toBe("FileSystem")
    }))

  it.scoped("cancels the call, rather than finishing it, when the source stream fails", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "f-1",
        version: "1.0",
        backupFile: Fragments.fromStream(
          "dump.sql",
          Stream.concat(Stream.make(Buffer.from("abcdef")), Stream.fail(new Error("pg_dump exited with 1")))
        )
      }))
      expect(error).toMatchObject({
        reason: "SourceFailed",
        detail: "the source failed: pg_dump exited with 1",
        cause: new Error("pg_dump exited with 1")
      })
      const upload = yield* orchestrator.nextUpload
      expect(upload.outcome).toBe("cancelled")
    }))

  it.scoped("sends a command's stdout as the backup file, with no temporary file", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const sent = yield* Fragments.sendFragment(yield* channel, target, {
        fragmentId: "dump",
        version: "1.0",
        backupFile: Fragments.fromCommand("dump.sql", Command.make("sh", "-c", "printf 'Hello '; printf 'World!'"), { size: 12 })
      })
      const upload = yield* orchestrator.nextUpload
      expect(upload.outcome).toBe("finished")
      expect(contents(upload.messages).join("")).toBe("Hello World!")
      expect(sent.fragment.sizeInBytes).toBe("12")
      expect(sent.backupFile).toEqual({ fileName: "dump.sql", size: 12, checksum: md5Of(Buffer.from("Hello World!")) })
    }))

  it.scoped("fails the fragment as SourceFailed, with the exit status and the end of stderr, when the command exits non-zero", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "dump",
        version: "1.0",
        backupFile: Fragments.fromCommand("dump.sql", Command.make("sh", "-c", "printf partial; echo oops >&2; exit 3"))
      }))
      expect(error.reason).toBe("SourceFailed")
      expect(error.detail).toContain("status 3")
      expect(error.detail).toMatch(/oops$/)
      expect(error.cause).toMatchObject({ _tag: "CommandFailed", reason: "ExitCode", exitCode: 3, stderr: "oops" })
      // Cancelled, not finished: the orchestrator keeps no half dump.
      expect((yield* orchestrator.nextUpload).outcome).toBe("cancelled")
    }))

  for (const fragmentId of ["", "a/b", ".."]) {
    it.scoped(`refuses the fragment id ${JSON.stringify(fragmentId)}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
          fragmentId,
          version: "1.0",
          backupFile: Fragments.fromBytes("a.bin", "abc")
        }))
        expect(error).toMatchObject({ reason: "InvalidFragment", detail: expect.stringMatching(/^the fragment id /) })
      }))
  }

  it.scoped("refuses a custom-metadata file with the backup file's name, before opening a call", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "f",
        version: "1.0",
        backupFile: Fragments.fromBytes("data.bin", "abc"),
        customMetadataFile: Fragments.fromBytes("data.bin", "{}")
      }))
      expect(error).toMatchObject({
        reason: "UnsafeFileName",
        detail: expect.stringContaining("named data.bin like the backup file")
      })
    }))

  it.scoped("refuses a source name that is not a plain file name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "f",
        version: "1.0",
        backupFile: Fragments.fromBytes("../a.bin", "abc")
      }))
      expect(error).toMatchObject({ reason: "UnsafeFileName", detail: expect.stringContaining("path separator") })
    }))

  it.scoped("refuses an empty fragment version, before opening a call", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "f",
        version: " ",
        backupFile: Fragments.fromBytes("a.bin", "abc")
      }))
      expect(error).toMatchObject({ reason: "InvalidFragment", detail: "the fragment version must not be empty" })
    }))

  it.scoped("fails with a file-system reason when the path is a folder, before opening a call", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const error = yield* Effect.flip(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "f",
        version: "1.0",
        backupFile: Fragments.fromPath(folder)
      }))
      expect(error).toMatchObject({ reason: "FileSystem", detail: `${folder} is not a file`, source: folder })
    }))

  it.scoped("fails with a timeout when the orchestrator gives no final status", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      yield* orchestrator.answerUploads(() => Effect.never)
      const fiber = yield* Effect.fork(Fragments.sendFragment(yield* channel, target, {
        fragmentId: "f",
        version: "1.0",
        backupFile: Fragments.fromBytes("a.bin", "abc")
      }))
      yield* awaitSleep
      yield* TestClock.adjust("30 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({
        reason: "Timeout",
        detail: expect.stringContaining("No progress on the data channel for 30s"),
        cause: { _tag: "DataChannelTimeout" }
      })
    }))

  it.scoped("reports each chunk's progress", () =>
    Effect.gen(function*() {
      const dataChannel = yield* channel
      const subscription = yield* dataChannel.progress.subscribe
      yield* Fragments.sendFragment(dataChannel, target, {
        fragmentId: "f",
        version: "1.0",
        backupFile: Fragments.fromBytes("a.bin", "abcdefghij")
      })
      const events = Chunk.toReadonlyArray(yield* subscription.takeAll)
      expect(events.map((event) => [event.bytesDone, event.bytesTotal, event.done])).toEqual([
        [4, 10, false],
        [8, 10, false],
        [10, 10, false],
        [10, 10, true]
      ])
      expect(events[0]).toMatchObject({ direction: "upload", fragmentId: "f", fileName: "a.bin", backupName: "nightly" })
    }))
})

layerPerTest(inMemoryLayer())("downloading a fragment", (it) => {
  it.scoped("writes the backup file and the custom metadata file into the folder", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      yield* orchestrator.serveDownloads(() =>
        Stream.fromIterable([
          ...servedFile("BACKUP_FILE", "dump.sql", "Hello World!"),
          ...servedFile("CUSTOM_METADATA_FILE", "meta.json", "{}")
        ])
      )
      const downloaded = yield* Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder)
      expect(yield* fs.readFileString(join(folder, "dump.sql"))).toBe("Hello World!")
      expect(yield* fs.readFileString(join(folder, "meta.json"))).toBe("{}")
      expect(downloaded.backupFile).toEqual({
        path: join(folder, "dump.sql"),
        size: 12,
        checksum: "ED076287532E86365E841E92BFC50D8C"
      })
      expect((yield* fs.readDirectory(folder)).sort()).toEqual(["dump.sql", "meta.json"])
    }))

  it.scoped("asks for the fragment with the agent id, backup name and type", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      const requests: Array<unknown> = []
      yield* orchestrator.serveDownloads((request) => {
        requests.push(request)
        return Stream.fromIterable(servedFile("BACKUP_FILE", "a", "x"))
      })
      yield* Fragments.downloadFragment(yield* channel, target, information("f-1", 1), folder)
      expect(requests).toEqual([{ agentId, backupName: "nightly", backupType: "DEFAULT", fragment: information("f-1", 1) }])
    }))

  it.scoped("fails on a checksum mismatch and leaves no file, and an existing file untouched", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "dump.sql"), "the previous dump")
      const parts = servedFile("BACKUP_FILE", "dump.sql", "Hello World!")
      parts[parts.length - 1] = FilePart.Checksum({ file: "BACKUP_FILE", checksum: "00000000000000000000000000000000" })
      yield* orchestrator.serveDownloads(() => Stream.fromIterable(parts))
      const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder))
      expect(error).toMatchObject({ _tag: "FailedToDownload", fragmentId: "f-1", fileName: "dump.sql" })
      expect(error).toMatchObject({ reason: "ChecksumMismatch", detail: expect.stringContaining("checksum mismatch") })
      expect(yield* fs.readDirectory(folder)).toEqual(["dump.sql"])
      expect(yield* fs.readFileString(join(folder, "dump.sql"))).toBe("the previous dump")
    }))

  it.scoped("fails and removes what it wrote when the stream breaks in the middle", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      yield* orchestrator.serveDownloads(() =>
        Stream.concat(
          Stream.fromIterable(servedFile("BACKUP_FILE", "dump.sql", "Hello World!").slice(0, 2)),
          Stream.fail(new DataChannelError({ status: "UNAVAILABLE", details: "Connection reset" }))
        )
      )
      const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder))
      expect(error).toMatchObject({
        status: "UNAVAILABLE",
        reason: "RefusedByOrchestrator",
        detail: "Connection reset",
        fileName: "dump.sql"
      })
      expect(yield* fs.readDirectory(folder)).toEqual([])
    }))

  it.scoped("fails when the stream ends before the checksum", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      yield* orchestrator.serveDownloads(() =>
        Stream.fromIterable(servedFile("BACKUP_FILE", "dump.sql", "Hello World!").slice(0, 3))
      )
      const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder))
      expect(error).toMatchObject({
        reason: "ProtocolViolation",
        detail: "the stream ended before the checksum of dump.sql"
      })
      expect(yield* fs.readDirectory(folder)).toEqual([])
    }))

  for (const fileName of ["../escape.sql", "/etc/passwd", "a\\b", "..", ""]) {
    it.scoped(`refuses the file name ${JSON.stringify(fileName)} before writing anything`, () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const orchestrator = yield* InMemoryOrchestrator
        const root = yield* tempFolder
        const folder = join(root, "restore")
        yield* orchestrator.serveDownloads(() => Stream.fromIterable(servedFile("BACKUP_FILE", fileName, "evil")))
        const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 4), folder))
        expect(error).toMatchObject({ reason: "UnsafeFileName", detail: expect.stringMatching(/file name/) })
        expect(yield* fs.readDirectory(root)).toEqual(["restore"])
        expect(yield* fs.readDirectory(folder)).toEqual([])
      }))
  }

  it.scoped("refuses a chunk for a file that was never named, and an unknown message", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      const dataChannel = yield* channel
      yield* orchestrator.serveDownloads(() =>
        Stream.make(FilePart.Content({ file: "BACKUP_FILE", content: Buffer.from("x") }))
      )
      const unnamed = yield* Effect.flip(Fragments.downloadFragment(dataChannel, target, information("f-1", 1), folder))
      expect(unnamed).toMatchObject({
        reason: "ProtocolViolation",
        detail: "a backup file chunk arrived for a file that was never named"
      })
      yield* orchestrator.serveDownloads(() =>
        Stream.make<Array<RestoreMessage>>(
          FilePart.FileName({ file: "BACKUP_FILE", fileName: "a" }),
          { _tag: "Unsupported", messageType: "SIZE" }
        )
      )
      const unknown = yield* Effect.flip(Fragments.downloadFragment(dataChannel, target, information("f-1", 1), folder))
      expect(unknown).toMatchObject({ reason: "ProtocolViolation", detail: "unexpected message of type SIZE" })
    }))

  it.scoped("refuses a custom-metadata file named like the backup file, which would overwrite it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      yield* orchestrator.serveDownloads(() =>
        Stream.fromIterable([
          ...servedFile("BACKUP_FILE", "data.bin", "the real data"),
          ...servedFile("CUSTOM_METADATA_FILE", "data.bin", "{}")
        ])
      )
      const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 13), folder))
      expect(error).toMatchObject({
        fileName: "data.bin",
        reason: "UnsafeFileName",
        detail: expect.stringContaining("would overwrite it")
      })
      expect(yield* fs.readDirectory(folder)).toEqual([])
    }))

  it.scoped("refuses an empty chunk in the middle of a file, which arrives as a second file name", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      const parts = servedFile("BACKUP_FILE", "dump.sql", "Hello World!")
      yield* orchestrator.serveDownloads(() =>
        Stream.fromIterable([...parts.slice(0, 2), FilePart.FileName({ file: "BACKUP_FILE", fileName: "" }), ...parts.slice(2)])
      )
      const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder))
      expect(error).toMatchObject({
        reason: "ProtocolViolation",
        detail: "a second file name arrived before the checksum of dump.sql",
        fileName: "dump.sql"
      })
    }))

  it.scoped("refuses a stream that ends before any file", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      yield* orchestrator.serveDownloads(() => Stream.empty)
      const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder))
      expect(error).toMatchObject({ reason: "ProtocolViolation", detail: "the stream ended before any file arrived" })
    }))

  it.scoped("fails with the orchestrator's status when it refuses the download", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      yield* orchestrator.serveDownloads(() =>
        Stream.fail(new DataChannelError({ status: "NOT_FOUND", details: "no fragment f-1" }))
      )
      const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder))
      expect(error).toMatchObject({
        reason: "RefusedByOrchestrator",
        status: "NOT_FOUND",
        detail: "no fragment f-1",
        fileName: undefined
      })
    }))

  it.scoped("fails with a timeout when the orchestrator sends nothing for the data-channel timeout", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      yield* orchestrator.serveDownloads(() => Stream.never)
      const fiber = yield* Effect.fork(Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder))
      yield* awaitSleep
      yield* TestClock.adjust("30 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({
        reason: "Timeout",
        detail: "No progress on the data channel for 30s while waiting for the orchestrator's next chunk",
        cause: { _tag: "DataChannelTimeout" }
      })
    }))

  it.scoped("fails with a file-system reason when the folder cannot be made", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const orchestrator = yield* InMemoryOrchestrator
      const root = yield* tempFolder
      const folder = join(root, "taken")
      yield* fs.writeFileString(folder, "a file where the folder should be")
      yield* orchestrator.serveDownloads(() => Stream.fromIterable(servedFile("BACKUP_FILE", "dump.sql", "Hello World!")))
      const error = yield* Effect.flip(Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder))
      expect(error).toMatchObject({ reason: "FileSystem", status: undefined, cause: { _tag: "SystemError" } })
      expect(yield* fs.readFileString(folder)).toBe("a file where the folder should be")
    }))

  it.scoped("restores a file whose name is as long as the file system allows", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const orchestrator = yield* InMemoryOrchestrator
      const folder = yield* tempFolder
      const fileName = `${"a".repeat(251)}.sql`
      yield* orchestrator.serveDownloads(() => Stream.fromIterable(servedFile("BACKUP_FILE", fileName, "Hello World!")))
      yield* Fragments.downloadFragment(yield* channel, target, information("f-1", 12), folder)
      expect(yield* fs.readFileString(join(folder, fileName))).toBe("Hello World!")
    }))

  it.scoped("streams the backup file's bytes and ends once the checksum matched", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      yield* orchestrator.serveDownloads(() =>
        Stream.fromIterable([
          ...servedFile("BACKUP_FILE", "dump.sql", "Hello World!"),
          ...servedFile("CUSTOM_METADATA_FILE", "meta.json", "{}")
        ])
      )
      const bytes = yield* Fragments.downloadFragmentStream(yield* channel, target, information("f-1", 12)).pipe(
        Stream.runCollect
      )
      expect(Buffer.concat(Chunk.toReadonlyArray(bytes)).toString()).toBe("Hello World!")
    }))

  it.scoped("fails the byte stream, instead of ending it, on a checksum mismatch", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const parts = servedFile("BACKUP_FILE", "dump.sql", "Hello World!")
      parts[parts.length - 1] = FilePart.Checksum({ file: "BACKUP_FILE", checksum: "FF" })
      yield* orchestrator.serveDownloads(() => Stream.fromIterable(parts))
      const error = yield* Effect.flip(
        Stream.runDrain(Fragments.downloadFragmentStream(yield* channel, target, information("f-1", 12)))
      )
      expect(error).toMatchObject({ _tag: "FailedToDownload", fileName: "dump.sql", reason: "ChecksumMismatch" })
    }))
})

layerPerTest(inMemoryLayer())("data channel settings", (it) => {
  const withEnvironment = (entries: ReadonlyArray<readonly [string, string]>) =>
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))

  it.effect("reads 512 KiB chunks and a 30 s timeout when the environment sets neither, or sets them blank", () =>
    Effect.gen(function*() {
      const expected = { chunkSize: 512 * 1024, timeout: Duration.seconds(30) }
      expect(yield* withEnvironment([])(Fragments.settingsConfig)).toEqual(expected)
      expect(
        yield* withEnvironment([["AGENT_FRAGMENT_CHUNK_SIZE", ""], ["AGENT_DATA_CHANNEL_TIMEOUT_SECS", " "]])(
          Fragments.settingsConfig
        )
      ).toEqual(expected)
    }))

  it.effect("reads the chunk size in KiB and the timeout in seconds", () =>
    Effect.gen(function*() {
      const settings = yield* withEnvironment([["AGENT_FRAGMENT_CHUNK_SIZE", "4032"], ["AGENT_DATA_CHANNEL_TIMEOUT_SECS", "5"]])(
        Fragments.settingsConfig
      )
      expect(settings).toEqual({ chunkSize: Fragments.maxChunkSize, timeout: Duration.seconds(5) })
    }))

  const badVariables = [
    ["AGENT_FRAGMENT_CHUNK_SIZE", "9999", "must be between 1 and 4032 KiB"],
    ["AGENT_FRAGMENT_CHUNK_SIZE", "0", "must be between 1 and 4032 KiB"],
    ["AGENT_FRAGMENT_CHUNK_SIZE", "512KiB", "must be a whole number"],
    ["AGENT_FRAGMENT_CHUNK_SIZE", "1.5", "must be a whole number"],
    ["AGENT_DATA_CHANNEL_TIMEOUT_SECS", "0", "must be at least 1 second"],
    ["AGENT_DATA_CHANNEL_TIMEOUT_SECS", "-30", "must be at least 1 second"],
    ["AGENT_DATA_CHANNEL_TIMEOUT_SECS", "30s", "must be a whole number"]
  ] as const
  for (const [name, value, reason] of badVariables) {
    it.scoped(`refuses ${name}=${value}, naming the variable and its value`, () =>
      Effect.gen(function*() {
        const failure = yield* Fragments.makeDataChannel(agentId).pipe(withEnvironment([[name, value]]), Effect.flip)
        expect(ConfigError.isConfigError(failure)).toBe(true)
        expect(String(failure)).toContain(`Invalid data at ${name}: "${reason}; it is set to ${value}"`)
      }))
  }

  const chunkSizeReason = (size: number) =>
    `must be a whole number of bytes from 1 to ${Fragments.maxChunkSize} (4032 KiB), not ${size}`

  for (const chunkSize of [0, -1, 1.5, Number.NaN, Fragments.maxChunkSize + 1]) {
    it.scoped(`refuses a chunkSize of ${chunkSize} given in code with InvalidDataChannelSettings`, () =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(Fragments.makeDataChannel(agentId, { chunkSize }))
        expect(failure).toBeInstanceOf(Fragments.InvalidDataChannelSettings)
        expect(failure).toMatchObject({ problems: [{ field: "chunkSize", reason: chunkSizeReason(chunkSize) }] })
      }))
  }

  it.scoped("refuses a timeout of zero given in code, and names every bad setting at once", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(Fragments.makeDataChannel(agentId, { chunkSize: 0, timeout: Duration.zero }))
      expect(failure).toMatchObject({
        _tag: "InvalidDataChannelSettings",
        problems: [
          { field: "chunkSize", reason: chunkSizeReason(0) },
          { field: "timeout", reason: "must be longer than zero" }
        ]
      })
      expect(failure.message).toBe(
        `Invalid data channel settings: chunkSize ${chunkSizeReason(0)}; timeout must be longer than zero`
      )
    }))

  it.scoped("takes the smallest and the largest chunk size given in code over the environment's", () =>
    Effect.gen(function*() {
      const environment = withEnvironment([["AGENT_FRAGMENT_CHUNK_SIZE", "64"], ["AGENT_DATA_CHANNEL_TIMEOUT_SECS", "7"]])
      const smallest = yield* environment(Fragments.makeDataChannel(agentId, { chunkSize: 1 }))
      expect(smallest.settings).toEqual({ chunkSize: 1, timeout: Duration.seconds(7) })
      const largest = yield* environment(
        Fragments.makeDataChannel(agentId, { chunkSize: Fragments.maxChunkSize, timeout: Duration.millis(1500) })
      )
      expect(largest.settings).toEqual({ chunkSize: Fragments.maxChunkSize, timeout: Duration.millis(1500) })
    }))

  it.scoped("fails Agent.start with InvalidDataChannelSettings for a bad chunkSize or dataChannelTimeout", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(
        Agent.start(behaviorWith(), { chunkSize: Fragments.maxChunkSize + 1, dataChannelTimeout: -1 })
      )
      expect(failure).toMatchObject({
        _tag: "InvalidDataChannelSettings",
        problems: [
          { field: "chunkSize", reason: chunkSizeReason(Fragments.maxChunkSize + 1) },
          { field: "timeout", reason: "must be longer than zero" }
        ]
      })
    }))
})
