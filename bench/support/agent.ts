/**
 * The agent's programs of the fragment benchmark, loaded by `programs.ts`
 * only when one of them runs. They use the library as a user does, through
 * its entry point, with `GrpcTransport` and Node's file system:
 *
 * - `agent-upload`: `Fragments.sendFragment` with `Fragments.fromPath`;
 * - `agent-download`: `Fragments.downloadFragment` into the given folder;
 * - `agent-download-stream`: `Fragments.downloadFragmentStream`, drained.
 *
 * The runtime (transport, file system) and the data channel are built
 * before the clock starts; logs under Warning are dropped.
 *
 * `NodeFileSystem` comes from its own entry point: the `@effect/platform-node`
 * barrel loads every Node service (HTTP, sockets, workers, ...) and would add
 * about 25 MiB to the agent's memory that is not the library's.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Scope, Stream } from "effect"
import { Fragment, Fragments, GrpcTransport } from "../../src/index.js"
import type { ProgramOptions, ProgramResult } from "./common.js"
import { chunkSize, measure } from "./common.js"

const agentId = "bench-agent"
const target = { backupName: "bench-backup", backupType: "DEFAULT" }
const fragmentId = "bench-agent-fragment"
const version = "1.0"

const information = (size: number) =>
  Fragment.FragmentInformation.make({ fragmentId, version, sizeInBytes: String(size), customInformation: {} })

const transfer = (options: ProgramOptions, channel: Fragments.DataChannel): Effect.Effect<number, unknown> => {
  switch (options.program) {
    case "agent-upload":
      return Fragments.sendFragment(channel, target, {
        fragmentId,
        version,
        backupFile: Fragments.fromPath(options.file)
      }).pipe(Effect.map((sent) => sent.backupFile.size))
    case "agent-download":
      return Fragments.downloadFragment(channel, target, information(options.size), options.folder).pipe(
        Effect.map((downloaded) => downloaded.backupFile.size)
      )
    case "agent-download-stream":
      return Fragments.downloadFragmentStream(channel, target, information(options.size)).pipe(
        Stream.runFold(0, (total, bytes) => total + bytes.length)
      )
    default:
      return Effect.dieMessage(`${options.program} is not an agent program`)
  }
}

/** Runs one agent program and measures its transfer. */
export const run = async (options: ProgramOptions): Promise<ProgramResult> => {
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      GrpcTransport.layer({ host: "127.0.0.1", port: options.port }),
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
