/**
 * How the running agent ends when it ends by itself. The session fails with
 * these; `Agent` re-exports them.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { StatusCode } from "../../core/Status.js"
import type { ControlStreamEnded } from "../../transport/OrchestratorTransport.js"

/**
 * The orchestrator refused the agent for good: an invalid registration
 * (INVALID_ARGUMENT), missing credentials (UNAUTHENTICATED), or an agent id
 * that stayed in use by another stream (ALREADY_EXISTS) for as long as the
 * `whileIdInUse` schedule allowed. `reasons` holds the orchestrator's
 * description, line by line.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistrationRejected extends Data.TaggedError("RegistrationRejected")<{
  readonly agentId: string
  readonly status: StatusCode
  readonly reasons: ReadonlyArray<string>
}> {
  override get message(): string {
    const reasons = this.reasons.length === 0 ? "" : `: ${this.reasons.join("; ")}`
    return `The orchestrator rejected agent ${this.agentId} with ${this.status}${reasons}`
  }
}

/**
 * The `afterStreamLost` schedule gave up registering again.
 *
 * @since 0.1.0
 * @category errors
 */
export class OrchestratorUnreachable extends Data.TaggedError("OrchestratorUnreachable")<{
  readonly agentId: string
  readonly lastEnd: ControlStreamEnded
}> {
  override get message(): string {
    return `Agent ${this.agentId} stopped registering again: ${this.lastEnd.message}`
  }
}

/**
 * How the agent ends, when it ends by itself.
 *
 * @since 0.1.0
 * @category errors
 */
export type AgentError = RegistrationRejected | OrchestratorUnreachable
