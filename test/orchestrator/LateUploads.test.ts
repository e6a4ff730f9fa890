// Issue 14, item 8, beyond LateData.test.ts: an upload that outlasts its
// stage (the action is in its cancel round) is refused when it ends; a
// fragment refused after its agent answered the stage fails the backup; and
// the job takes no fragment once its record has taken them (jobs/Job.ts on
// its own), so that no commit lands in a backup's folder unlisted.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import { join } from "node:path"
import * as Job from "../../orchestrator/jobs/Job.js"
import type { StoredFragment } from "../../orchestrator/Model.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { FilePart } from "../../src/core/Message.js"
import { pollUntil, uploadFolders, within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import {
  answerEverything,
  backupInExecution,
  backupFileOf,
  channel,
  codeName,
  expectNext,
  filesUnder,
  metadataOf,
  openUpload,
  registerAgent,
  uploadFragment, devOrchestrator } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

const fragment = (fragmentId: string): StoredFragment => ({
  agentId: "agent",
  fragmentId,
  version: "1.0",
  sizeInBytes: "1",
  customInformation: {},
  backupFile: { name: "dump.sql", size: 1, checksum: "0CC175B9C0F1B6A831C399E269772661" }
})

const newJob = Job.make({ id: "1", kind: "CREATE_BACKUP", manager: "DEFAULT", backupName: "nightly", participants: [], restoring: undefined })

describe("a job's fragments (jobs/Job.ts)", () => {
  it.effect("stores no fragment once its record took them, and does not run that fragment's commit", () =>
    Effect.gen(function*() {
      const job = yield* newJob
      expect(yield* job.storeFragment("agent/early", Effect.succeed(fragment("early")))).toBe(true)
      expect((yield* job.takeFragments).map((each) => each.fragmentId)).toEqual(["early"])
      const committed = yield* Ref.make(false)
      const kept = yield* job.storeFragment("agent/late", Effect.as(Ref.set(committed, true), fragment("late")))
      expect(kept).toBe(false)
      expect(yield* Ref.get(committed)).toBe(false)
    }))

  it.effect("takes its record only once a commit in progress is done, with that fragment", () =>
    Effect.gen(function*() {
      const job = yield* newJob
      const committing = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const store = yield* Effect.fork(job.storeFragment(
        "agent/slow",
        Effect.zipRight(Deferred.succeed(committing, undefined), Effect.as(Deferred.await(release), fragment("slow")))
      ))
      yield* Deferred.await(committing)
      const take = yield* Effect.fork(job.takeFragments)
      yield* Effect.yieldNow()
      expect(yield* Fiber.poll(take)).toEqual(expect.objectContaining({ _tag: "None" }))
      yield* Deferred.succeed(release, undefined)
      expect(yield* Fiber.join(store)).toBe(true)
      expect((yield* Fiber.join(take)).map((each) => each.fragmentId)).toEqual(["slow"])
    }))
})

describe("a job's commits (issue 18: 1 000 agents)", () => {
  // A commit blocks on `release` once it has started.
  const blockingCommit = (started: Ref.Ref<ReadonlyArray<string>>, release: Deferred.Deferred<void>, stored: StoredFragment) =>
    Ref.update(started, (all) => [...all, stored.fragmentId]).pipe(
      Effect.zipRight(Deferred.await(release)),
      Effect.as(stored)
    )

  it.live("runs the commits of different fragments at once, not one after another", () =>
    Effect.gen(function*() {
      const job = yield* newJob
      const started = yield* Ref.make<ReadonlyArray<string>>([])
      const release = yield* Deferred.make<void>()
      const stores = yield* Effect.forEach(["a", "b", "c"], (id) =>
        Effect.fork(job.storeFragment(`agent/${id}`, blockingCommit(started, release, fragment(id)))))
      yield* pollUntil("every commit to start", Ref.get(started), (all) => all.length === 3)
      yield* Deferred.succeed(release, undefined)
      expect(yield* Effect.forEach(stores, Fiber.join)).toEqual([true, true, true])
      expect((yield* job.takeFragments).map((each) => each.fragmentId).sort()).toEqual(["a", "b", "c"])
    }))

  it.live("runs two commits of one fragment one after the other, the later one kept", () =>
    Effect.gen(function*() {
      const job = yield* newJob
      const started = yield* Ref.make<ReadonlyArray<string>>([])
      const first = yield* Deferred.make<void>()
      const second = yield* Deferred.make<void>()
      const again = { ...fragment("same"), version: "2.0" }
      const one = yield* Effect.fork(job.storeFragment("agent/same", blockingCommit(started, first, fragment("same"))))
      yield* pollUntil("the first commit to start", Ref.get(started), (all) => all.length === 1)
      const two = yield* Effect.fork(job.storeFragment("agent/same", blockingCommit(started, second, again)))
      yield* Effect.yieldNow()
      expect(yield* Ref.get(started)).toEqual(["same"])
      yield* Deferred.succeed(first, undefined)
      yield* Deferred.succeed(second, undefined)
      expect([yield* Fiber.join(one), yield* Fiber.join(two)]).toEqual([true, true])
      expect((yield* job.takeFragments).map((each) => each.version)).toEqual(["2.0"])
    }))
})

describe("uploads that outlast their stage (issue 14, item 8)", () => {
  it.live("refuses an upload still open when its stage timed out, ended during the cancel round, and stores nothing of it", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "300 millis" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "slow-agent")
      const backup = yield* backupInExecution(orchestrator, control)

      const spec = { agentId: "slow-agent", backupName: "nightly", fragmentId: "slow-agent_0" }
      const upload = yield* openUpload(client)
      yield* upload.write(metadataOf(spec))
      yield* upload.write(FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }))
      // Its folder is made once the orchestrator counts the upload as open.
      yield* pollUntil("the upload to be open", uploadFolders(storage), (folders) => folders.length === 1)
      // Answered while the upload is open: the stage waits for it, and times out.
      yield* control.answer("BACKUP", true, "Backed up")
      const cancel = yield* expectNext(control, "Cancel")
      // The rest of the upload, in the cancel round: too late for its stage.
      for (const message of backupFileOf(spec).slice(1)) yield* upload.write(message)
      const status = yield* upload.finish()
      yield* control.answer(cancel.action, true, "Cancel actions completed")
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))

      expect(codeName(status)).toBe("ABORTED")
      expect(status.details).toMatch(/outlasted its stage/)
      expect(finished.result).toBe("FAILURE")
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).fragments).toEqual([])
      expect(yield* filesUnder(join(storage, "DEFAULT", "nightly"))).toEqual([expect.stringMatching(/^backup\.json \(\d+ bytes\)$/)])
    }).pipe(Effect.scoped, live))

  it.live("fails the backup when a fragment of an agent is refused after it answered its stage", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* devOrchestrator
      const quickChannel = yield* channel(orchestrator.port)
      const slowChannel = yield* channel(orchestrator.port)
      const quick = yield* registerAgent(quickChannel, "quick-agent")
      const slow = yield* registerAgent(slowChannel, "slow-agent")

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      for (const control of [quick, slow]) {
        yield* expectNext(control, "Preparation")
        yield* control.answer("BACKUP", true, "Prepared")
      }
      for (const control of [quick, slow]) yield* expectNext(control, "Execution")
      yield* quick.answer("BACKUP", true, "Backed up")
      // The quick agent is done with the stage; the slow one is not, so the stage goes on.
      const refused = yield* uploadFragment(quickChannel, {
        agentId: "quick-agent",
        backupName: "nightly",
        fragmentId: "quick-agent_late",
        checksum: "00000000000000000000000000000000"
      })
      expect(codeName(refused)).toBe("ABORTED")
      yield* slow.answer("BACKUP", true, "Backed up")
      yield* answerEverything(quick)
      yield* answerEverything(slow)
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))

      expect(finished.result).toBe("FAILURE")
      expect(finished.resultInfo).toMatch(/quick-agent_late/)
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).status).toBe("CORRUPTED")
    }).pipe(Effect.scoped, live))
})
