import { expect } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref, Schedule, TestClock } from "effect"
import * as Agent from "../src/Agent.js"
import { OrchestratorMessage } from "../src/core/Message.js"
import { InMemoryOrchestrator } from "../src/transport/InMemoryTransport.js"
import {
  agentId,
  awaitSleep,
  awaitStatus,
  backupPreparation,
  behaviorWith,
  cancel,
  connect,
  execution,
  nothingToCancelAnswer,
  softwareVersion,
  stageComplete,
  inMemoryLayer
} from "./support/agentHarness.js"
import { layerPerTest } from "./support/layers.js"

const acknowledge = OrchestratorMessage.RegisterAcknowledge({
  message: "Registered Agent",
  features: ["PLAINTEXT", "TLS", "MTLS", "PREPARE_STAGE", "POST_STAGE", "MULTIPLE_BACKUP_TYPES", "SELECTIVE_BACKUP"]
})
const invalidApiVersion3 = "Invalid api version. Only [2.0, 3.0] are supported.\n"

layerPerTest(inMemoryLayer())("registration", (it) => {
  it.scoped("registers as API 4.0 with the features that are true and the software version's defaults", () =>
    Effect.gen(function*() {
      const { registration } = yield* connect(behaviorWith({ registration: { agentId, scope: "alpha", softwareVersion } }))
      expect(registration).toEqual({
        _tag: "Register",
        action: "REGISTER",
        agentId,
        scope: "alpha",
        apiVersion: "4.0",
        softwareVersion: { ...softwareVersion, commercialVersion: "0.0.0", semanticVersion: "0.0.0" },
        backendType: "BRO",
        features: ["PLAINTEXT", "PREPARE_STAGE", "POST_STAGE"]
      })
    }))

  layerPerTest(inMemoryLayer({ security: "MTLS" }))("on a mutual-TLS transport", (it) => {
    it.scoped("announces the transport's security mode", () =>
      Effect.gen(function*() {
        const { registration } = yield* connect(behaviorWith())
        expect(registration._tag === "Register" && registration.features[0]).toBe("MTLS")
      }))
  })

  it.scoped("sends the features its user configured instead, when given", () =>
    Effect.gen(function*() {
      const { registration } = yield* connect(behaviorWith({
        registration: { agentId, softwareVersion, features: ["TLS", "SELECTIVE_BACKUP"] }
      }))
      expect(registration._tag === "Register" && registration.features).toEqual(["TLS", "SELECTIVE_BACKUP"])
    }))

  it.scoped("refuses invalid registration information before any connection", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const error = yield* Effect.flip(Agent.start(behaviorWith({
        registration: { agentId: "../etc", softwareVersion: { ...softwareVersion, revision: "" } }
      })))
      if (error._tag !== "InvalidRegistrationInformation") throw new Error(`unexpected ${error._tag}`)
      expect(error.problems.map((problem) => problem.field)).toEqual(["agentId", "softwareVersion.revision"])
      expect(yield* orchestrator.controlsOpened).toBe(0)
    }))

  it.scoped("is registered, with the orchestrator's features, once acknowledged", () =>
    Effect.gen(function*() {
      const { agent, control } = yield* connect(behaviorWith())
      expect((yield* agent.status).connection).toEqual({ _tag: "Connecting", apiVersion: "4.0" })
      yield* control.send(acknowledge)
      const status = yield* awaitStatus(agent, (status) => status.connection._tag === "Registered")
      expect(status.connection).toEqual({
        _tag: "Registered",
        apiVersion: "4.0",
        acknowledged: true,
        orchestratorFeatures: acknowledge.features
      })
    }))

  it.scoped("sends the registration again on the same stream until acknowledged", () =>
    Effect.gen(function*() {
      const { control, registration, orchestrator } = yield* connect(behaviorWith(), { acknowledgeTimeout: "10 seconds" })
      yield* awaitSleep
      yield* TestClock.adjust("10 seconds")
      expect(yield* control.receive).toEqual(registration)
      yield* awaitSleep
      yield* TestClock.adjust("10 seconds")
      expect(yield* control.receive).toEqual(registration)
      yield* control.send(acknowledge)
      // Once acknowledged, nothing more: the next message is the answer to a cancel.
      yield* TestClock.adjust("60 seconds")
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(nothingToCancelAnswer)
      expect(yield* orchestrator.controlsOpened).toBe(1)
    }))

  it.scoped("never sends the registration again when the acknowledgement wait is 0", () =>
    Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith(), { acknowledgeTimeout: 0 })
      yield* TestClock.adjust("1 minute")
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(nothingToCancelAnswer)
    }))

  it.scoped("is registered at once under API 3.0, which is never acknowledged", () =>
    Effect.gen(function*() {
      const { agent, registration } = yield* connect(behaviorWith({
        registration: { agentId, softwareVersion, apiVersion: "3.0" }
      }))
      expect(registration._tag === "Register" && registration.apiVersion).toBe("3.0")
      const status = yield* awaitStatus(agent, (status) => status.connection._tag === "Registered")
      expect(status.connection).toEqual({
        _tag: "Registered",
        apiVersion: "3.0",
        acknowledged: false,
        orchestratorFeatures: []
      })
    }))
})

