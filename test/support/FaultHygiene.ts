/**
 * Resource hygiene for the fault-injection suite: the temporary folders it
 * writes in, and a check that a test file leaves nothing open behind it
 * (TCP sockets and servers, gRPC channels and servers, file handles into
 * those folders).
 *
 * Each test file runs in its own process (vitest's forks pool isolates
 * files), so what the process holds at the end of a file, beyond what it
 * held at its start, is what the file left open.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { beforeAll, expect } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import { Effect, Option } from "effect"
import { realpathSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layerLive } from "./layers.js"

/** Every temporary folder of the suite starts with this. */
export const temporaryPrefix = "bro-reliability-"

/** A temporary folder of the suite, removed with the scope. */
export const tempFolder = Effect.flatMap(
  FileSystem.FileSystem,
  (fs) => fs.makeTempDirectoryScoped({ prefix: temporaryPrefix })
)

/** What the process holds that a test could leave open. */
export interface Resources {
  /** Node's TCP handles by kind (`TCPSocketWrap`, `TCPServerWrap`, `ConnectWrap`...), with their count. */
  readonly tcp: Readonly<Record<string, number>>
  /** The targets of the gRPC channels not closed (from grpc-js's channelz registry). */
  readonly grpcChannels: ReadonlyArray<string>
  /** The ids of the gRPC servers not shut down. */
  readonly grpcServers: ReadonlyArray<string>
  /** The open file descriptors that point into one of the suite's temporary folders (Linux: /proc/self/fd). */
  readonly fileHandles: ReadonlyArray<string>
}

const tcpHandles = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) {
    if (name.startsWith("TCP") || name === "ConnectWrap") counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

type UnaryCall = Parameters<ReturnType<typeof grpc.getChannelzHandlers>["GetTopChannels"]>[0]

const channelz = <A>(
  ask: (handlers: ReturnType<typeof grpc.getChannelzHandlers>, call: UnaryCall, done: (value: A) => void) => void
): A => {
  let result: A | undefined
  let answered = false
  // The handlers answer synchronously; the call object only needs its request.
  ask(grpc.getChannelzHandlers(), { request: { start_channel_id: 0, start_server_id: 0, max_results: 10_000 } } as unknown as UnaryCall, (value) => {
    result = value
    answered = true
  })
  if (!answered) throw new Error("grpc-js channelz did not answer synchronously")
  return result as A
}

const grpcChannels = (): Array<string> =>
  channelz<Array<string>>((handlers, call, done) =>
    handlers.GetTopChannels(call, (_error, response) =>
      done((response?.channel ?? []).map((channel) => `${channel.ref?.name ?? "?"} #${channel.ref?.channel_id ?? "?"}`))))

const grpcServers = (): Array<string> =>
  channelz<Array<string>>((handlers, call, done) =>
    handlers.GetServers(call as never, (_error, response) =>
      done((response?.server ?? []).map((server) => `server #${server.ref?.server_id ?? "?"}`))))

const temporaryRoot = join(realpathSync(tmpdir()), temporaryPrefix)

const fileHandles = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const descriptors = yield* fs.readDirectory("/proc/self/fd")
  // The descriptor that listed the folder is closed by now: ignore links that no longer resolve.
  const links = yield* Effect.forEach(descriptors, (fd) => Effect.option(fs.readLink(`/proc/self/fd/${fd}`)))
  return links.flatMap(Option.toArray).filter((link) => link.startsWith(temporaryRoot))
}).pipe(Effect.orDie)

/** What the process holds now. */
export const snapshot: Effect.Effect<Resources, never, FileSystem.FileSystem> = Effect.map(fileHandles, (files) => ({
  tcp: tcpHandles(),
  grpcChannels: grpcChannels(),
  grpcServers: grpcServers(),
  fileHandles: files
}))

// What `now` holds beyond `baseline`.
const beyond = (baseline: Resources, now: Resources): Resources => {
  const tcp: Record<string, number> = {}
  for (const [kind, count] of Object.entries(now.tcp)) {
    const extra = count - (baseline.tcp[kind] ?? 0)
    if (extra > 0) tcp[kind] = extra
  }
  return {
    tcp,
    grpcChannels: now.grpcChannels.filter((channel) => !baseline.grpcChannels.includes(channel)),
    grpcServers: now.grpcServers.filter((server) => !baseline.grpcServers.includes(server)),
    fileHandles: now.fileHandles.filter((file) => !baseline.fileHandles.includes(file))
  }
}

/** Nothing left open. */
export const nothingLeft: Resources = { tcp: {}, grpcChannels: [], grpcServers: [], fileHandles: [] }

const isEmpty = (resources: Resources) =>
  Object.keys(resources.tcp).length === 0 && resources.grpcChannels.length === 0 &&
  resources.grpcServers.length === 0 && resources.fileHandles.length === 0

/**
 * What the process holds beyond `baseline`: sockets close asynchronously,
 * so it looks again, every 50 ms for at most 5 s, until nothing is left,
 * and gives what was left at the last look.
 */
export const leftOpenSince = (baseline: Resources): Effect.Effect<Resources, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    let left = beyond(baseline, yield* snapshot)
    for (let look = 1; look < 100 && !isEmpty(left); look++) {
      yield* Effect.sleep("50 millis")
      left = beyond(baseline, yield* snapshot)
    }
    return left
  })

/**
 * The last test of a test file: that the file left nothing open. Call it
 * once, after the file's suites. The baseline is what the process holds
 * before the file's first test (a file-level `beforeAll` runs before every
 * test of the file, wherever it is registered); no file handle into the
 * suite's folders is open then.
 */
export const checkNothingLeftOpen = (): void => {
  let baseline: Resources = nothingLeft
  beforeAll(() => {
    baseline = { tcp: tcpHandles(), grpcChannels: grpcChannels(), grpcServers: grpcServers(), fileHandles: [] }
  })
  layerLive(NodeFileSystem.layer)("resource hygiene", (it) => {
    it.effect("leaves no TCP socket, gRPC channel or server, and no file handle into its temporary folders", () =>
      Effect.gen(function*() {
        expect(yield* leftOpenSince(baseline)).toEqual(nothingLeft)
      }))
  })
}
