// What the agent logs: each stage's and cancel's answer with its text, an
// error once, and no more than its log level allows.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Layer } from "effect"
import * as Agent from "../../src/Agent.js"
import { StageFailure } from "../../src/behavior/AgentBehavior.js"
import * as InMemoryTransport from "../../src/transport/InMemoryTransport.js"
import { InMemoryOrchestrator } from "../../src/transport/InMemoryTransport.js"
import { backupPreparation, behaviorWith, cancel, connect, execution, stageComplete } from "../support/agentHarness.js"
import { captureLogs } from "./support.js"

const orchestratorLayer = Layer.merge(InMemoryTransport.layer(), NodeFileSystem.layer)

describe("the agent's log", () => {
  it.scoped("says each stage's and the cancel's answer with its text", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const { control } = yield* connect(behaviorWith<StageFailure>({
        prepareBackup: () => Effect.succeed("Dumped 3 tables"),
        executeBackup: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never),
        cancel: () => Effect.fail(new StageFailure({ message: "Could not remove the dump" }))
      }), { logLevel: "Info" })
      yield* control.send(backupPreparation)
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", true, "Dumped 3 tables"))
      yield* control.send(execution("BACKUP"))
      yield* Deferred.await(started)
      yield* control.send(cancel("BACKUP"))
      expect(yield* control.receive).toEqual(stageComplete("BACKUP", false, "Could not remove the dump"))
      yield* Effect.yieldNow()
      expect(logs.matching(/^Answered/).map((line) => [line.level, line.message])).toEqual([
        ["INFO", "Answered the PREPARATION stage of BACKUP nightly (success): Dumped 3 tables"],
        ["INFO", "Answered the cancel of BACKUP nightly (failure): Could not remove the dump"]
      ])
      // The cancel step's error is logged once, with its cause.
      expect(logs.matching(/Could not remove the dump/).map((line) => line.message)).toHaveLength(1)
      expect(logs.matching(/The cancel step failed/).map((line) => line.level)).toEqual(["WARN"])
    }).pipe(Effect.provide(Layer.merge(orchestratorLayer, logs.layer)))
  })

  it.scoped("logs nothing below the level of the logLevel option", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith(), { logLevel: "Warning" })
      yield* control.send(backupPreparation)
      yield* control.receive
      yield* control.send(cancel("BACKUP"))
      yield* control.receive
      expect(logs.lines.filter((line) => line.level === "INFO" || line.level === "DEBUG")).toEqual([])
    }).pipe(Effect.provide(Layer.merge(orchestratorLayer, logs.layer)))
  })

  it.scoped("takes its log level from AGENT_LOG_LEVEL", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { control } = yield* connect(behaviorWith())
      yield* control.send(backupPreparation)
      yield* control.receive
      expect(logs.lines.map((line) => line.message)).toEqual([])
    }).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["AGENT_LOG_LEVEL", "Error"]]))),
      Effect.provide(Layer.merge(orchestratorLayer, logs.layer))
    )
  })

  it.scoped("logs how a started agent ended once, and leaves it to run's caller to report", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const orchestrator = yield* InMemoryOrchestrator
      const agent = yield* Agent.start(behaviorWith(), { acknowledgeTimeout: 0, logLevel: "Info" })
      const first = yield* orchestrator.nextControl
      yield* first.receive
      yield* first.end("INVALID_ARGUMENT", "Software version information is invalid.")
      yield* Effect.flip(agent.join)
      yield* Effect.yieldNow()
      expect(logs.lines.filter((line) => line.level === "ERROR").map((line) => line.message)).toEqual([
        "The orchestrator rejected agent my-agent with INVALID_ARGUMENT: Software version information is invalid."
      ])

      const ran = yield* Effect.fork(Agent.run(behaviorWith({ registration: { agentId: "run-agent", softwareVersion: {
        productName: "p", productNumber: "n", revision: "R1A", productionDate: "2019-04-17", description: "d", type: "t"
      } } }), { acknowledgeTimeout: 0, logLevel: "Info" }))
      const second = yield* orchestrator.nextControl
      yield* second.receive
      yield* second.end("INVALID_ARGUMENT", "Software version information is invalid.")
      const error = yield* Effect.flip(ran.await.pipe(Effect.flatten))
      expect(error._tag).toBe("RegistrationRejected")
      expect(logs.lines.filter((line) => line.level === "ERROR")).toHaveLength(1)
    }).pipe(Effect.provide(Layer.merge(orchestratorLayer, logs.layer)))
  })
})