layerPerTest(inMemoryLayer())("when the control stream ends", (it) => {
  it.scoped("registers again on a new stream after the orchestrator closes it", () =>
    Effect.gen(function*() {
      const { agent, control, orchestrator } = yield* connect(behaviorWith())
      yield* control.end()
      yield* awaitStatus(agent, (status) => status.connection._tag === "WaitingToReconnect")
      yield* awaitSleep
      yield* TestClock.adjust("5 seconds")
      const next = yield* orchestrator.nextControl
      const registration = yield* next.receive
      expect(registration._tag === "Register" && registration.apiVersion).toBe("4.0")
    }))

  it.scoped("keeps registering again while the orchestrator is unavailable", () =>
    Effect.gen(function*() {
      const { control, orchestrator } = yield* connect(behaviorWith())
      let current = control
      for (let attempt = 0; attempt < 5; attempt++) {
        yield* current.end("UNAVAILABLE", "Connection refused")
        yield* awaitSleep
        yield* TestClock.adjust("5 seconds")
        current = yield* orchestrator.nextControl
        yield* current.receive
      }
      expect(yield* orchestrator.controlsOpened).toBe(6)
    }))

  it.scoped("stops with RegistrationRejected and every reason when the registration is invalid", () =>
    Effect.gen(function*() {
      const { agent, control, orchestrator } = yield* connect(behaviorWith())
      yield* control.end(
        "INVALID_ARGUMENT",
        "Invalid api version. Only [2.0, 3.0, 4.0] are supported.\n<my-agent> is an invalid id\n"
      )
      const error = yield* Effect.flip(agent.join)
      expect(error).toEqual(
        new Agent.RegistrationRejected({
          agentId,
          status: "INVALID_ARGUMENT",
          reasons: ["Invalid api version. Only [2.0, 3.0, 4.0] are supported.", "<my-agent> is an invalid id"]
        })
      )
      expect(error.message).toContain("<my-agent> is an invalid id")
      expect((yield* agent.status).connection._tag).toBe("Stopped")
      yield* TestClock.adjust("10 minutes")
      expect(yield* orchestrator.controlsOpened).toBe(1)
    }))

  it.scoped("stops with RegistrationRejected when unauthenticated", () =>
    Effect.gen(function*() {
      const { agent, control } = yield* connect(behaviorWith())
      yield* control.end("UNAUTHENTICATED", "No client certificate")
      const error = yield* Effect.flip(agent.join)
      expect(error._tag === "RegistrationRejected" && error.status).toBe("UNAUTHENTICATED")
    }))

  it.scoped("falls back to API 3.0 at once when the orchestrator supports only 2.0 and 3.0", () =>
    Effect.gen(function*() {
      const { control, orchestrator } = yield* connect(behaviorWith())
      yield* control.end("INVALID_ARGUMENT", invalidApiVersion3)
      const next = yield* orchestrator.nextControl
      const registration = yield* next.receive
      expect(registration._tag === "Register" && registration.apiVersion).toBe("3.0")
      // No wait was needed: the clock never moved.
      expect(yield* TestClock.currentTimeMillis).toBe(0)
    }))

  it.scoped("goes back to API 4.0 after a fallback when the stream is lost", () =>
    Effect.gen(function*() {
      const { control, orchestrator } = yield* connect(behaviorWith())
      yield* control.end("INVALID_ARGUMENT", invalidApiVersion3)
      const fallback = yield* orchestrator.nextControl
      yield* fallback.receive
      yield* fallback.end("UNAVAILABLE", "Connection reset")
      yield* awaitSleep
      yield* TestClock.adjust("5 seconds")
      const next = yield* orchestrator.nextControl
      const registration = yield* next.receive
      expect(registration._tag === "Register" && registration.apiVersion).toBe("4.0")
    }))

  it.scoped("waits 30 seconds when the id is in use, and gives up after 20 more tries", () =>
    Effect.gen(function*() {
      const { agent, control, orchestrator } = yield* connect(behaviorWith())
      const inUse = "Failed to register agent because id my-agent is already used"
      yield* control.end("ALREADY_EXISTS", inUse)
      yield* awaitSleep
      yield* TestClock.adjust("29 seconds")
      expect(yield* orchestrator.controlsOpened).toBe(1)
      yield* TestClock.adjust("1 second")
      let current = yield* orchestrator.nextControl
      yield* current.receive
      for (let retry = 2; retry <= 20; retry++) {
        yield* current.end("ALREADY_EXISTS", inUse)
        yield* awaitSleep
        yield* TestClock.adjust("30 seconds")
        current = yield* orchestrator.nextControl
        yield* current.receive
      }
      expect(yield* orchestrator.controlsOpened).toBe(21)
      yield* current.end("ALREADY_EXISTS", inUse)
      const error = yield* Effect.flip(agent.join)
      expect(error).toEqual(new Agent.RegistrationRejected({ agentId, status: "ALREADY_EXISTS", reasons: [inUse] }))
    }))

  it.scoped("follows a reconnection schedule its user composed", () =>
    Effect.gen(function*() {
      const { agent, control, orchestrator } = yield* connect(behaviorWith(), {
        reconnect: { afterStreamLost: Schedule.spaced("1 minute").pipe(Schedule.intersect(Schedule.recurs(1))) }
      })
      yield* control.end("UNAVAILABLE", "")
      yield* awaitSleep
      yield* TestClock.adjust("59 seconds")
      expect(yield* orchestrator.controlsOpened).toBe(1)
      yield* TestClock.adjust("1 second")
      const second = yield* orchestrator.nextControl
      yield* second.receive
      yield* second.end("UNAVAILABLE", "gone")
      const error = yield* Effect.flip(agent.join)
      expect(error._tag).toBe("OrchestratorUnreachable")
      expect(error.message).toContain("UNAVAILABLE")
    }))

  it.scoped("starts the reconnection schedule afresh once the orchestrator has answered", () =>
    Effect.gen(function*() {
      const { agent, control, orchestrator } = yield* connect(behaviorWith(), {
        reconnect: { afterStreamLost: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(1))) }
      })
      yield* control.end("UNAVAILABLE", "")
      yield* awaitSleep
      yield* TestClock.adjust("1 second")
      const second = yield* orchestrator.nextControl
      yield* second.receive
      yield* second.send(acknowledge)
      yield* awaitStatus(agent, (status) => status.connection._tag === "Registered")
      // Without the reset, this second loss would exhaust recurs(1).
      yield* second.end("UNAVAILABLE", "")
      yield* awaitSleep
      yield* TestClock.adjust("1 second")
      const third = yield* orchestrator.nextControl
      expect((yield* third.receive)._tag).toBe("Register")
    }))

  it.scoped("interrupts the running stage and runs the cancel step before registering again", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const events = yield* Ref.make<Array<string>>([])
      const log = (event: string) => Ref.update(events, (all) => [...all, event])
      const { control, orchestrator } = yield* connect(behaviorWith({
        executeBackup: () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => log("execution interrupted"))
          ),
        cancel: () => log("cancel step")
      }))
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(execution("BACKUP"))
      yield* Deferred.await(started)
      yield* control.end("UNAVAILABLE", "")
      yield* awaitSleep
      yield* TestClock.adjust("5 seconds")
      const next = yield* orchestrator.nextControl
      yield* next.receive
      expect(yield* Ref.get(events)).toEqual(["execution interrupted", "cancel step"])
      // Idle and with nothing on record on the new stream: nothing was sent for the old action.
      yield* next.send(cancel("BACKUP"))
      expect(yield* next.receive).toEqual(nothingToCancelAnswer)
    }))

  it.scoped("closes the control stream and registers no more when it is interrupted", () =>
    Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const fiber = yield* Effect.fork(Agent.run(behaviorWith(), { acknowledgeTimeout: 0 }))
      const control = yield* orchestrator.nextControl
      yield* control.receive
      yield* Fiber.interrupt(fiber)
      yield* control.closed
      yield* TestClock.adjust("10 minutes")
      expect(yield* orchestrator.controlsOpened).toBe(1)
    }))

  it.scoped("answers the first stage on a new stream after a reconnection", () =>
    Effect.gen(function*() {
      const { control, orchestrator } = yield* connect(behaviorWith())
      yield* control.end()
      yield* awaitSleep
      yield* TestClock.adjust("5 seconds")
      const next = yield* orchestrator.nextControl
      yield* next.receive
      yield* next.send(backupPreparation)
      expect(yield* next.receive).toEqual(stageComplete("BACKUP", true, "Preparation for backup is successful"))
    }))
})
