// Issue 14, item 9: names are checked where they come in, at registration
// or at the start of a data call, with BRO's messages where BRO has one
// (`<ID> is an invalid id`, behaviour.md §1), never later by the file system.
//
// The limit chosen: every name that becomes a path element (agent id, scope
// element, fragment id, backup name) holds at most 255 bytes in UTF-8, what
// Linux file systems take. 85 CJK characters are 255 bytes and pass; 86 are
// 258 and are refused. A file name holds at most 251 bytes: its checksum is
// stored beside it as `<name>.md5`, as BRO does. NUL is refused everywhere. The agent id
// `backup.json` is refused: it would be the record's own name.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { FilePart } from "../../src/core/Message.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import type { RawControl, RegisterOptions } from "../support/rawAgent.js"
import {
  answerEverything,
  backupInExecution,
  channel,
  codeName,
  metadataOf,
  openControl,
  openUpload,
  registerAgent,
  uploadFragment, devOrchestrator } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

/** `count` CJK characters: three bytes each in UTF-8. */
const cjk = (count: number) => "漢".repeat(count)

type Api = Orchestrator.Orchestrator["Type"]

type RegistrationOutcome = { readonly acknowledged: boolean } | { readonly code: string; readonly details: string }

/** How a 4.0 registration ends: acknowledged, or the stream closed with a status. */
const registrationOf = (orchestrator: Api, agentId: string, options: RegisterOptions = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const control: RawControl = yield* openControl(yield* channel(orchestrator.port))
    yield* control.register(agentId, options)
    return yield* Effect.raceFirst(
      Effect.map(control.ended(), (status): RegistrationOutcome => ({ code: codeName(status), details: status.details })),
      Effect.map(control.next(), (message): RegistrationOutcome => ({ acknowledged: message._tag === "RegisterAcknowledge" }))
    )
  }))

const invalidId = (id: string) => ({ code: "INVALID_ARGUMENT", details: `<${id}> is an invalid id\n` })

describe("validation of agent ids and scopes at registration (issue 14, item 9)", () => {
  it.live("refuses an agent id or a scope element holding NUL, with BRO's message", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage })
      expect(yield* registrationOf(orchestrator, "agent\u0000one")).toEqual(invalidId("agent\u0000one"))
      expect(yield* registrationOf(orchestrator, "scoped-agent", { scope: "alpha;be\u0000ta" })).toEqual(invalidId("be\u0000ta"))
      expect(yield* orchestrator.agents).toEqual([])
    }).pipe(Effect.scoped, live))

  it.live("limits agent ids to 255 bytes: 85 CJK characters pass, 86 (258 bytes) and 256 ASCII bytes are refused", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage })
      expect(yield* registrationOf(orchestrator, cjk(86))).toEqual(invalidId(cjk(86)))
      expect(yield* registrationOf(orchestrator, "a".repeat(256))).toEqual(invalidId("a".repeat(256)))
      expect(yield* registrationOf(orchestrator, "a".repeat(255))).toEqual({ acknowledged: true })
      expect(yield* registrationOf(orchestrator, cjk(85))).toEqual({ acknowledged: true })
    }).pipe(Effect.scoped, live))

  it.live("limits scope elements to 255 bytes", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage })
      expect(yield* registrationOf(orchestrator, "scoped-agent", { scope: `alpha;${cjk(86)}` })).toEqual(invalidId(cjk(86)))
      expect(yield* registrationOf(orchestrator, "scoped-agent", { scope: `alpha;${cjk(85)}` })).toEqual({ acknowledged: true })
    }).pipe(Effect.scoped, live))

  it.live("refuses the agent id backup.json, the name of a backup's record", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage })
      expect(yield* registrationOf(orchestrator, "backup.json")).toEqual(invalidId("backup.json"))
    }).pipe(Effect.scoped, live))
})

describe("validation of fragment ids and file names at the start of an upload (issue 14, item 9)", () => {
  /** A running backup of `checked-agent`, in its execution stage. */
  const inExecution = Effect.gen(function*() {
    const storage = yield* FaultHygiene.tempFolder
    const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "20 seconds" })
    const client = yield* channel(orchestrator.port)
    const control = yield* registerAgent(client, "checked-agent")
    const backup = yield* backupInExecution(orchestrator, control)
    return { orchestrator, client, control, backup, storage }
  })

  /** Opens an upload and writes only its METADATA: a refusal up front ends the call before anything else is sent. */
  const refusedAtMetadata = (client: Effect.Effect.Success<typeof inExecution>["client"], fragmentId: string) =>
    Effect.scoped(Effect.gen(function*() {
      const upload = yield* openUpload(client)
      yield* upload.write(metadataOf({ agentId: "checked-agent", backupName: "nightly", fragmentId }))
      const status = yield* upload.status()
      return { code: codeName(status), details: status.details }
    }))

  it.live("refuses a fragment id holding NUL, or past 255 bytes, as soon as the METADATA arrives", () =>
    Effect.gen(function*() {
      const { client } = yield* inExecution
      for (const fragmentId of ["frag\u0000ment", cjk(86), "f".repeat(256)]) {
        const refusal = yield* refusedAtMetadata(client, fragmentId)
        expect(refusal.code).toBe("ABORTED")
        expect(refusal.details).not.toMatch(/ENAMETOOLONG/)
      }
    }).pipe(Effect.scoped, live))

  it.live("refuses a file name past 251 bytes when it arrives, not with ENAMETOOLONG", () =>
    Effect.gen(function*() {
      const { client } = yield* inExecution
      const upload = yield* openUpload(client)
      yield* upload.write(metadataOf({ agentId: "checked-agent", backupName: "nightly", fragmentId: "checked-agent_0" }))
      // 252 bytes: one too many.
      yield* upload.write(FilePart.FileName({ file: "BACKUP_FILE", fileName: `${cjk(83)}.sq` }))
      const status = yield* upload.status()
      expect(codeName(status)).toBe("ABORTED")
      expect(status.details).not.toMatch(/ENAMETOOLONG/)
    }).pipe(Effect.scoped, live))

  it.live("stores what passes (an agent id and a fragment id of 255 bytes, a file name of 251) and refuses a backup name past 255 bytes", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { orchestrator } = yield* devOrchestrator
      const client = yield* channel(orchestrator.port)
      const agentId = cjk(85)
      const control = yield* registerAgent(client, agentId)
      const backup = yield* backupInExecution(orchestrator, control)
      const stored = yield* uploadFragment(client, { agentId, backupName: "nightly", fragmentId: cjk(85), fileName: `${cjk(83)}.z` })
      yield* control.answer("BACKUP", true, "Backed up")
      yield* answerEverything(control)
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))
      expect(codeName(stored)).toBe("OK")
      expect(finished.result).toBe("SUCCESS")
      expect(yield* fs.readFileString(yield* orchestrator.fragmentPath("DEFAULT", "nightly", agentId, cjk(85)))).toBe("Hello World!")
      // ...and a backup name past 255 bytes is refused when asked for (BRO's 200-character rule lets 100 CJK characters through).
      const refused = yield* Effect.either(orchestrator.startAction("DEFAULT", "CREATE_BACKUP", cjk(100)))
      expect(Either.getLeft(refused).pipe(Option.map((error) => error._tag))).toEqual(Option.some("InvalidActionRequest"))
    }).pipe(Effect.scoped, live))
})
