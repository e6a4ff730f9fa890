/**
 * The agent's programs of the fragment benchmark, loaded by `programs.ts`
 * only when one of them runs. They use the library as a user does, through
 * its entry point, with `GrpcTransport` and Node's file system:
 *
 * - `agent-upload`: `Fragments.sendFragment` with `Fragments.fromPath`;
 * - `agent-upload-stream`: the same with `Fragments.fromStream` over
 *   `FileSystem.stream` of the file (size not given);
 * - `agent-upload-throttled`: `agent-upload` into the throttled receiver;
 * - `agent-download`: `Fragments.downloadFragment` into the given folder;
 * - `agent-download-stream`: `Fragments.downloadFragmentStream`, drained;
 * - `agent-download-parallel`: two `downloadFragment` at once, into two
 *   folders, on one data channel.
 *
 * The runtime (transport, file system) and the data channel are built
 * before the clock starts; logs under Warning are dropped.
 *
 * `NodeFileSystem` comes from its own entry point: the `@effect/platform-node`
 * barrel loads every Node service (HTTP, sockets, workers, ...) and would add
 * about 25 MiB to the agent's memory that is not the library's.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Scope, Stream } from "effect"
import { basename, join } from "node:path"
import { Fragment, Fragments, GrpcTransport } from "../../src/index.js"
import type { ProgramOptions, ProgramResult } from "./common.js"
import { chunkSize, measure } from "./common.js"

const agentId = "bench-agent"
const target = { backupName: "bench-backup", backupType: "DEFAULT" }
const fragmentId = "bench-agent-fragment"
const version = "1.0"

const information = (size: number) =>
  Fragment.FragmentInformation.make({ fragmentId, version, sizeInBytes: String(size), customInformation: {} })

const transfer = (
  options: ProgramOptions,
  channel: Fragments.DataChannel
): Effect.Effect<number, unknown, FileSystem.FileSystem> => {
  const download = (folder: string) =>
    Fragments.downloadFragment(channel, target, information(options.size), folder).pipe(
      Effect.map((downloaded) => downloaded.backupFile.size)
    )
  switch (options.program) {
    case "agent-upload":
    case "agent-upload-throttled":
      return Fragments.sendFragment(channel, target, {
        fragmentId,
        version,
        backupFile: Fragments.fromPath(options.file)
      }).pipe(Effect.map((sent) => sent.backupFile.size))
    case "agent-upload-stream":
      return Effect.flatMap(FileSystem.FileSystem, (fs) =>
        Fragments.sendFragment(channel, target, {
          fragmentId,
          version,
          backupFile: Fragments.fromStream(basename(options.file), fs.stream(options.file, { chunkSize }))
        })).pipe(Effect.map((sent) => sent.backupFile.size))
    case "agent-download":
      return download(options.folder)
    case "agent-download-stream":
      return Fragments.downloadFragmentStream(channel, target, information(options.size)).pipe(
        Stream.runFold(0, (total, bytes) => total + bytes.length)
      )
    case "agent-download-parallel":
      return Effect.all([download(join(options.folder, "a")), download(join(options.folder, "b"))], {
        concurrency: 2
      }).pipe(Effect.map(([a, b]) => a + b))
    default:
      return Effect.dieMessage(`${options.program} is not an agent program`)
  }
}

/** Runs one agent program and measures its transfer. */
export const run = async (options: ProgramOptions): Promise<ProgramResult> => {
  const port = options.program === "agent-upload-throttled" ? options.throttledPort : options.port
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      GrpcTransport.layer({ host: "127.0.0.1", port }),
      NodeFileSystem.layer,
      Logger.minimumLogLevel(LogLevel.Warning)
    )
  )
  // The data channel (and its checksum worker) lives until the end.
  const scope = Effect.runSync(Scope.make())
  try {
    const channel = await runtime.runPromise(Scope.extend(Fragments.makeDataChannel(agentId, { chunkSize }), scope))
    return await measure(options, () => runtime.runPromise(transfer(options, channel)))
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
  }
}
