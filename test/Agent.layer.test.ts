import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, TestClock } from "effect"
import * as Agent from "../src/Agent.js"
import { OrchestratorMessage } from "../src/core/Message.js"
import * as InMemoryTransport from "../src/transport/InMemoryTransport.js"
import { InMemoryOrchestrator } from "../src/transport/InMemoryTransport.js"
import { agentId, awaitStatus, behaviorWith, softwareVersion } from "./support/agentHarness.js"

const orchestratorLayer = Layer.merge(InMemoryTransport.layer(), NodeFileSystem.layer)

const acknowledge = OrchestratorMessage.RegisterAcknowledge({
  message: "Registered Agent",
  features: ["PLAINTEXT", "PREPARE_STAGE", "POST_STAGE"]
})

const agentLayer = Agent.layer(behaviorWith(), { acknowledgeTimeout: 0 })

describe("Agent.layer", () => {
  it.scoped("provides the agent, whose status goes from connecting to registered once acknowledged", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      yield* Effect.gen(function*() {
        const agent = yield* Agent.RunningAgent
        expect(agent.agentId).toBe(agentId)
        const control = yield* orchestrator.nextControl
        expect((yield* control.receive)._tag).toBe("Register")
        expect((yield* agent.status).connection).toEqual({ _tag: "Connecting", apiVersion: "4.0" })
        yield* control.send(acknowledge)
        // The connection's exact shape is the registration tests' business: here, that the context sees it change.
        const { connection } = yield* awaitStatus(agent, (status) => status.connection._tag === "Registered")
        expect(connection._tag === "Registered" && connection.acknowledged).toBe(true)
      }).pipe(Effect.provide(agentLayer))
    }).pipe(Effect.provide(orchestratorLayer)))

  it.scoped("stops the agent when the layer's scope closes: the control stream ends and it registers no more", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(agentLayer, scope)
      const agent = Context.get(context, Agent.RunningAgent)
      const control = yield* orchestrator.nextControl
      yield* control.receive
      yield* Scope.close(scope, Exit.void)
      yield* control.closed
      expect(Exit.isInterrupted(yield* Effect.exit(agent.join))).toBe(true)
      yield* TestClock.adjust("10 minutes")
      expect(yield* orchestrator.controlsOpened).toBe(1)
    }).pipe(Effect.provide(orchestratorLayer)))

  it.scoped("fails to build on invalid registration information, before any connection", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const invalid = Agent.layer(behaviorWith({ registration: { agentId: "../etc", softwareVersion } }))
      const error = yield* Effect.flip(Layer.build(invalid))
      expect(error._tag).toBe("InvalidRegistrationInformation")
      expect(yield* orchestrator.controlsOpened).toBe(0)
    }).pipe(Effect.provide(orchestratorLayer)))
})
