// Issue 18, "1 000 agents": the orchestrator raises its soft limit on open
// files to the hard limit where it may, and says so; and it holds a stored
// file's handle only while it writes that file.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FileSystem } from "@effect/platform"
import { nativeRealPath } from "../../src/internal/nodeFileSystem.js"
import * as OpenFiles from "../../orchestrator/OpenFiles.js"
import { FilePart } from "../../src/core/Message.js"
import { pollUntil } from "../support/FaultHarness.js"
import {
  backupFileOf,
  backupInExecution,
  channel,
  codeName,
  devOrchestrator,
  md5,
  metadataOf,
  openUpload,
  registerAgent
} from "../support/rawAgent.js"

/** The files under `folder` that this process has open now. */
const openFilesUnder = (folder: string) =>
  Effect.sync(() =>
    readdirSync("/proc/self/fd").flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`)
        return target.startsWith(folder) ? [target] : []
      } catch {
        return [] // closed meanwhile
      }
    })
  )

const limits = () => {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((each) => each.startsWith("Max open files")) ?? ""
  const [soft, hard] = line.replace("Max open files", "").trim().split(/\s+/)
  return { soft: Number(soft), hard: Number(hard) }
}

describe("the open-files limit (issue 18)", () => {
  it.effect("raises a soft limit of 1 024 to the hard limit, and says from what to what", () =>
    Effect.gen(function*() {
      const { hard } = limits()
      expect(hard).toBeGreaterThan(1024)
      // This worker plays a process started under `ulimit -n 1024`.
      yield* Effect.acquireRelease(
        Effect.sync(() => execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=1024:${hard}`])),
        () => Effect.sync(() => void execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${hard}:${hard}`]))
      )
      expect(limits().soft).toBe(1024)
      const outcome = yield* OpenFiles.raiseSoftLimit()
      expect(outcome).toEqual({ _tag: "Raised", from: 1024, to: hard })
      expect(limits().soft).toBe(hard)
      expect(OpenFiles.describe(outcome)).toBe(`Open files: raised the soft limit from 1024 to ${hard} (the hard limit)`)
      // Already as high as allowed: nothing to do.
      expect(yield* OpenFiles.raiseSoftLimit()).toEqual({
        _tag: "Unchanged",
        soft: hard,
        reason: "the soft limit is already as high as allowed"
      })
    }).pipe(Effect.scoped))
})

describe("stored files' handles (issue 18)", () => {
  it.live("closes the backup file once its checksum arrived, before the custom-metadata file and the end of the upload", () =>
    Effect.gen(function*() {
      const { orchestrator, storage } = yield* devOrchestrator
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "agent")
      yield* backupInExecution(orchestrator, control)
      const spec = { agentId: "agent", backupName: "nightly", fragmentId: "agent_0" }
      const upload = yield* openUpload(client)
      const [fileName, content, checksum] = backupFileOf(spec)
      for (const message of [metadataOf(spec), fileName, content]) yield* upload.write(message!)
      // Open while it is written...
      const writing = yield* pollUntil("the backup file to be open", openFilesUnder(storage), (files) => files.length === 1)
      expect(writing[0]).toMatch(/\/data\/dump\.sql$/)
      // ...and closed once it is whole, though the upload goes on.
      yield* upload.write(checksum!)
      yield* pollUntil("the backup file to be closed", openFilesUnder(storage), (files) => files.length === 0)
      const metadata = Buffer.from("{}")
      yield* upload.write(FilePart.FileName({ file: "CUSTOM_METADATA_FILE", fileName: "meta.json" }))
      yield* upload.write(FilePart.Content({ file: "CUSTOM_METADATA_FILE", content: metadata }))
      yield* upload.write(FilePart.Checksum({ file: "CUSTOM_METADATA_FILE", checksum: md5(metadata) }))
      const status = yield* upload.finish()
      expect(codeName(status)).toBe("OK")
      expect(yield* openFilesUnder(storage)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
})

describe("real paths in one system call (issue 18)", () => {
  it.scoped("resolve and fail as NodeFileSystem's realPath does", () =>
    Effect.gen(function*() {
      const folder = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "bro-agent-realpath-"))),
        (made) => Effect.sync(() => rmSync(made, { recursive: true, force: true }))
      )
      mkdirSync(join(folder, "real"))
      symlinkSync(join(folder, "real"), join(folder, "link"))
      writeFileSync(join(folder, "file"), "")
      const fs = yield* FileSystem.FileSystem
      const outcome = (effect: Effect.Effect<string, unknown>) =>
        Effect.map(Effect.either(effect), (either) =>
          either._tag === "Right" ? either.right : { failed: (either.left as { readonly reason?: string }).reason })
      for (const path of [join(folder, "link"), join(folder, "link", "missing"), join(folder, "file", "below"), folder]) {
        const native = yield* outcome(nativeRealPath(path))
        expect(native).toEqual(yield* outcome(fs.realPath(path)))
      }
      expect(yield* nativeRealPath(join(folder, "link"))).toBe(join(yield* nativeRealPath(folder), "real"))
      expect(yield* outcome(nativeRealPath(join(folder, "missing")))).toEqual({ failed: "NotFound" })
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
