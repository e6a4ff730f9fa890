// Connection diagnostics: an agent that cannot reach its orchestrator says
// where it tried and why, in its log (once, then again with the count of
// attempts) and in its status, and never claims it sent what it did not.
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type * as Agent from "../../src/Agent.js"
import { AgentMessage } from "../../src/core/Message.js"
import { awaitStatus, behaviorWith } from "../support/agentHarness.js"
import * as TestServer from "../support/TestServer.js"
import { captureLogs, startGrpcAgent } from "./support.js"

const failureOf = (status: Agent.AgentStatus) =>
  status.connection._tag === "Connecting" ? status.connection.lastFailure : undefined

const failedAttempts = (agent: Agent.RunningAgentService, attempts: number) =>
  awaitStatus(agent, (status) => (failureOf(status)?.attempts ?? 0) >= attempts)

describe("connection diagnostics", () => {
  it.scoped("logs the target and ECONNREFUSED when nothing listens on the port, then only every minute with the count", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const port = yield* TestServer.freePort
      const agent = yield* startGrpcAgent("127.0.0.1", port, behaviorWith(), { acknowledgeTimeout: 0 })

      const first = failureOf(yield* failedAttempts(agent, 1))
      expect(first).toMatchObject({ target: `127.0.0.1:${port}`, code: "ECONNREFUSED", attempts: 1 })
      expect(first?.cause).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`)
      expect(first?.at).toEqual(new Date(0))
      const unreachable = new RegExp(`^Cannot reach the orchestrator at 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`)
      expect(logs.matching(unreachable).map((line) => [line.level, line.message, line.annotations["agentId"]])).toEqual([
        ["WARN", `Cannot reach the orchestrator at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`, "my-agent"]
      ])

      // One attempt each 5 s: the same cause is not logged again within the minute.
      for (let attempt = 2; attempt <= 12; attempt++) {
        yield* TestClock.adjust("5 seconds")
        yield* failedAttempts(agent, attempt)
      }
      expect(logs.matching(unreachable)).toHaveLength(1)
      yield* TestClock.adjust("5 seconds")
      const thirteenth = failureOf(yield* failedAttempts(agent, 13))
      expect(thirteenth?.at).toEqual(new Date(60_000))
      expect(logs.matching(unreachable).map((line) => line.message)).toEqual([
        `Cannot reach the orchestrator at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
        `Cannot reach the orchestrator at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (13 failed attempts since 1970-01-01T00:00:00.000Z)`
      ])
      // Nothing was written, so nothing is said to be sent.
      expect(logs.matching(/Sent the registration|sent the registration again/)).toEqual([])
      expect((yield* agent.status).connection._tag).toBe("Connecting")

      // The orchestrator comes up: the registration is written, and said so.
      const server = yield* TestServer.make({ port })
      const connection = yield* server.connections
      const registration = yield* connection.next
      expect(registration).toMatchObject(AgentMessage.Register({
        action: "REGISTER",
        agentId: "my-agent",
        scope: "",
        apiVersion: "4.0",
        softwareVersion: registration._tag === "Register" ? registration.softwareVersion : undefined as never,
        backendType: "BRO",
        features: ["PLAINTEXT", "PREPARE_STAGE", "POST_STAGE"]
      }))
      yield* Effect.yieldNow()
      const sent = yield* Effect.repeat(
        Effect.sync(() => logs.matching(/^Sent the registration|^Reached the orchestrator/).map((line) => line.message)),
        { until: (lines) => lines.length >= 2 }
      )
      expect(sent).toEqual([`Reached the orchestrator at 127.0.0.1:${port} after 13 failed attempts`, "Sent the registration (API 4.0)"])
    }).pipe(Effect.provide(logs.layer))
  })

  it.scoped("logs the target and ENOTFOUND for a host that does not exist, and says so in the status", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const agent = yield* startGrpcAgent("no-such-host.invalid", 3999, behaviorWith(), { acknowledgeTimeout: 0 })
      const failure = failureOf(yield* failedAttempts(agent, 1))
      expect(failure).toMatchObject({
        target: "no-such-host.invalid:3999",
        cause: "getaddrinfo ENOTFOUND no-such-host.invalid",
        code: "ENOTFOUND",
        attempts: 1
      })
      expect(logs.matching(/no-such-host/).map((line) => [line.level, line.message])).toEqual([
        ["WARN", "Cannot reach the orchestrator at no-such-host.invalid:3999: getaddrinfo ENOTFOUND no-such-host.invalid"]
      ])
      expect(logs.matching(/Sent the registration|sent the registration again/)).toEqual([])
    }).pipe(Effect.provide(logs.layer))
  })
})
