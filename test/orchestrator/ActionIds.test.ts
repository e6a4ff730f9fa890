// Issue 14, item 2: the orchestrator keeps running actions past 65 536 of
// them, every action gets an id no other action had, and finished actions'
// records are pruned past a bound, so that memory does not grow with the
// number of actions run.
//
// The actions are DELETE_BACKUPs of a backup that does not exist: each fails
// at once, without an agent or a file.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"

const live = Effect.provide(NodeFileSystem.layer)

// The bound is the fixer's to choose and document; this expectation is loose
// on purpose: at most 10 000 finished actions kept per backup manager.
const keptAtMost = 10_000

type Api = Orchestrator.Orchestrator["Type"]

/** Runs `count` failing actions, `batch` queued at a time, and returns their ids. */
const runActions = (orchestrator: Api, count: number, batch: number, ids: Array<string>) =>
  Effect.gen(function*() {
    for (let done = 0; done < count;) {
      let last = ""
      const size = Math.min(batch, count - done)
      for (let i = 0; i < size; i++) {
        const record = yield* orchestrator.startAction("DEFAULT", "DELETE_BACKUP", "missing")
        ids.push(record.id)
        last = record.id
      }
      // Actions run in the order asked: the batch is over once its last one is.
      yield* orchestrator.awaitAction(last)
      done += size
    }
  })

describe("action ids and action records (issue 14, item 2)", () => {
  it.live(`prunes finished actions' records beyond a bound (loosely: at most ${keptAtMost} kept)`, () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage })
      const ids: Array<string> = []
      yield* runActions(orchestrator, keptAtMost + 2_000, 1_000, ids)
      const kept = yield* orchestrator.actions("DEFAULT")
      expect(kept.length).toBeLessThanOrEqual(keptAtMost)
      // What is pruned is the oldest: the latest action is still there, finished.
      const latest = ids.at(-1) ?? ""
      expect(yield* orchestrator.action("DEFAULT", latest)).toMatchObject({ id: latest, state: "FINISHED", result: "FAILURE" })
    }).pipe(Effect.scoped, live), 60_000)

  it.live("runs more than 65 536 actions, each with an id of its own", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage })
      const ids: Array<string> = []
      const total = 65_536 + 4_000
      for (let done = 0; done < total; done += 10_000) {
        yield* runActions(orchestrator, Math.min(10_000, total - done), 1_000, ids)
        // Without pruning, the id space (random ids below 65 536, drawn until a
        // free one comes) runs out and the next request spins for ever on the
        // event loop, where no timeout can end it: stop before that.
        const kept = (yield* orchestrator.actions("DEFAULT")).length
        if (ids.length >= 50_000 && kept >= ids.length) {
          return yield* Effect.fail(new Error(`all ${kept} finished actions are still kept: the ids would run out`))
        }
      }
      expect(ids.length).toBe(total)
      expect(new Set(ids).size).toBe(total)
      const latest = ids.at(-1) ?? ""
      const record = yield* within("the last action")(orchestrator.awaitAction(latest))
      expect(record).toMatchObject({ id: latest, state: "FINISHED", result: "FAILURE" })
    }).pipe(Effect.scoped, live), 120_000)
})
