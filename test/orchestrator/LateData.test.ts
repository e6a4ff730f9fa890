// Issue 14, item 8: data that comes when no upload is expected. An upload
// still open when its action ended is refused, and nothing of it lands in
// the failed backup's folder; a fragment refused after the execution stage
// (in the post-actions) fails the backup like any refused fragment.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { FilePart } from "../../src/core/Message.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { pollUntil, within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import {
  answerEverything,
  backupInExecution,
  channel,
  codeName,
  expectNext,
  filesUnder,
  md5,
  metadataOf,
  openUpload,
  registerAgent,
  uploadFragment, devOrchestrator } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

describe("uploads that come too late (issue 14, item 8)", () => {
  it.live("refuses an upload still open when its action ended, and writes nothing into the failed backup's folder", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "300 millis" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "late-agent")
      const backup = yield* backupInExecution(orchestrator, control)

      // Half a file, then nothing until the action is over: the agent never
      // answers, the stage times out, the action ends.
      const content = Buffer.from("Hello World!")
      const upload = yield* openUpload(client)
      yield* upload.write(metadataOf({ agentId: "late-agent", backupName: "nightly", fragmentId: "late-agent_0", content }))
      yield* upload.write(FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }))
      yield* upload.write(FilePart.Content({ file: "BACKUP_FILE", content: content.subarray(0, 5) }))
      const cancel = yield* expectNext(control, "Cancel")
      yield* control.answer(cancel.action, true, "Cancel actions completed")
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))
      expect(finished.result).toBe("FAILURE")

      // The rest of the upload, after the end of its action.
      yield* upload.write(FilePart.Content({ file: "BACKUP_FILE", content: content.subarray(5) }))
      yield* upload.write(FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5(content) }))
      const status = yield* upload.finish()

      expect(codeName(status)).not.toBe("OK")
      const record = yield* orchestrator.backup("DEFAULT", "nightly")
      expect(record.status).toBe("CORRUPTED")
      expect(record.fragments).toEqual([])
      expect(yield* filesUnder(join(storage, "DEFAULT", "nightly"))).toEqual([expect.stringMatching(/^backup\.json \(\d+ bytes\)$/)])
    }).pipe(Effect.scoped, live))

  it.live("fails the backup when a fragment is refused during the post-actions, after the uploader's own stage", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* devOrchestrator
      const newChannel = yield* channel(orchestrator.port)
      const oldChannel = yield* channel(orchestrator.port)
      const modern = yield* registerAgent(newChannel, "new-agent")
      // API 2.0: its one stage is the backup preparation, sent while the others execute; no post-actions.
      const old = yield* registerAgent(oldChannel, "old-agent", { apiVersion: "2.0" })
      yield* pollUntil("both agents to register", orchestrator.agents, (agents) => agents.length === 2)

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* expectNext(modern, "Preparation")
      yield* modern.answer("BACKUP", true, "Prepared")
      yield* expectNext(modern, "Execution")
      yield* expectNext(old, "Preparation")
      expect(codeName(yield* uploadFragment(newChannel, { agentId: "new-agent", backupName: "nightly", fragmentId: "new-agent_0" })))
        .toBe("OK")
      expect(codeName(yield* uploadFragment(oldChannel, { agentId: "old-agent", backupName: "nightly", fragmentId: "old-agent_0" })))
        .toBe("OK")
      yield* modern.answer("BACKUP", true, "Backed up")
      yield* old.answer("BACKUP", true, "Backed up")
      yield* expectNext(modern, "PostActions")

      // The 2.0 agent, done with its stage, sends one more fragment: refused, it is not expected now.
      const stray = yield* uploadFragment(oldChannel, { agentId: "old-agent", backupName: "nightly", fragmentId: "old-agent_1" })
      expect(codeName(stray)).not.toBe("OK")
      yield* modern.answer("BACKUP", true, "Post backup actions completed")
      // A cancel, if the orchestrator sends one, is answered.
      yield* answerEverything(modern)
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))

      expect(finished.result).toBe("FAILURE")
      expect(finished.resultInfo).toMatch(/old-agent_1/)
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).status).toBe("CORRUPTED")
    }).pipe(Effect.scoped, live))
})
