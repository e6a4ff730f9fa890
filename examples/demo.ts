/**
 * The demonstration behind `npm run demo`: with nothing else running and
 * nothing to configure, it starts the development orchestrator (temporary
 * storage, a free port), starts the example folder agent over a sample
 * folder, takes a backup, changes the folder, restores it, and checks that
 * the folder is back byte for byte.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Agent, GrpcTransport } from "bro-agent"
import { formatEvent, Orchestrator } from "bro-agent/orchestrator"
import { Console, Effect, Layer, Logger, LogLevel, Schedule, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { join } from "node:path"
import { folderAgent } from "./FolderAgent.js"

// What the folder holds: file name to MD5.
const snapshot = (folder: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const files = new Map<string, string>()
    for (const name of (yield* fs.readDirectory(folder)).sort()) {
      const path = join(folder, name)
      if ((yield* fs.stat(path)).type !== "File") continue
      files.set(name, createHash("md5").update(yield* fs.readFile(path)).digest("hex"))
    }
    return files
  })

const sameFiles = (left: ReadonlyMap<string, string>, right: ReadonlyMap<string, string>) =>
  left.size === right.size && [...left].every(([name, hash]) => right.get(name) === hash)

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const work = yield* fs.makeTempDirectoryScoped({ prefix: "bro-agent-demo-" })
  const storage = join(work, "orchestrator-storage")
  const folder = join(work, "service-data")
  yield* fs.makeDirectory(folder)
  yield* fs.writeFileString(join(folder, "config.yaml"), "replicas: 3\nretention: 7d\n")
  yield* fs.writeFileString(join(folder, "users.csv"), "id,name\n1,Ada\n2,Grace\n3,Linus\n")
  yield* fs.writeFile(join(folder, "blob.bin"), randomBytes(3 * 1024 * 1024))
  yield* fs.writeFile(join(folder, "empty.log"), new Uint8Array(0))
  yield* Console.log(`demo: a sample folder of 4 files in ${folder}`)

  const orchestrator = yield* Orchestrator.make({ port: 0, storage })
  yield* Console.log(`demo: development orchestrator on 127.0.0.1:${orchestrator.port}, storage in ${storage}`)
  yield* orchestrator.events.pipe(
    Stream.runForEach((event) => Console.log(`orchestrator: ${formatEvent(event)}`)),
    Effect.forkScoped
  )

  const transport = yield* Layer.build(GrpcTransport.layer({ host: "127.0.0.1", port: orchestrator.port }))
  const behavior = yield* folderAgent({ agentId: "demo-agent", folder })
  yield* Agent.start(behavior).pipe(Effect.provide(transport))
  yield* orchestrator.agents.pipe(
    Effect.repeat({ until: (agents) => agents.length > 0, schedule: Schedule.spaced("20 millis") }),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "the agent did not register within 10 seconds" })
  )

  const before = yield* snapshot(folder)
  const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "demo-backup")
  const backedUp = yield* orchestrator.awaitAction(backup.id)
  if (backedUp.result !== "SUCCESS") return yield* Effect.fail(`the backup failed: ${backedUp.resultInfo}`)

  yield* Console.log("demo: changing the folder: editing config.yaml, deleting users.csv, adding notes.txt")
  yield* fs.writeFileString(join(folder, "config.yaml"), "replicas: 1\n")
  yield* fs.remove(join(folder, "users.csv"))
  yield* fs.writeFileString(join(folder, "notes.txt"), "written after the backup\n")
  if (sameFiles(before, yield* snapshot(folder))) return yield* Effect.fail("the folder did not change")

  const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "demo-backup")
  const restored = yield* orchestrator.awaitAction(restore.id)
  if (restored.result !== "SUCCESS") return yield* Effect.fail(`the restore failed: ${restored.resultInfo}`)

  const after = yield* snapshot(folder)
  if (!sameFiles(before, after)) {
    return yield* Effect.fail(`the folder differs after the restore: ${[...after.keys()].join(", ")}`)
  }
  yield* Console.log(`demo: SUCCESS: the folder is back byte for byte (${[...after.keys()].join(", ")})`)
})

program.pipe(
  Effect.scoped,
  Effect.catchAll((reason) =>
    Console.error(`demo: FAILED: ${typeof reason === "string" ? reason : reason.message}`).pipe(
      Effect.zipRight(Effect.sync(() => {
        process.exitCode = 1
      }))
    )
  ),
  Effect.provide(NodeFileSystem.layer),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
