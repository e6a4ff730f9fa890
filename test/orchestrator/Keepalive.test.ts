// The keepalive option (issue 14, item 4): what `GhostAgents.test.ts` leaves
// out. Its values are checked at start, and a backup that starts while a
// silent agent still holds its id fails when the keepalive drops that agent,
// instead of waiting for its stage timeout.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either } from "effect"
import * as Keepalive from "../../orchestrator/grpc/Keepalive.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import * as FaultProxy from "../support/FaultProxy.js"
import { within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { answerEverything, channel, registerAgent } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

describe("the orchestrator's keepalive option", () => {
  it("defaults to BRO's numbers: a ping every 120 s, 10 s to answer", () => {
    expect(Keepalive.decode(undefined)).toEqual(Either.right({ interval: Duration.seconds(120), timeout: Duration.seconds(10) }))
    expect(Keepalive.decode({ timeout: "2 seconds" })).toEqual(
      Either.right({ interval: Duration.seconds(120), timeout: Duration.seconds(2) })
    )
    expect(Keepalive.serverOptions(Keepalive.defaultKeepalive)).toMatchObject({
      "grpc.keepalive_time_ms": 120_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1
    })
  })

  it.live("refuses to start with a keepalive that is not a duration longer than zero, naming the field", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const notADuration = yield* Effect.flip(
        Orchestrator.make({ port: 0, storage, keepalive: { interval: "soon" as Duration.DurationInput } })
      )
      expect(notADuration.reason).toBe("keepalive.interval must be a finite duration longer than zero")
      const zero = yield* Effect.flip(Orchestrator.make({ port: 0, storage, keepalive: { timeout: 0 } }))
      expect(zero.reason).toBe("keepalive.timeout must be a finite duration longer than zero")
    }).pipe(Effect.scoped, live))

  it.live("fails a backup that started while a silent agent held its id when the keepalive drops it, not at the stage timeout", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({
        port: 0,
        storage,
        stageTimeout: "1 hour",
        keepalive: { interval: "200 millis", timeout: "200 millis" }
      })
      const proxy = yield* FaultProxy.make({ targetPort: orchestrator.port })
      yield* registerAgent(yield* channel(proxy.port), "ghost")
      yield* answerEverything(yield* registerAgent(yield* channel(orchestrator.port), "healthy"))
      yield* proxy.stall
      // The ghost is still registered: it takes part.
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))
      expect(finished.result).toBe("FAILURE")
      expect(finished.resultInfo).toMatch(/ghost/)
      expect((yield* orchestrator.agents).map((agent) => agent.agentId)).toEqual(["healthy"])
    }).pipe(Effect.scoped, live))
})
