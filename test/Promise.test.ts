// bro-agent/promise against the development orchestrator, over real gRPC on loopback.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import * as promise from "bro-agent/promise"
import { Effect, Schedule } from "effect"
import { createReadStream } from "node:fs"
import { join } from "node:path"
import { Readable } from "node:stream"
import { leftOpenSince, nothingLeft, snapshot, tempFolder as hygieneFolder } from "./support/FaultHygiene.js"
import { layerLive } from "./support/layers.js"
import { awaitAgents, registration, startOrchestrator, tempFolder } from "./support/orchestratorHarness.js"

// The plain JavaScript example, imported by URL: the compiler does not look
// into it (it is not TypeScript), vitest resolves its `bro-agent/promise` to
// the sources.
const exampleUrl = new URL("../examples/promise-agent.mjs", import.meta.url).href
const example = Effect.promise(() =>
  import(exampleUrl) as Promise<{
    readonly folderAgent: (options: { readonly agentId: string; readonly folder: string }) => promise.AgentBehavior
  }>
)

const transport = (port: number) => ({ host: "127.0.0.1", port })

/** Starts an agent on the orchestrator at `port`; it stops with the scope. */
const startAgent = (port: number, behavior: promise.AgentBehavior, options: promise.AgentOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      promise.startAgent(behavior, {
        transport: transport(port),
        reconnect: { afterStreamLost: Schedule.spaced("50 millis") },
        ...options
      })
    ),
    (agent) => Effect.promise(() => agent.stop())
  )

/** What a promise rejects with. */
const rejection = <A>(run: () => Promise<A>) => Effect.flip(Effect.tryPromise({ try: run, catch: (error) => error }))

/** A promise and the function that resolves it. */
const signalled = () => {
  let resolve: () => void = () => undefined
  const promised = new Promise<void>((done) => (resolve = done))
  return { promised, resolve }
}

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }))

const softwareVersion = registration("x").softwareVersion

