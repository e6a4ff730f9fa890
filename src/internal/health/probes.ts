/**
 * What the health server answers: liveness and readiness read off the
 * agent's status, as a probe and a person read them.
 *
 * @since 0.1.0
 */
import type { AgentStatus } from "../agent/status.js"

/**
 * A probe's answer: its HTTP status and a JSON body.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProbeAnswer {
  readonly status: 200 | 503
  readonly body: {
    readonly agentId: string
    readonly connection: AgentStatus["connection"]["_tag"]
    /** Why not, when the answer is 503. */
    readonly reason?: string
  }
}

/**
 * Alive unless the agent stopped for good (the orchestrator rejected it, or
 * its reconnection schedule gave up): a stopped agent never comes back by
 * itself, so a restart is the cure.
 *
 * @since 0.1.0
 * @category probes
 */
export const liveness = (status: AgentStatus): ProbeAnswer => {
  const connection = status.connection
  return connection._tag === "Stopped"
    ? { status: 503, body: { agentId: status.agentId, connection: connection._tag, reason: connection.error.message } }
    : { status: 200, body: { agentId: status.agentId, connection: connection._tag } }
}

/**
 * Ready while registered with the orchestrator; not while connecting (with
 * the last failed attempt as the reason), waiting to reconnect, or stopped.
 *
 * @since 0.1.0
 * @category probes
 */
export const readiness = (status: AgentStatus): ProbeAnswer => {
  const connection = status.connection
  const answer = (reason: string): ProbeAnswer => ({
    status: 503,
    body: { agentId: status.agentId, connection: connection._tag, reason }
  })
  switch (connection._tag) {
    case "Registered":
      return { status: 200, body: { agentId: status.agentId, connection: connection._tag } }
    case "Connecting":
      return answer(
        connection.lastFailure === undefined
          ? "Registering with the orchestrator"
          : `Cannot reach the orchestrator at ${connection.lastFailure.target}: ${connection.lastFailure.cause}`
      )
    case "WaitingToReconnect":
      return answer(`Waiting to register again: ${connection.lastEnd.message}`)
    case "Stopped":
      return answer(connection.error.message)
  }
}
