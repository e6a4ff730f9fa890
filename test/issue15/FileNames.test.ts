// Issue 15: a fragment's two file names compared as a case-insensitive file
// system compares them. On one, a backup file `A.txt` with custom metadata
// `a.txt` restored as one file holding the metadata, and reported success.
// Refused on both sides: when sending, and when downloading into a folder.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fragments from "../../src/behavior/Fragments.js"
import { sameFileName } from "../../src/internal/Checksum.js"
import * as TestServer from "../support/TestServer.js"
import { layerLive } from "../support/layers.js"
import { tempFolder } from "../support/orchestratorHarness.js"
import { agentId, information, scriptedServer, servedFile, target } from "./DownloadSupport.js"
import * as GrpcTransport from "../../src/transport/GrpcTransport.js"
import { Layer } from "effect"

// Pairs that one file system or another takes for the same file.
const colliding: ReadonlyArray<readonly [string, string]> = [
  ["A.txt", "a.txt"],
  ["DUMP.SQL", "dump.sql"],
  // "é" composed (NFC) and decomposed (NFD, as macOS used to store it).
  ["caf\u00e9.json", "cafe\u0301.json"],
  ["CAF\u00c9.json", "cafe\u0301.json"]
]

describe("sameFileName", () => {
  for (const [a, b] of colliding) {
    it(`takes ${JSON.stringify(a)} and ${JSON.stringify(b)} for one file`, () => {
      expect(sameFileName(a, b)).toBe(true)
      expect(sameFileName(b, a)).toBe(true)
    })
  }
  for (const [a, b] of [["a.txt", "b.txt"], ["dump.sql", "dump.sql.json"], ["data", "data "]] as const) {
    it(`tells ${JSON.stringify(a)} from ${JSON.stringify(b)}`, () => {
      expect(sameFileName(a, b)).toBe(false)
    })
  }
})

/** The data channel over gRPC to a TestServer that takes every upload. */
const uploadingChannel = Effect.gen(function*() {
  const server = yield* TestServer.make()
  const context = yield* Layer.build(
    Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port: server.port }), NodeFileSystem.layer)
  )
  return yield* Fragments.makeDataChannel(agentId).pipe(Effect.provide(context))
})

layerLive(NodeFileSystem.layer)("a fragment's two file names", (it) => {
  for (const [backup, metadata] of colliding) {
    it.scoped(`refuses to send a backup file ${JSON.stringify(backup)} with a custom-metadata file ${JSON.stringify(metadata)}`, () =>
      Effect.gen(function*() {
        const channel = yield* uploadingChannel
        const error = yield* Effect.flip(Fragments.sendFragment(channel, target, {
          fragmentId: "f",
          version: "1.0",
          backupFile: Fragments.fromBytes(backup, "the data"),
          customMetadataFile: Fragments.fromBytes(metadata, "{}")
        }))
        expect({ reason: error.reason, detail: error.detail }).toEqual({
          reason: "UnsafeFileName",
          detail: expect.stringContaining("like the backup file")
        })
      }))
  }

  it.scoped("still sends a backup file and a custom-metadata file whose names differ", () =>
    Effect.gen(function*() {
      const channel = yield* uploadingChannel
      const sent = yield* Fragments.sendFragment(channel, target, {
        fragmentId: "f",
        version: "1.0",
        backupFile: Fragments.fromBytes("A.txt", "the data"),
        customMetadataFile: Fragments.fromBytes("A.txt.json", "{}")
      })
      expect(sent.customMetadataFile?.fileName).toBe("A.txt.json")
    }))

  it.scoped("refuses to download a backup file A.txt with a custom-metadata file a.txt, writing nothing", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      const { channel } = yield* scriptedServer({
        messages: [...servedFile("BACKUP_FILE", "A.txt", "the data"), ...servedFile("CUSTOM_METADATA_FILE", "a.txt", "{}")]
      })
      const error = yield* Effect.flip(Fragments.downloadFragment(channel, target, information("f", 8), folder))
      expect({ reason: error.reason, fileName: error.fileName, detail: error.detail }).toEqual({
        reason: "UnsafeFileName",
        fileName: "a.txt",
        detail: expect.stringContaining("would overwrite it")
      })
      expect(yield* fs.readDirectory(folder)).toEqual([])
    }))
})
