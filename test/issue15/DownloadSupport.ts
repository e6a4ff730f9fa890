// Shared pieces of issue 15's download tests: the data channel over real
// gRPC to a TestServer that plays the orchestrator, and restore streams
// built by hand, exactly as a test wants them served.
import { NodeFileSystem } from "@effect/platform-node"
import { FileSystem } from "@effect/platform"
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as Fragments from "../../src/behavior/Fragments.js"
import { FragmentInformation } from "../../src/core/Fragment.js"
import type { FragmentFile, RestoreMessage } from "../../src/core/Message.js"
import { FilePart } from "../../src/core/Message.js"
import * as GrpcTransport from "../../src/transport/GrpcTransport.js"
import * as TestServer from "../support/TestServer.js"

export const agentId = "my-agent"
export const target = { backupName: "nightly", backupType: "DEFAULT" }
export const chunkSize = 64 * 1024

// Computed here, not with the library's helper: the server's side of the check.
export const md5Hex = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex").toUpperCase()

/** What an orchestrator streams for a stored file: its name, chunks of `chunk` bytes, its checksum. */
export const servedFile = (
  file: FragmentFile,
  fileName: string,
  bytes: Uint8Array | string,
  options: { readonly chunk?: number; readonly checksum?: string } = {}
): Array<RestoreMessage> => {
  const content = typeof bytes === "string" ? Buffer.from(bytes) : bytes
  const chunk = options.chunk ?? chunkSize
  const parts: Array<RestoreMessage> = [FilePart.FileName({ file, fileName })]
  for (let offset = 0; offset < content.length; offset += chunk) {
    parts.push(FilePart.Content({ file, content: content.subarray(offset, offset + chunk) }))
  }
  parts.push(FilePart.Checksum({ file, checksum: options.checksum ?? md5Hex(content) }))
  return parts
}

export const information = (fragmentId: string, size: number) =>
  FragmentInformation.make({ fragmentId, version: "1.0", sizeInBytes: String(size), customInformation: {} })

/**
 * A TestServer that serves `script` for every download, and the data
 * channel to it over gRPC (with `fileSystem` when given, the real one
 * otherwise); both live as long as the scope.
 */
export const scriptedServer = (
  script: TestServer.DownloadScript,
  options: { readonly fileSystem?: FileSystem.FileSystem } = {}
) =>
  Effect.gen(function*() {
    const server = yield* TestServer.make({ serveDownload: () => script })
    const files = options.fileSystem === undefined
      ? NodeFileSystem.layer
      : Layer.succeed(FileSystem.FileSystem, options.fileSystem)
    const context = yield* Layer.build(Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port: server.port }), files))
    const channel = yield* Fragments.makeDataChannel(agentId, { chunkSize }).pipe(Effect.provide(context))
    return { server, channel }
  })
