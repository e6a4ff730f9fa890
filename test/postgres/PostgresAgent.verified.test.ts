// The second bug, with the real pg_restore: it commits as soon as it
// holds a complete archive, without waiting for the end of its input. Here a
// scripted orchestrator serves a good dump's every chunk and then keeps the
// call open without the checksum, for as long as the test likes: the restore
// must leave the database alone until the checksum came, so when the call
// then fails the database is as it was.
import { FileSystem } from "@effect/platform"
import { expect } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import type * as AgentBehavior from "../../src/behavior/AgentBehavior.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import { FragmentInformation } from "../../src/core/Fragment.js"
import { chunkSize, scriptedServer, servedFile, target } from "../issue15/DownloadSupport.js"
import { layerLive } from "../support/layers.js"
import { tempFolder } from "../support/orchestratorHarness.js"
import { Cluster, eventually, exec, toolProcesses } from "./cluster.js"
import { change, seed, snapshot } from "./database.js"
import { agentFor, agentId, suiteLayer } from "./harness.js"

// What the kernel says of a process: where it sleeps, and how many bytes it read.
const processState = (pid: string) =>
  Effect.promise(() =>
    Promise.all([readFile(`/proc/${pid}/wchan`, "utf8"), readFile(`/proc/${pid}/io`, "utf8")]).then(
      ([wchan, io]) => ({ wchan, read: Number(/^rchar: (\d+)$/m.exec(io)?.[1] ?? 0) }),
      () => undefined
    )
  )

// Where a process sleeps reading its stdin: Node gives a child a Unix socket
// for it, not a pipe; the connection to the server is TCP.
const readingStdin = /^(unix_stream_read_generic|pipe_read|pipe_wait)$/

/**
 * Whether pg_restore has nothing more to do with what it was handed: it is
 * gone (it committed and exited), or it has read all but at most the last
 * chunk and sleeps reading its stdin for more.
 */
const pgRestoreSettled = (port: number, size: number) =>
  Effect.gen(function*() {
    const [process] = yield* toolProcesses(port)
    if (process === undefined) return true
    const state = yield* processState(process.split(" ")[0] ?? "")
    return state === undefined || (readingStdin.test(state.wchan) && state.read >= size - chunkSize)
  })

layerLive(suiteLayer)("the example PostgreSQL agent's restore from a verified stream", (it) => {
  it.scoped("leaves the database unchanged when the call fails after the dump's last byte, before its checksum", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const cluster = yield* Cluster
      const connection = yield* cluster.database("unverified")
      yield* cluster.sql("unverified", seed)
      const file = join(yield* tempFolder, "unverified.dump")
      yield* exec(join(cluster.binaries, "pg_dump"), [
        "-Fc", "-Z0", "-f", file, "-h", connection.host, "-p", String(connection.port), "-U", connection.user, "-d", "unverified"
      ])
      const dump = yield* fs.readFile(file)
      yield* cluster.sql("unverified", change)
      const changed = yield* snapshot("unverified")

      // Every message of the dump but its checksum, and the call kept open.
      const { channel, server } = yield* scriptedServer({
        messages: servedFile("BACKUP_FILE", "unverified.dump", dump).slice(0, -1),
        end: "hold"
      })
      const fragment = FragmentInformation.make({
        fragmentId: `${agentId}_dump`,
        version: "1.0",
        sizeInBytes: String(dump.length),
        customInformation: { serverVersionNum: String(cluster.versionNumber) }
      })
      const context: AgentBehavior.RestoreContext = {
        agentId,
        action: "RESTORE",
        ...target,
        softwareVersion: undefined,
        fragments: [fragment],
        downloadFragment: (fragment, folder) => Fragments.downloadFragment(channel, target, fragment, folder),
        downloadFragmentStream: (fragment, options) => Fragments.downloadFragmentStream(channel, target, fragment, options)
      }
      const behavior = yield* agentFor(connection)
      const restore = yield* Effect.fork(behavior.executeRestore(context))
      const download = yield* server.downloads

      yield* eventually(pgRestoreSettled(connection.port, dump.length), 60)
      yield* download.end({ status: "ABORTED", details: "the stored file reads back with another checksum" })
      const exit = yield* Fiber.await(restore)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* snapshot("unverified")).toEqual(changed)
      expect(yield* toolProcesses(connection.port)).toEqual([])
    }))
})
