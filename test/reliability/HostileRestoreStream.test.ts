// A restore stream that lies, over real gRPC: a TestServer plays an
// orchestrator that sends a wrong checksum, a chunk for a file it never
// named, a message of an unknown type, a name that climbs out of the folder,
// an absolute name. Each fails the download with FailedToDownload and a
// reason that says what was wrong, and nothing is written, neither in the
// target folder nor above it.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { join } from "node:path"
import * as Fragments from "../../src/behavior/Fragments.js"
import { FragmentInformation } from "../../src/core/Fragment.js"
import type { FragmentFile, RestoreMessage } from "../../src/core/Message.js"
import { FilePart } from "../../src/core/Message.js"
import * as GrpcTransport from "../../src/transport/GrpcTransport.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { layerLive } from "../support/layers.js"
import { tree } from "../support/FaultHarness.js"
import * as TestServer from "../support/TestServer.js"

const target = { backupName: "nightly", backupType: "DEFAULT" }
const md5Hex = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex").toUpperCase()

/** A file as an honest orchestrator streams it, in chunks of 1000 bytes. */
const servedFile = (file: FragmentFile, fileName: string, bytes: Uint8Array): Array<RestoreMessage> => {
  const parts: Array<RestoreMessage> = [FilePart.FileName({ file, fileName })]
  for (let offset = 0; offset < bytes.length; offset += 1000) {
    parts.push(FilePart.Content({ file, content: bytes.subarray(offset, offset + 1000) }))
  }
  parts.push(FilePart.Checksum({ file, checksum: md5Hex(bytes) }))
  return parts
}

interface HostileStream {
  readonly name: string
  /** What the server sends; `root` is the temporary folder that holds `restores/nightly`. */
  readonly messages: (root: string) => ReadonlyArray<RestoreMessage>
  readonly fileName: (root: string) => string | undefined
  readonly reason: RegExp
}

const bytes = randomBytes(3000)

const hostileStreams: ReadonlyArray<HostileStream> = [
  {
    name: "a backup file whose checksum differs from its bytes",
    messages: () => [...servedFile("BACKUP_FILE", "dump.sql", bytes).slice(0, -1), FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5Hex(randomBytes(16)) })],
    fileName: () => "dump.sql",
    reason: /^checksum mismatch: received [0-9A-F]{32}, computed [0-9A-F]{32}$/
  },
  {
    name: "a content chunk for a file it never named",
    messages: () => servedFile("BACKUP_FILE", "dump.sql", bytes).slice(1),
    fileName: () => undefined,
    reason: /^a backup file chunk arrived for a file that was never named$/
  },
  {
    name: "a message of an unknown type in the middle of the backup file",
    messages: () => [...servedFile("BACKUP_FILE", "dump.sql", bytes).slice(0, 2), { _tag: "Unsupported", messageType: "SIZE" }],
    fileName: () => "dump.sql",
    reason: /^unexpected message of type SIZE$/
  },
  {
    // An empty content chunk is, on the wire, a new file name (§5).
    name: "an empty content chunk in the middle of the backup file",
    messages: () => {
      const parts = servedFile("BACKUP_FILE", "dump.sql", bytes)
      return [...parts.slice(0, 2), FilePart.Content({ file: "BACKUP_FILE", content: new Uint8Array(0) }), ...parts.slice(2)]
    },
    fileName: () => "dump.sql",
    reason: /^a second file name arrived before the checksum of dump\.sql$/
  },
  // Names that are no plain base name (§6): refused before anything is written.
  ...[
    { label: "named ../escaped.sql", fileName: "../escaped.sql", problem: "contains a path separator" },
    { label: "named ..\\escaped.sql", fileName: "..\\escaped.sql", problem: "contains a path separator" },
    { label: "named ..", fileName: "..", problem: "is not a file" },
    { label: "with an empty name", fileName: "", problem: "the file name is empty" },
    { label: "with a NUL in its name", fileName: "dump\u0000.sql", problem: "the file name contains a NUL character" }
  ].map(({ fileName, label, problem }): HostileStream => ({
    name: `a backup file ${label}`,
    messages: () => servedFile("BACKUP_FILE", fileName, bytes),
    fileName: () => fileName,
    reason: new RegExp(`${problem}: refused, it could write outside the folder$`)
  })),
  {
    name: "a backup file with an absolute name",
    messages: (root) => servedFile("BACKUP_FILE", join(root, "escaped.sql"), bytes),
    fileName: (root) => join(root, "escaped.sql"),
    reason: /contains a path separator: refused, it could write outside the folder$/
  },
  {
    name: "a custom-metadata file named ../meta.json after a good backup file",
    messages: () => [
      ...servedFile("BACKUP_FILE", "dump.sql", bytes),
      ...servedFile("CUSTOM_METADATA_FILE", "../meta.json", Buffer.from("{\"tables\":3}"))
    ],
    fileName: () => "../meta.json",
    reason: /contains a path separator: refused, it could write outside the folder$/
  }
]

/** The open file descriptors of the process that point under `folder`. */
const handlesInto = (folder: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const real = yield* fs.realPath(folder)
    const links = yield* Effect.forEach(
      yield* fs.readDirectory("/proc/self/fd"),
      (fd) => Effect.option(fs.readLink(`/proc/self/fd/${fd}`))
    )
    return links.flatMap((link) => (link._tag === "Some" && link.value.startsWith(`${real}/`) ? [link.value] : []))
  })

layerLive(NodeFileSystem.layer)("a download from an orchestrator that sends a hostile restore stream", (it) => {
  for (const hostile of hostileStreams) {
    it.scoped(`fails with FailedToDownload on ${hostile.name}, writing nothing in the folder or above it`, () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const root = yield* FaultHygiene.tempFolder
        const folder = join(root, "restores", "nightly")
        yield* fs.makeDirectory(folder, { recursive: true })
        const server = yield* TestServer.make({ serveDownload: () => ({ messages: hostile.messages(root) }) })
        const context = yield* Layer.build(
          Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port: server.port }), NodeFileSystem.layer)
        )
        const channel = yield* Fragments.makeDataChannel("my-agent", { chunkSize: 1000 }).pipe(Effect.provide(context))
        const fragment = FragmentInformation.make({
          fragmentId: "my-agent_0",
          version: "1.0",
          sizeInBytes: String(bytes.length),
          customInformation: {}
        })

        const error = yield* Effect.flip(Fragments.downloadFragment(channel, target, fragment, folder))

        expect(error).toMatchObject({
          _tag: "FailedToDownload",
          fragmentId: "my-agent_0",
          fileName: hostile.fileName(root),
          detail: expect.stringMatching(hostile.reason)
        })
        expect(error.message).toContain(error.detail)
        expect(yield* tree(root)).toEqual(["restores", join("restores", "nightly")])
        expect(yield* handlesInto(root)).toEqual([])
      }))
  }
})

FaultHygiene.checkNothingLeftOpen()
