// Shared pieces of the agent's unit tests on the in-memory transport.
import { NodeFileSystem } from "@effect/platform-node"
import { Chunk, Effect, Layer, Stream, TestClock } from "effect"
import * as Agent from "../../src/Agent.js"
import type { AgentBehavior } from "../../src/behavior/AgentBehavior.js"
import { FragmentInformation } from "../../src/core/Fragment.js"
import type { AgentMessage } from "../../src/core/Message.js"
import { OrchestratorMessage } from "../../src/core/Message.js"
import * as InMemoryTransport from "../../src/transport/InMemoryTransport.js"
import { InMemoryOrchestrator } from "../../src/transport/InMemoryTransport.js"
import type { SecurityMode } from "../../src/transport/OrchestratorTransport.js"

/** The in-memory transport and the real file system. */
export const inMemoryLayer = (options: { readonly security?: SecurityMode } = {}) =>
  Layer.merge(InMemoryTransport.layer(options), NodeFileSystem.layer)

export const softwareVersion = {
  productName: "productABC",
  productNumber: "APR XXX XX",
  revision: "R1A",
  productionDate: "2019-04-17",
  description: "ABC used by XYZ",
  type: "Database"
}

export const agentId = "my-agent"

export const behaviorWith = <E = never, R = never>(
  overrides: Partial<AgentBehavior<E, R>> = {}
): AgentBehavior<E, R> => ({
  registration: { agentId, softwareVersion },
  executeBackup: () => Effect.void,
  executeRestore: () => Effect.void,
  ...overrides
})

/** Starts an agent and takes its first registration off the first control stream. */
export const connect = <E, R>(behavior: AgentBehavior<E, R>, options: Agent.AgentOptions = {}) =>
  Effect.gen(function*() {
    const orchestrator = yield* InMemoryOrchestrator
    const agent = yield* Agent.start(behavior, { acknowledgeTimeout: 0, ...options })
    const control = yield* orchestrator.nextControl
    const registration = yield* control.receive
    return { agent, control, registration, orchestrator }
  })

export const stageComplete = (action: "BACKUP" | "RESTORE", success: boolean, message: string): AgentMessage => ({
  _tag: "StageComplete",
  action,
  success,
  agentId,
  message
})

export const fragment = (fragmentId: string) =>
  FragmentInformation.make({ fragmentId, version: "1.0", sizeInBytes: "12", customInformation: { pod: "db-0" } })

export const placeholder = FragmentInformation.make({ fragmentId: "", version: "", sizeInBytes: "", customInformation: {} })

export const backupPreparation = OrchestratorMessage.Preparation({
  action: "BACKUP",
  backupName: "nightly",
  backupType: "DEFAULT",
  softwareVersion: undefined,
  fragments: []
})

export const restorePreparation = (fragments: ReadonlyArray<FragmentInformation>) =>
  OrchestratorMessage.Preparation({
    action: "RESTORE",
    backupName: "nightly",
    backupType: "DEFAULT",
    softwareVersion: { ...softwareVersion, commercialVersion: "5.1.0", semanticVersion: "5.1.0" },
    fragments
  })

export const execution = (action: "BACKUP" | "RESTORE") => OrchestratorMessage.Execution({ action })
export const postActions = (action: "BACKUP" | "RESTORE") => OrchestratorMessage.PostActions({ action })
export const cancel = (action: "BACKUP" | "RESTORE" | "REGISTER" = "BACKUP") =>
  OrchestratorMessage.Cancel({ action, message: "" })

/**
 * The answer to a cancel with no action on record proves that every message
 * sent before it was handled without an answer: the agent handles messages
 * in order. Only usable while the agent is idle with no action on record.
 */
export const nothingToCancelAnswer = stageComplete("BACKUP", true, "Nothing to cancel: no action since registration")

/** Waits until the agent has a sleep pending on the TestClock (a reconnection wait, say). */
export const awaitSleep = Effect.gen(function*() {
  for (;;) {
    const sleeps = yield* TestClock.sleeps()
    if (Chunk.isNonEmpty(sleeps)) return
    yield* Effect.yieldNow()
  }
})

/** Waits until the agent's status satisfies `predicate`. */
export const awaitStatus = (agent: Agent.RunningAgentService, predicate: (status: Agent.AgentStatus) => boolean) =>
  agent.statusChanges.pipe(Stream.filter(predicate), Stream.take(1), Stream.runHead, Effect.flatten)
