/**
 * The agent's status as its user reads it: the link with the orchestrator,
 * which the session sets, and the action, read off the state machine's
 * phase. `Agent` re-exports the types.
 *
 * @since 0.1.0
 */
import type { AgentFeature, ApiVersion, Stage } from "../../core/Action.js"
import type { ControlStreamEnded } from "../../transport/OrchestratorTransport.js"
import type * as Machine from "../AgentMachine.js"
import type { AgentError } from "./errors.js"

/**
 * The agent's link with the orchestrator.
 *
 * @since 0.1.0
 * @category models
 */
export type Connection =
  | {
    readonly _tag: "Connecting"
    readonly apiVersion: ApiVersion
    /** Set while the orchestrator cannot be reached: the last failed attempt. */
    readonly lastFailure?: ConnectionFailure
  }
  | {
    readonly _tag: "Registered"
    readonly apiVersion: ApiVersion
    /** API 4.0: the orchestrator acknowledged; older versions are never acknowledged. */
    readonly acknowledged: boolean
    /** The features the orchestrator said it supports, when it acknowledged. */
    readonly orchestratorFeatures: ReadonlyArray<AgentFeature>
  }
  | {
    readonly _tag: "WaitingToReconnect"
    /** How the last control stream ended. */
    readonly lastEnd: ControlStreamEnded
    /** When it ended. */
    readonly endedAt: Date
  }
  | { readonly _tag: "Stopped"; readonly error: AgentError }

/**
 * The last failed attempt to reach the orchestrator, and how many failed in
 * a row since the agent last reached it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionFailure {
  /** `host:port`, as configured. */
  readonly target: string
  /** Why, in words: `connect ECONNREFUSED 127.0.0.1:3999`, `getaddrinfo ENOTFOUND no-such-host.invalid`. */
  readonly cause: string
  /** The system's error code (`ECONNREFUSED`, `ENOTFOUND`, ...), when there is one. */
  readonly code: string | undefined
  /** When the last attempt failed. */
  readonly at: Date
  /** Failed attempts in a row. */
  readonly attempts: number
}

/**
 * What the agent is doing, for health checks and dashboards.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentStatus {
  readonly agentId: string
  readonly connection: Connection
  readonly action:
    | {
      readonly action: Machine.ActionInfo["action"]
      readonly backupName: string
      readonly backupType: string
      /** `FRAGMENT_LIST` while a restore's fragment list arrives; `CANCEL` while the cancel step runs. */
      readonly stage: Stage | "FRAGMENT_LIST" | "CANCEL"
      /** Whether the stage's step runs now (or has answered and waits for the next stage). */
      readonly running: boolean
    }
    | undefined
}

/**
 * The action part of the status in a phase of the state machine.
 *
 * @since 0.1.0
 * @category constructors
 */
export const actionStatus = (phase: Machine.Phase): AgentStatus["action"] => {
  switch (phase._tag) {
    case "Idle":
      return undefined
    case "Collecting":
      return { ...pick(phase.info), stage: "FRAGMENT_LIST", running: false }
    case "Running":
      return { ...pick(phase.info), stage: phase.stage, running: true }
    case "StageDone":
      return { ...pick(phase.info), stage: phase.stage, running: false }
    case "Cancelling":
      return { ...pick(phase.info), stage: "CANCEL", running: true }
  }
}

const pick = (info: Machine.ActionInfo) => ({
  action: info.action,
  backupName: info.backupName,
  backupType: info.backupType
})
