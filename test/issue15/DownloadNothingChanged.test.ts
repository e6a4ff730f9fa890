// Issue 15: a failed `downloadFragment` changes nothing that was in the
// folder. Each final path is checked before anything is touched, files
// already there are set aside and put back if a later step fails, and
// removed only once every new file is in place.
import { FileSystem } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import * as Fragments from "../../src/behavior/Fragments.js"
import { layerLive } from "../support/layers.js"
import { tempFolder } from "../support/orchestratorHarness.js"
import { chunkSize, information, scriptedServer, servedFile, target } from "./DownloadSupport.js"

const data = randomBytes(chunkSize * 2 + 10)
const fragmentMessages = [...servedFile("BACKUP_FILE", "data.bin", data), ...servedFile("CUSTOM_METADATA_FILE", "meta.json", "{\"new\":true}")]

/** Every entry under `folder`, with each file's content, as text: what "nothing changed" compares. */
const snapshotOf = (folder: string): Effect.Effect<Record<string, string>, unknown, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const entries: Record<string, string> = {}
    for (const name of (yield* fs.readDirectory(folder, { recursive: true })).sort()) {
      const path = join(folder, name)
      const info = yield* fs.stat(path)
      entries[name] = info.type === "File" ? Buffer.from(yield* fs.readFile(path)).toString("base64") : info.type
    }
    return entries
  })

/** What a test checks of a failure (the error itself carries its span and cause, too deep for a diff). */
const failureOf = (error: Fragments.FailedToDownload) => ({
  _tag: error._tag,
  reason: error.reason,
  fileName: error.fileName,
  detail: error.detail
})

/** The real file system, except that the `failing`-th rename (counted from 1) fails. */
const failingRename = (failing: number) =>
  Effect.map(FileSystem.FileSystem, (real) => {
    let renames = 0
    const fileSystem: FileSystem.FileSystem = {
      ...real,
      rename: (from, to) => {
        renames += 1
        return renames === failing
          ? Effect.fail(
            new SystemError({
              reason: "PermissionDenied",
              module: "FileSystem",
              method: "rename",
              pathOrDescriptor: from,
              description: `injected: rename ${renames} to ${to} refused`
            })
          )
          : real.rename(from, to)
      }
    }
    return { fileSystem, renames: () => renames }
  })

layerLive(NodeFileSystem.layer)("a failed download into a folder changes nothing", (it) => {
  it.scoped("fails, keeping data.bin's old content, when meta.json is an existing folder", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "data.bin"), "the old data")
      yield* fs.makeDirectory(join(folder, "meta.json"))
      yield* fs.writeFileString(join(folder, "meta.json", "inside"), "a user's file")
      const before = yield* snapshotOf(folder)
      const { channel } = yield* scriptedServer({ messages: fragmentMessages })

      const error = yield* Effect.flip(Fragments.downloadFragment(channel, target, information("f", data.length), folder))
      expect(failureOf(error)).toMatchObject({ _tag: "FailedToDownload", reason: "FileSystem", fileName: "meta.json" })
      expect(yield* fs.readFileString(join(folder, "data.bin"))).toBe("the old data")
      expect(yield* snapshotOf(folder)).toEqual(before)
    }))

  it.scoped("fails, changing nothing, when data.bin is an existing folder", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      yield* fs.makeDirectory(join(folder, "data.bin"))
      yield* fs.writeFileString(join(folder, "meta.json"), "the old metadata")
      const before = yield* snapshotOf(folder)
      const { channel } = yield* scriptedServer({ messages: fragmentMessages })

      const error = yield* Effect.flip(Fragments.downloadFragment(channel, target, information("f", data.length), folder))
      expect(failureOf(error)).toMatchObject({ _tag: "FailedToDownload", reason: "FileSystem", fileName: "data.bin" })
      expect(yield* snapshotOf(folder)).toEqual(before)
    }))

  it.scoped("puts everything back whichever rename fails, and replaces both files once none does", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "data.bin"), "the old data")
      yield* fs.writeFileString(join(folder, "meta.json"), "the old metadata")
      yield* fs.writeFileString(join(folder, "other.txt"), "a user's file")
      const before = yield* snapshotOf(folder)

      let failing = 1
      for (;; failing++) {
        const faults = yield* failingRename(failing)
        const { channel } = yield* scriptedServer({ messages: fragmentMessages }, { fileSystem: faults.fileSystem })
        const outcome = yield* Effect.either(
          Fragments.downloadFragment(channel, target, information("f", data.length), folder)
        )
        if (outcome._tag === "Right") break
        expect(failureOf(outcome.left)).toMatchObject({ reason: "FileSystem", detail: expect.stringContaining("injected") })
        expect(yield* snapshotOf(folder), `rename ${failing} failed`).toEqual(before)
      }
      // The two files of the fragment at least were moved in: at least one rename was made to fail on the way.
      expect(failing).toBeGreaterThan(2)
      expect((yield* fs.readDirectory(folder)).sort()).toEqual(["data.bin", "meta.json", "other.txt"])
      expect(Buffer.from(yield* fs.readFile(join(folder, "data.bin"))).equals(data)).toBe(true)
      expect(yield* fs.readFileString(join(folder, "meta.json"))).toBe("{\"new\":true}")
      expect(yield* fs.readFileString(join(folder, "other.txt"))).toBe("a user's file")
    }))
})
