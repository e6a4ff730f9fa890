/**
 * The agents that are registered: the registration rules of BRO (what is
 * refused, with which status and description) and one record per open
 * control stream.
 *
 * @since 0.1.0
 */
import type { Effect, Queue } from "effect"
import { Deferred } from "effect"
import type { AgentMessage, OrchestratorMessage } from "../src/core/Message.js"
import { idProblem } from "../src/core/Registration.js"
import type { SoftwareVersionFields } from "../src/core/SoftwareVersion.js"
import type { RegisteredAgent } from "./Model.js"

/**
 * The API versions BRO accepts, as exact strings.
 *
 * @since 0.1.0
 * @category constants
 */
export const supportedApiVersions = ["2.0", "3.0", "4.0"] as const

/**
 * What BRO acknowledges an API 4.0 registration with.
 *
 * @since 0.1.0
 * @category constants
 */
export const acknowledgement = {
  message: "Registered Agent",
  features: ["PLAINTEXT", "TLS", "MTLS", "PREPARE_STAGE", "POST_STAGE", "MULTIPLE_BACKUP_TYPES", "SELECTIVE_BACKUP"]
} as const

const requiredVersionFields: ReadonlyArray<keyof SoftwareVersionFields> = [
  "productName",
  "productNumber",
  "revision",
  "productionDate",
  "description",
  "type"
]

/**
 * Why BRO refuses a registration, in BRO's order and words (each reason is a
 * line of the INVALID_ARGUMENT description); empty when it is valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const registrationProblems = (register: Extract<AgentMessage, { _tag: "Register" }>): ReadonlyArray<string> => {
  const problems: Array<string> = []
  if (!(supportedApiVersions as ReadonlyArray<string>).includes(register.apiVersion)) {
    problems.push("Invalid api version. Only [2.0, 3.0, 4.0] are supported.")
  }
  if (idProblem(register.agentId) !== undefined) problems.push(`<${register.agentId}> is an invalid id`)
  if (requiredVersionFields.some((field) => register.softwareVersion[field].trim() === "")) {
    problems.push("Software version information is invalid.")
  }
  if (problems.length === 0) {
    for (const element of scopeOf(register.scope)) {
      if (idProblem(element) !== undefined) problems.push(`<${element}> is an invalid id`)
    }
  }
  return problems
}

/**
 * The backup managers a scope names (`;`-separated; empty means none beyond DEFAULT).
 *
 * @since 0.1.0
 * @category validation
 */
export const scopeOf = (scope: string): ReadonlyArray<string> => (scope === "" ? [] : scope.split(";"))

/**
 * One registered agent's open control stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentConnection {
  readonly info: RegisteredAgent
  /** Registration order: stage messages go out in it. */
  readonly order: number
  readonly send: (message: OrchestratorMessage) => Effect.Effect<void>
  /** The stage-completes the agent sent, in order, not yet taken by an action. */
  readonly stageCompletes: Queue.Queue<Extract<AgentMessage, { _tag: "StageComplete" }>>
  /** Done when the stream ended, for any reason. */
  readonly disconnected: Deferred.Deferred<void>
}

/**
 * Whether the agent's stream has ended.
 *
 * @since 0.1.0
 * @category queries
 */
export const isDisconnected = (agent: AgentConnection): Effect.Effect<boolean> => Deferred.isDone(agent.disconnected)

/**
 * Whether an agent takes part in actions of a backup manager: every agent in
 * DEFAULT, and in each manager its scope names.
 *
 * @since 0.1.0
 * @category queries
 */
export const belongsTo = (agent: RegisteredAgent, manager: string): boolean =>
  manager === "DEFAULT" || agent.scope.includes(manager)
