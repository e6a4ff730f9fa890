/**
 * Shared pieces of the fault-injection suite (`test/reliability`): bounded
 * waits, an agent on real gRPC with a file system of the test's choice, and
 * looks into folders.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import type { Duration } from "effect"
import type { Exit } from "effect"
import { Data, Effect, Layer, Ref, Schedule } from "effect"
import { join } from "node:path"
import * as Agent from "../../src/Agent.js"
import type { AgentBehavior, CancelContext } from "../../src/behavior/AgentBehavior.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import * as GrpcTransport from "../../src/transport/GrpcTransport.js"
import { behaviorWith } from "./agentHarness.js"
import { registration } from "./orchestratorHarness.js"

/** A bounded wait ran out: the test names what it waited for. */
export class WaitedTooLong extends Data.TaggedError("WaitedTooLong")<{
  readonly what: string
  readonly after: Duration.DurationInput
}> {
  override get message(): string {
    return `Waited too long (${String(this.after)}) for ${this.what}`
  }
}

/** Fails with `WaitedTooLong` naming `what` when `effect` takes longer than `after` (10 s by default). */
export const within = (what: string, after: Duration.DurationInput = "10 seconds") =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | WaitedTooLong, R> =>
  Effect.timeoutFail(effect, { duration: after, onTimeout: () => new WaitedTooLong({ what, after }) })

/** Runs `effect` every 20 ms until its value satisfies `until`, for at most `after` (10 s by default). */
export const pollUntil = <A, E, R>(
  what: string,
  effect: Effect.Effect<A, E, R>,
  until: (value: A) => boolean,
  after: Duration.DurationInput = "10 seconds"
): Effect.Effect<A, E | WaitedTooLong, R> =>
  Effect.gen(function*() {
    for (;;) {
      const value = yield* effect
      if (until(value)) return value
      yield* Effect.sleep("20 millis")
    }
  }).pipe(within(what, after))

/**
 * Starts an agent on the gRPC transport to `port` with `fileSystem` (the real
 * one by default); it stops with the scope. It registers again 50 ms after a
 * lost stream.
 */
export const startAgentOn = <E, R>(
  port: number,
  behavior: AgentBehavior<E, R>,
  options: Agent.AgentOptions = {},
  fileSystem: Layer.Layer<FileSystem.FileSystem> = NodeFileSystem.layer
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port }), fileSystem))
    return yield* Agent.start(behavior, {
      reconnect: { afterStreamLost: Schedule.spaced("50 millis") },
      ...options
    }).pipe(Effect.provide(context))
  })

/** Every path under `folder`, relative to it, sorted (folders too). */
export const tree = (folder: string): Effect.Effect<ReadonlyArray<string>, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const found: Array<string> = []
    const walk = (relative: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const names = yield* fs.readDirectory(join(folder, relative)).pipe(Effect.orElseSucceed(() => []))
        for (const name of names) {
          const path = relative === "" ? name : join(relative, name)
          found.push(path)
          const info = yield* Effect.option(fs.stat(join(folder, path)))
          if (info._tag === "Some" && info.value.type === "Directory") yield* walk(path)
        }
      })
    yield* walk("")
    return found.sort()
  })

/** The development orchestrator's upload folders (`.upload-*`) left anywhere under `storage`. */
export const uploadFolders = (storage: string) =>
  Effect.map(tree(storage), (paths) => paths.filter((path) => (path.split("/").at(-1) ?? "").startsWith(".upload-")))

/**
 * A database-like agent that backs up `dump` as one fragment and restores
 * it into `restoreFolder`, recording how each restore's downloads ended and
 * each cancel it was asked for.
 */
export const recordingDumpAgent = (dump: Uint8Array, restoreFolder: string) =>
  Effect.gen(function*() {
    const downloads = yield* Ref.make<ReadonlyArray<Exit.Exit<unknown, Fragments.FailedToDownload>>>([])
    const cancels = yield* Ref.make<ReadonlyArray<CancelContext>>([])
    const behavior = behaviorWith<Fragments.FailedToTransferBackup | Fragments.FailedToDownload>({
      registration: registration("db-agent"),
      executeBackup: (context) =>
        context.sendFragment({ fragmentId: "db-agent_0", version: "1.0", backupFile: Fragments.fromBytes("dump.bin", dump) }),
      executeRestore: (context) =>
        Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, restoreFolder)).pipe(
          Effect.onExit((exit) => Ref.update(downloads, (all) => [...all, exit]))
        ),
      cancel: (context) => Ref.update(cancels, (all) => [...all, context])
    })
    return { behavior, downloads, cancels }
  })
