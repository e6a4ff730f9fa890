// A download whose disk hangs (issue 16): it fails by the data channel's
// timeout, removes what it wrote, and another download on the same data
// channel goes on to its end meanwhile. The FileSystem service is the way in:
// one that is not Node's own (here the fault file system) takes every write,
// as before; Node's own has its writes done on the checksum worker (see
// FileWriter.test.ts for that path's hung disk).
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { FileSystem } from "@effect/platform"
import { expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Stream, TestClock } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import * as Fragments from "../../src/behavior/Fragments.js"
import { md5Of } from "../../src/internal/Checksum.js"
import { FragmentInformation } from "../../src/core/Fragment.js"
import type { RestoreMessage } from "../../src/core/Message.js"
import { FilePart } from "../../src/core/Message.js"
import * as InMemoryTransport from "../../src/transport/InMemoryTransport.js"
import { InMemoryOrchestrator } from "../../src/transport/InMemoryTransport.js"
import { agentId, awaitSleep } from "../support/agentHarness.js"
import * as FaultFileSystem from "../support/FaultFileSystem.js"

const KiB = 1024
const target = { backupName: "nightly", backupType: "DEFAULT" }
const timeout = Duration.seconds(30)

const served = (bytes: Uint8Array): ReadonlyArray<RestoreMessage> => {
  const parts: Array<RestoreMessage> = [FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" })]
  for (let offset = 0; offset < bytes.length; offset += 16 * KiB) {
    parts.push(FilePart.Content({ file: "BACKUP_FILE", content: bytes.subarray(offset, offset + 16 * KiB) }))
  }
  parts.push(FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5Of(bytes) }))
  return parts
}

const layer = Layer.merge(InMemoryTransport.layer(), NodeFileSystem.layer)

it.scoped("fails a download whose disk hangs by the data channel's timeout, while another download goes on to its end", () =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const orchestrator = yield* InMemoryOrchestrator
    const hungFolder = yield* fs.makeTempDirectoryScoped({ prefix: "bro-agent-hung-" })
    const freeFolder = yield* fs.makeTempDirectoryScoped({ prefix: "bro-agent-free-" })
    const bytes = randomBytes(256 * KiB)
    yield* orchestrator.serveDownloads(() => Stream.fromIterable(served(bytes)))
    const disk = yield* FaultFileSystem.make({ appliesTo: (path) => path.startsWith(`${hungFolder}/`) })
    yield* disk.holdWritesAfter(32 * KiB)
    const channel = yield* Fragments.makeDataChannel(agentId, { chunkSize: 16 * KiB, timeout }).pipe(
      Effect.provide(disk.layer)
    )
    const information = FragmentInformation.make({
      fragmentId: "f-1",
      version: "1.0",
      sizeInBytes: String(bytes.length),
      customInformation: {}
    })

    const hung = yield* Effect.fork(Fragments.downloadFragment(channel, target, information, hungFolder))
    yield* disk.held
    const free = yield* Fragments.downloadFragment(channel, target, information, freeFolder)
    expect(free.backupFile.checksum).toBe(md5Of(bytes))
    expect((yield* fs.readFile(join(freeFolder, "dump.sql"))).length).toBe(bytes.length)
    expect(hung.unsafePoll()).toBe(null)

    yield* awaitSleep
    yield* TestClock.adjust(timeout)
    const exit = yield* Fiber.await(hung)
    expect(Exit.isFailure(exit)).toBe(true)
    const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
    expect(failure?.reason).toBe("Timeout")
    expect(failure?.detail).toContain("the disk to write")
    expect(yield* fs.readDirectory(hungFolder)).toEqual([])
    yield* disk.release
  }).pipe(Effect.provide(layer)))
