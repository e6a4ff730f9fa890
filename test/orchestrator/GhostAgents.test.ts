// Issue 14, item 4: an agent whose connection goes silent (a black-holed
// path: nothing arrives, nothing is refused) loses its registration within
// the server's keepalive, as BRO frees such an id (behaviour.md §1, about
// 130 s there), and the same id can then register again.
//
// The keepalive is an orchestrator option, made short here:
// `keepalive: { interval, timeout }` in `OrchestratorOptions` (how often the
// server pings a connection, and how long it waits for the ping's answer).
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Effect } from "effect"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import * as FaultProxy from "../support/FaultProxy.js"
import { pollUntil, within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { answerEverything, channel, registerAgent } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

// Written as a variable, so that the compiler lets the option through until it exists.
const withKeepalive = (
  storage: string
): Orchestrator.OrchestratorOptions & {
  readonly keepalive: { readonly interval: Duration.DurationInput; readonly timeout: Duration.DurationInput }
} => ({
  port: 0,
  storage,
  stageTimeout: "20 seconds",
  keepalive: { interval: "200 millis", timeout: "200 millis" }
})

describe("agents whose connection went silent (issue 14, item 4)", () => {
  it.live("frees the id of an agent whose connection is black-holed, so that it can register again", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make(withKeepalive(storage))
      const proxy = yield* FaultProxy.make({ targetPort: orchestrator.port })
      const ghostChannel = yield* channel(proxy.port)
      yield* registerAgent(ghostChannel, "ghost")
      expect((yield* orchestrator.agents).map((agent) => agent.agentId)).toEqual(["ghost"])

      yield* proxy.stall
      yield* pollUntil("the silent agent to lose its registration", orchestrator.agents, (agents) => agents.length === 0)

      // Back on a path that works: the id is free.
      const returned = yield* registerAgent(yield* channel(orchestrator.port), "ghost")
      expect(yield* returned.isEnded).toBe(false)
      expect((yield* orchestrator.agents).map((agent) => agent.agentId)).toEqual(["ghost"])
    }).pipe(Effect.scoped, live))

  it.live("does not hold a backup for an agent whose connection is black-holed", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make(withKeepalive(storage))
      const proxy = yield* FaultProxy.make({ targetPort: orchestrator.port })
      yield* registerAgent(yield* channel(proxy.port), "ghost")
      const healthy = yield* registerAgent(yield* channel(orchestrator.port), "healthy")
      yield* proxy.stall
      yield* pollUntil("the silent agent to lose its registration", orchestrator.agents, (agents) => agents.length === 1)

      // A backup that starts now involves the agents that are really there.
      yield* answerEverything(healthy)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))
      expect(finished.result).toBe("SUCCESS")
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).softwareVersions.map((version) => version.agentId)).toEqual([
        "healthy"
      ])
    }).pipe(Effect.scoped, live))
})

