// Issue 14, item 7: a refusal's status never quotes a client's string whole.
// A status that carries a 70 000-character name is larger than what a client
// takes in its trailers: it never arrives, and the HTTP/2 connection it was
// sent on (the agent's control stream with it) is lost. The status of a
// refusal stays short (here: at most 1 KiB of details), and the agent's
// control stream on the same connection lives on.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { FilePart } from "../../src/core/Message.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import type { FragmentSpec } from "../support/rawAgent.js"
import {
  backupInExecution,
  channel,
  codeName,
  defaultContent,
  md5,
  metadataOf,
  openUpload,
  registerAgent
} from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

const longName = "x".repeat(70_000)
const maxDetails = 1024

/**
 * Registers `echo-agent`, starts a backup, and in its execution uploads, on
 * the agent's own connection, a fragment with `spec`'s names; then answers
 * the stage. Returns the upload's status, and what came next on the control
 * stream.
 */
const refusedUpload = (spec: Omit<FragmentSpec, "agentId" | "backupName">) =>
  Effect.gen(function*() {
    const storage = yield* FaultHygiene.tempFolder
    const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "20 seconds" })
    const client = yield* channel(orchestrator.port)
    const control = yield* registerAgent(client, "echo-agent")
    const backup = yield* backupInExecution(orchestrator, control)

    const upload = yield* openUpload(client)
    const full = { agentId: "echo-agent", backupName: "nightly", ...spec }
    yield* upload.write(metadataOf(full))
    yield* upload.write(FilePart.FileName({ file: "BACKUP_FILE", fileName: spec.fileName ?? "dump.sql" }))
    yield* upload.write(FilePart.Content({ file: "BACKUP_FILE", content: defaultContent }))
    yield* upload.write(FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5(defaultContent) }))
    const status = yield* upload.finish()

    // The control stream on the same connection still works: the agent's
    // answer is heard, and the failed stage's cancel comes back.
    yield* control.answer("BACKUP", true, "Backed up")
    const after = yield* control.next()
    if (after._tag === "Cancel") yield* control.answer("BACKUP", true, "Cancel actions completed")
    const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))
    return { status, after, finished, ended: yield* control.isEnded, agents: yield* orchestrator.agents }
  })

/** Short refusal, live control stream, and a failed backup whose result is short too. */
const expectShortRefusal = (outcome: Effect.Effect.Success<ReturnType<typeof refusedUpload>>) => {
  expect(codeName(outcome.status)).not.toBe("OK")
  expect(Buffer.byteLength(outcome.status.details)).toBeLessThanOrEqual(maxDetails)
  expect(outcome.after._tag).toBe("Cancel")
  expect(outcome.ended).toBe(false)
  expect(outcome.agents.map((agent) => agent.agentId)).toEqual(["echo-agent"])
  expect(outcome.finished.result).toBe("FAILURE")
  // What users read is short too.
  expect((outcome.finished.resultInfo ?? "").length).toBeLessThanOrEqual(maxDetails * 4)
}

describe("refusals that would echo a client's string (issue 14, item 7)", () => {
  it.live(`refuses a 70 000-character file name with a status of at most ${maxDetails} bytes of details, and keeps the control stream`, () =>
    Effect.gen(function*() {
      expectShortRefusal(yield* refusedUpload({ fragmentId: "echo-agent_0", fileName: longName }))
    }).pipe(Effect.scoped, live))

  it.live(`refuses a 70 000-character fragment id with a status of at most ${maxDetails} bytes of details, and keeps the control stream`, () =>
    Effect.gen(function*() {
      expectShortRefusal(yield* refusedUpload({ fragmentId: longName }))
    }).pipe(Effect.scoped, live))
})