layerLive(NodeFileSystem.layer)("bro-agent/promise", (it) => {
  it.scoped("backs up a folder's files from paths and restores them with downloadFragment (the example agent)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { folderAgent } = yield* example
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "a.txt"), "alpha")
      yield* fs.writeFile(join(folder, "b.bin"), new Uint8Array(700_000).map((_, index) => index % 251))
      yield* fs.writeFile(join(folder, "empty"), new Uint8Array(0))
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      yield* startAgent(orchestrator.port, folderAgent({ agentId: "promise", folder }))
      yield* awaitAgents(orchestrator, 1)

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "b1")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      expect((yield* orchestrator.backup("DEFAULT", "b1")).fragments.map((fragment) => fragment.fragmentId).sort())
        .toEqual(["promise_0", "promise_1", "promise_2"])

      yield* fs.writeFileString(join(folder, "a.txt"), "changed")
      yield* fs.remove(join(folder, "empty"))
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "b1")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      expect(yield* fs.readFileString(join(folder, "a.txt"))).toBe("alpha")
      expect((yield* fs.readFile(join(folder, "b.bin"))).length).toBe(700_000)
      expect((yield* fs.readFile(join(folder, "b.bin")))[700]).toBe(700 % 251)
      expect(yield* fs.exists(join(folder, "empty"))).toBe(true)
    }))

  it.scoped("sends a Node stream and bytes, and restores the stream's file as a Readable", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const restoreFolder = yield* tempFolder
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const restored: Array<string> = []
      const sent: Array<string> = []
      yield* startAgent(orchestrator.port, {
        registration: registration("streams"),
        executeBackup: async (context) => {
          const result = await context.sendFragment({
            fragmentId: "dump",
            version: "1",
            // Strings as well as bytes: a stream with an encoding set yields strings.
            backupFile: { name: "dump.sql", stream: Readable.from([Buffer.from("create table t;\n"), "insert 1;\n"]) },
            customMetadataFile: { name: "dump.json", bytes: "{\"tables\":1}" }
          })
          sent.push(result.fragment.fragmentId)
        },
        executeRestore: async (context) => {
          for (const fragment of context.fragments) {
            const chunks: Array<Buffer> = []
            for await (const chunk of context.downloadFragmentStream(fragment)) chunks.push(Buffer.from(chunk))
            restored.push(Buffer.concat(chunks).toString())
            await context.downloadFragment(fragment, restoreFolder)
          }
          return `Restored ${context.fragments.length}`
        }
      })
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "s1")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      expect(sent).toEqual(["dump"])
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "s1")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      expect(restored).toEqual(["create table t;\ninsert 1;\n"])
      expect(yield* fs.readFileString(join(restoreFolder, "dump.json"))).toBe("{\"tables\":1}")
    }))

  it.scoped("hands a download stream's custom-metadata file to an async onCustomMetadata before the stream's last bytes", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const events: Array<string> = []
      const backupFile = Buffer.alloc(300_000, 1)
      yield* startAgent(orchestrator.port, {
        registration: registration("metadata"),
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: "dump",
            version: "1",
            backupFile: { name: "dump.bin", bytes: backupFile },
            customMetadataFile: { name: "dump.json", bytes: "{\"server\":\"16.4\"}" }
          }),
        executeRestore: async (context) => {
          for (const fragment of context.fragments) {
            let received = 0
            const stream = context.downloadFragmentStream(fragment, {
              onCustomMetadata: async (file) => {
                await Promise.resolve()
                events.push(`metadata ${file?.fileName} ${Buffer.from(file?.bytes ?? []).toString()} at ${received}`)
              }
            })
            for await (const chunk of stream) received += (chunk as Buffer).length
            events.push(`end at ${received}`)
          }
        }
      })
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "m1")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "m1")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      expect(events).toHaveLength(2)
      expect(events[0]).toMatch(/^metadata dump\.json \{"server":"16\.4"\} at \d+$/)
      expect(Number(events[0]?.split(" at ")[1])).toBeLessThan(backupFile.length)
      expect(events[1]).toBe(`end at ${backupFile.length}`)
    }))

  it.scoped("destroys a download stream with the error onCustomMetadata rejected with, whose message fails the stage", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const refused = new Error("made by a newer server")
      let caught: unknown
      let received = 0
      yield* startAgent(orchestrator.port, {
        registration: registration("refusing"),
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: "dump",
            version: "1",
            backupFile: { name: "dump.bin", bytes: Buffer.alloc(300_000, 1) }
          }),
        executeRestore: async (context) => {
          for (const fragment of context.fragments) {
            const stream = context.downloadFragmentStream(fragment, {
              onCustomMetadata: async () => {
                throw refused
              }
            })
            try {
              for await (const chunk of stream) received += (chunk as Buffer).length
            } catch (error) {
              caught = error
              throw error
            }
          }
        }
      })
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "r1")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "r1")
      const finished = yield* orchestrator.awaitAction(restore.id)
      expect(caught).toBe(refused)
      expect(received).toBeLessThan(300_000)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe("Agent refusing failed at stage EXECUTION: made by a newer server")
    }))

  it.scoped("aborts the running stage's signal on a cancel, stops its transfer, then runs the cancel step and answers", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const running = signalled()
      const events: Array<string> = []
      // A dump that never ends: the upload waits for it until the cancel.
      const feed = new Readable({ read: () => undefined })
      feed.push(Buffer.alloc(1000))
      const agent = yield* startAgent(orchestrator.port, {
        registration: registration("cancelled"),
        executeBackup: async (context, signal) => {
          signal.addEventListener("abort", () => events.push("signal aborted"))
          const sending = context.sendFragment({ fragmentId: "feed", version: "1", backupFile: { name: "feed", stream: feed } })
          running.resolve()
          await Promise.all([aborted(signal), sending.catch(() => events.push("send rejected"))])
        },
        executeRestore: async () => undefined,
        cancel: async (context) => {
          events.push(`cancel ${context.action} ${context.backupName}, feed destroyed: ${feed.destroyed}`)
        }
      })
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "c1")
      yield* Effect.promise(() => running.promised)
      yield* orchestrator.cancelAction(backup.id)
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe("Cancelled by the user")
      // Answered: the agent is idle again, and still registered.
      yield* Effect.sync(() => agent.status()).pipe(
        Effect.repeat({ until: (status) => status.action === undefined, schedule: Schedule.spaced("20 millis") })
      )
      expect(agent.status().connection._tag).toBe("Registered")
      expect(events[0]).toBe("signal aborted")
      expect(events).toContain("cancel BACKUP c1, feed destroyed: true")
    }))

  it.scoped("destroys the download streams a restore stage opened when it is cancelled, before the cancel step", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const running = signalled()
      const downloads: Array<Readable> = []
      let destroyedAtCancel: ReadonlyArray<boolean> = []
      yield* startAgent(orchestrator.port, {
        registration: registration("restoring"),
        executeBackup: (context) =>
          context.sendFragment({ fragmentId: "f", version: "1", backupFile: { name: "f.bin", bytes: new Uint8Array(100_000) } }),
        executeRestore: async (context, signal) => {
          // Opened and never read, as by a restore tool that has not started yet.
          for (const fragment of context.fragments) downloads.push(context.downloadFragmentStream(fragment))
          running.resolve()
          await aborted(signal)
        },
        cancel: () => {
          destroyedAtCancel = downloads.map((download) => download.destroyed)
        }
      })
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "d1")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "d1")
      yield* Effect.promise(() => running.promised)
      yield* orchestrator.cancelAction(restore.id)
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("FAILURE")
      expect(destroyedAtCancel).toEqual([true])
    }))

  it.scoped("fails the stage with the message of what its function threw", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      yield* startAgent(orchestrator.port, {
        registration: registration("throws"),
        // Not async: a plain throw counts as a rejection.
        prepareBackup: () => {
          throw new Error("the disk is full")
        },
        executeBackup: async () => undefined,
        executeRestore: async () => undefined
      })
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "t1")
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe("Agent throws failed at stage PREPARATION: the disk is full")
    }))

  it.scoped("rejects a refused fragment with FailedToTransferBackup itself, whose message fails the stage", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      let caught: unknown
      yield* startAgent(orchestrator.port, {
        registration: registration("refused"),
        executeBackup: (context) =>
          context.sendFragment({ fragmentId: "a/b", version: "1", backupFile: { name: "x", bytes: "x" } }).catch((error) => {
            caught = error
            throw error
          }),
        executeRestore: async () => undefined
      })
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "r1")
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(caught).toBeInstanceOf(promise.FailedToTransferBackup)
      const error = caught as promise.FailedToTransferBackup
      expect(error.fragmentId).toBe("a/b")
      expect(finished.progressInfo).toBe(`Agent refused failed at stage EXECUTION: ${error.message}`)
    }))

  it.scoped("rejects the agent's join with RegistrationRejected itself when its id stays in use", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const behavior = (agentId: string): promise.AgentBehavior => ({
        registration: registration(agentId),
        executeBackup: async () => undefined,
        executeRestore: async () => undefined
      })
      yield* startAgent(orchestrator.port, behavior("twin"))
      yield* awaitAgents(orchestrator, 1)
      const second = yield* startAgent(orchestrator.port, behavior("twin"), { reconnect: { whileIdInUse: Schedule.stop } })
      const statuses: Array<string> = []
      const iterated = (async () => {
        for await (const status of second) statuses.push(status.connection._tag)
      })()
      const error = yield* rejection(() => second.join())
      expect(error).toBeInstanceOf(promise.RegistrationRejected)
      expect(error).toMatchObject({ agentId: "twin", status: "ALREADY_EXISTS" })
      expect(second.status().connection._tag).toBe("Stopped")
      // The statuses end with the agent.
      yield* Effect.promise(() => iterated)
      expect(statuses.at(-1)).toBe("Stopped")
    }))

  it.scoped("rejects startAgent with the Effect API's errors and with a TypeError for a missing stage, leaving nothing open", () =>
    Effect.gen(function*() {
      const baseline = yield* snapshot
      const invalid = yield* rejection(() =>
        promise.startAgent({
          registration: { agentId: "a/b", softwareVersion },
          executeBackup: async () => undefined,
          executeRestore: async () => undefined
        }, { transport: transport(1) })
      )
      expect(invalid).toBeInstanceOf(promise.InvalidRegistrationInformation)
      const badPort = yield* rejection(() =>
        promise.startAgent({
          registration: registration("port"),
          executeBackup: async () => undefined,
          executeRestore: async () => undefined
        }, { transport: transport(70_000) })
      )
      expect(badPort).toBeInstanceOf(promise.InvalidTransportOptions)
      // What a JavaScript caller may write.
      const missing = yield* rejection(() =>
        promise.startAgent(
          { registration: registration("missing"), executeBackup: async () => undefined, cancel: "no" } as unknown as promise.AgentBehavior,
          { transport: transport(1) }
        )
      )
      expect(missing).toBeInstanceOf(TypeError)
      expect((missing as TypeError).message).toBe("bro-agent/promise: executeRestore is missing; cancel must be a function")
      expect(yield* leftOpenSince(baseline)).toEqual(nothingLeft)
    }))

  it.scoped("stops: the running stage's signal aborts, its streams are destroyed, the statuses end, nothing is left open", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const files = yield* hygieneFolder
      yield* fs.writeFileString(join(files, "meta.json"), "{}")
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const baseline = yield* snapshot
      const running = signalled()
      let signal: AbortSignal | undefined
      const feed = new Readable({ read: () => undefined })
      // Never reached (the backup file never ends): destroyed all the same, its descriptor closed.
      const metadata = createReadStream(join(files, "meta.json"))
      const agent = yield* Effect.promise(() =>
        promise.startAgent({
          registration: registration("stopped"),
          executeBackup: async (context, stageSignal) => {
            signal = stageSignal
            const sending = context.sendFragment({
              fragmentId: "feed",
              version: "1",
              backupFile: { name: "feed", stream: feed },
              customMetadataFile: { name: "meta.json", stream: metadata }
            }).catch(() => undefined)
            running.resolve()
            await sending
          },
          executeRestore: async () => undefined
        }, { transport: transport(orchestrator.port) })
      )
      const seen: Array<string> = []
      agent.onStatus((status) => seen.push(status.connection._tag))
      const iterated = (async () => {
        let count = 0
        for await (const _ of agent) count++
        return count
      })()
      yield* awaitAgents(orchestrator, 1)
      yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "s1")
      yield* Effect.promise(() => running.promised)

      yield* Effect.promise(() => agent.stop())
      expect(signal?.aborted).toBe(true)
      expect(feed.destroyed).toBe(true)
      expect(metadata.destroyed).toBe(true)
      expect(yield* Effect.promise(() => iterated)).toBeGreaterThan(0)
      yield* Effect.promise(() => agent.join())
      const heard = seen.length
      expect(heard).toBeGreaterThan(0)
      expect(yield* leftOpenSince(baseline)).toEqual(nothingLeft)
      expect(seen.length).toBe(heard)
      // A second stop has nothing more to do.
      yield* Effect.promise(() => agent.stop())
    }))
})
