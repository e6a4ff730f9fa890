// Issue 15: the custom-metadata file reachable in a streaming restore.
// `onCustomMetadata` is called once per fragment that checked out, with the
// file (or `undefined`), before the backup file's last chunk is handed on,
// so that refusing the fragment there keeps the consumer from ever holding
// a complete file.
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Data, Effect, Exit, Stream } from "effect"
import { randomBytes } from "node:crypto"
import * as Fragments from "../../src/behavior/Fragments.js"
import { behaviorWith } from "../support/agentHarness.js"
import { layerLive } from "../support/layers.js"
import { awaitAgents, registration, startAgent, startOrchestrator, tempFolder } from "../support/orchestratorHarness.js"
import { chunkSize, information, md5Hex, scriptedServer, servedFile, target } from "./DownloadSupport.js"

class VersionRefused extends Data.TaggedError("VersionRefused")<{ readonly message: string }> {}

const original = randomBytes(chunkSize * 3 + 77)
const metadata = Buffer.from(JSON.stringify({ serverVersion: "16.4" }))

/** Runs the stream, writing down each piece's size and each call of the callback, in order. */
const journal = <E>(
  stream: (onCustomMetadata: (file: Fragments.CustomMetadataFile | undefined) => Effect.Effect<void, E>) => Stream.Stream<Uint8Array, unknown>,
  answer: (file: Fragments.CustomMetadataFile | undefined) => Effect.Effect<void, E> = () => Effect.void
) =>
  Effect.gen(function*() {
    const events: Array<string> = []
    const files: Array<Fragments.CustomMetadataFile | undefined> = []
    let bytes = 0
    const exit = yield* stream((file) =>
      Effect.suspend(() => {
        events.push("metadata")
        files.push(file)
        return answer(file)
      })
    ).pipe(
      Stream.runForEach((piece) =>
        Effect.sync(() => {
          bytes += piece.length
          events.push(`bytes ${bytes}`)
        })
      ),
      Effect.exit
    )
    return { events, files, exit, bytes }
  })

layerLive(NodeFileSystem.layer)("the custom-metadata file of a streaming restore", (it) => {
  it.scoped("is handed to onCustomMetadata once, whole, after every chunk but the backup file's last and before it", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({
        // Cut in small chunks: the callback gets the file whole.
        messages: [
          ...servedFile("BACKUP_FILE", "dump.pgc", original),
          ...servedFile("CUSTOM_METADATA_FILE", "dump.json", metadata, { chunk: 5 })
        ]
      })
      const { events, files, exit } = yield* journal((onCustomMetadata) =>
        Fragments.downloadFragmentStream(channel, target, information("f", original.length), { onCustomMetadata })
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(files).toHaveLength(1)
      expect(files[0]?.fileName).toBe("dump.json")
      expect(files[0]?.checksum).toBe(md5Hex(metadata))
      expect(Buffer.from(files[0]?.bytes ?? []).toString()).toBe(metadata.toString())
      expect(events.at(-1)).toBe(`bytes ${original.length}`)
      expect(events.at(-2)).toBe("metadata")
      expect(events.filter((event) => event === "metadata")).toHaveLength(1)
    }))

  it.scoped("calls onCustomMetadata once with undefined when the fragment has none, before the last chunk", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({ messages: servedFile("BACKUP_FILE", "dump.pgc", original) })
      const { events, files, exit } = yield* journal((onCustomMetadata) =>
        Fragments.downloadFragmentStream(channel, target, information("f", original.length), { onCustomMetadata })
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(files).toEqual([undefined])
      expect(events.slice(-2)).toEqual(["metadata", `bytes ${original.length}`])
    }))

  it.scoped("fails the stream with the callback's own error, and never hands on the last chunk, when onCustomMetadata fails", () =>
    Effect.gen(function*() {
      const refused = new VersionRefused({ message: "made by PostgreSQL 17, this server runs 16" })
      const { channel } = yield* scriptedServer({
        messages: [...servedFile("BACKUP_FILE", "dump.pgc", original), ...servedFile("CUSTOM_METADATA_FILE", "dump.json", metadata)]
      })
      const { bytes, exit } = yield* journal(
        (onCustomMetadata) =>
          Fragments.downloadFragmentStream(channel, target, information("f", original.length), { onCustomMetadata }),
        () => Effect.fail(refused)
      )
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({ _tag: "Fail", error: refused })
      expect(bytes).toBeLessThan(original.length)
    }))

  it.scoped("does not call onCustomMetadata for a fragment that did not check out", () =>
    Effect.gen(function*() {
      const { channel } = yield* scriptedServer({
        messages: [
          ...servedFile("BACKUP_FILE", "dump.pgc", original),
          ...servedFile("CUSTOM_METADATA_FILE", "dump.json", metadata, { checksum: md5Hex(randomBytes(4)) })
        ]
      })
      const { files, exit } = yield* journal((onCustomMetadata) =>
        Fragments.downloadFragmentStream(channel, target, information("f", original.length), { onCustomMetadata })
      )
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({ error: { reason: "ChecksumMismatch" } })
      expect(files).toEqual([])
    }))

  it.scoped("refuses a custom-metadata file over 16 MiB as an invalid fragment, without calling onCustomMetadata", () =>
    Effect.gen(function*() {
      const large = Buffer.alloc(16 * 1024 * 1024 + 1, 7)
      const { channel } = yield* scriptedServer({
        messages: [...servedFile("BACKUP_FILE", "dump.pgc", original), ...servedFile("CUSTOM_METADATA_FILE", "huge.json", large)]
      })
      const { files, exit, bytes } = yield* journal((onCustomMetadata) =>
        Fragments.downloadFragmentStream(channel, target, information("f", original.length), { onCustomMetadata })
      )
      expect(Exit.isFailure(exit) && exit.cause).toMatchObject({
        error: { _tag: "FailedToDownload", reason: "InvalidFragment", fileName: "huge.json" }
      })
      expect(files).toEqual([])
      expect(bytes).toBeLessThan(original.length)
    }))

  it.scoped("reaches a restore stage through its context, whose error fails the stage with its message", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const seen: Array<string> = []
      let restored = 0
      yield* startAgent(orchestrator.port, behaviorWith<VersionRefused | Fragments.FailedToDownload | Fragments.FailedToTransferBackup>({
        registration: registration("metadata-agent"),
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: "dump",
            version: "1",
            backupFile: Fragments.fromBytes("dump.pgc", original),
            customMetadataFile: Fragments.fromBytes("dump.json", metadata)
          }),
        executeRestore: (context) =>
          Effect.forEach(context.fragments, (fragment) =>
            context.downloadFragmentStream(fragment, {
              onCustomMetadata: (file) => {
                const text = Buffer.from(file?.bytes ?? []).toString()
                seen.push(text)
                return text.includes("16.4")
                  ? new VersionRefused({ message: "the backup was made by PostgreSQL 16.4" })
                  : Effect.void
              }
            }).pipe(Stream.runForEach((bytes) => Effect.sync(() => void (restored += bytes.length)))))
      }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "m1")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "m1")
      const finished = yield* orchestrator.awaitAction(restore.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toContain("the backup was made by PostgreSQL 16.4")
      expect(seen).toEqual([metadata.toString()])
      expect(restored).toBeLessThan(original.length)
    }))
})
