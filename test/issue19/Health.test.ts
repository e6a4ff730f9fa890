// The health server over real HTTP on 127.0.0.1 (port 0): liveness,
// readiness as the agent's connection goes, and the Prometheus route.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Agent from "../../src/Agent.js"
import { OrchestratorMessage } from "../../src/core/Message.js"
import * as Health from "../../src/Health.js"
import * as InMemoryTransport from "../../src/transport/InMemoryTransport.js"
import { InMemoryOrchestrator } from "../../src/transport/InMemoryTransport.js"
import { awaitStatus, behaviorWith, softwareVersion } from "../support/agentHarness.js"

const acknowledge = OrchestratorMessage.RegisterAcknowledge({ message: "Registered Agent", features: ["PLAINTEXT"] })

// The agent (on the in-memory orchestrator) and its health server, in the test's scope.
const serve = (agentId: string) =>
  Effect.gen(function*() {
    const agentLayer = Agent.layer(
      behaviorWith({ registration: { agentId, softwareVersion } }),
      { acknowledgeTimeout: 0, reconnect: { afterStreamLost: Agent.reconnectAfterStreamLost } }
    )
    const context = yield* Layer.build(
      Health.layer({ port: 0, host: "127.0.0.1" }).pipe(Layer.provideMerge(agentLayer))
    )
    const server = Layer.succeedContext(context)
    const { address } = yield* Effect.provide(Health.HealthServer, server)
    const agent = yield* Effect.provide(Agent.RunningAgent, server)
    if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    const get = (path: string) =>
      Effect.promise(async () => {
        const response = await fetch(`http://127.0.0.1:${address.port}${path}`)
        return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
      })
    return { get, agent, port: address.port }
  })

const orchestratorLayer = Layer.merge(InMemoryTransport.layer(), NodeFileSystem.layer)

describe("Health.layer", () => {
  it.scoped("is ready only while registered: not while connecting, and not while waiting to reconnect", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const { agent, get, port } = yield* serve("probed-agent")
      expect(port).toBeGreaterThan(0)
      const control = yield* orchestrator.nextControl
      yield* control.receive

      const connecting = yield* get("/readyz")
      expect(connecting.status).toBe(503)
      expect(JSON.parse(connecting.text)).toEqual({
        agentId: "probed-agent",
        connection: "Connecting",
        reason: "Registering with the orchestrator"
      })
      expect((yield* get("/healthz")).status).toBe(200)

      yield* control.send(acknowledge)
      yield* awaitStatus(agent, (status) => status.connection._tag === "Registered")
      const ready = yield* get("/readyz")
      expect([ready.status, JSON.parse(ready.text)]).toEqual([200, { agentId: "probed-agent", connection: "Registered" }])

      yield* control.end("UNAVAILABLE", "Connection dropped")
      yield* awaitStatus(agent, (status) => status.connection._tag === "WaitingToReconnect")
      const waiting = yield* get("/readyz")
      expect([waiting.status, JSON.parse(waiting.text)]).toEqual([503, {
        agentId: "probed-agent",
        connection: "WaitingToReconnect",
        reason: "Waiting to register again: The control stream ended with UNAVAILABLE: Connection dropped"
      }])
      expect((yield* get("/healthz")).status).toBe(200)
    }).pipe(Effect.provide(orchestratorLayer)))

  it.scoped("is not alive once the agent stopped for good", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const { agent, get } = yield* serve("rejected-agent")
      const control = yield* orchestrator.nextControl
      yield* control.receive
      yield* control.end("INVALID_ARGUMENT", "Software version information is invalid.")
      yield* awaitStatus(agent, (status) => status.connection._tag === "Stopped")
      const alive = yield* get("/healthz")
      expect([alive.status, JSON.parse(alive.text)]).toEqual([503, {
        agentId: "rejected-agent",
        connection: "Stopped",
        reason: "The orchestrator rejected agent rejected-agent with INVALID_ARGUMENT: Software version information is invalid."
      }])
      expect((yield* get("/readyz")).status).toBe(503)
    }).pipe(Effect.provide(orchestratorLayer)))

  it.scoped("serves the metrics as Prometheus text, and 404 elsewhere", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const { agent, get } = yield* serve("scraped-agent")
      const control = yield* orchestrator.nextControl
      yield* control.receive
      yield* control.send(acknowledge)
      yield* awaitStatus(agent, (status) => status.connection._tag === "Registered")
      const metrics = yield* get("/metrics")
      expect(metrics.status).toBe(200)
      expect(metrics.type).toBe("text/plain; version=0.0.4; charset=utf-8")
      const lines = metrics.text.split("\n")
      expect(lines).toContain("# TYPE bro_agent_registered gauge")
      expect(lines).toContain("bro_agent_registered{agent_id=\"scraped-agent\"} 1")
      expect((yield* get("/nothing-here")).status).toBe(404)
    }).pipe(Effect.provide(orchestratorLayer)))

  it.effect("refuses a port that is not a TCP port", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(Health.layer({ port: 70000 })))
      expect(error._tag).toBe("InvalidHealthOptions")
      expect(error.message).toContain("70000")
    }).pipe(Effect.scoped, Effect.provide(Layer.succeed(Agent.RunningAgent, undefined as never))))
})
