/**
 * Whose a data call is. BRO takes a data call for the agent its metadata
 * names; **ours** takes it only from that agent, as the agent's control
 * stream shows it: under mutual TLS, a client certificate naming the same
 * subject as the one the control stream came with (so that an agent whose
 * certificate was rotated, and whose data calls now come on a new channel,
 * is still itself); otherwise, the control stream's own HTTP/2 connection.
 * Agents that make every call on one channel (ours, the reference
 * libraries) pass either way; a client that merely knows an agent's id and
 * backup name does not.
 *
 * Under plaintext, and under TLS without a client certificate, nothing but
 * the connection says who a client is: an agent whose data calls come on
 * another connection than its control stream is refused.
 *
 * @since 0.1.0
 */
import type { AgentConnection } from "../AgentRegistry.js"
import type { CallPeer } from "./Peer.js"

/**
 * What a client certificate names: its subject and subject alternative
 * names, not its key, serial or issuer, which a rotation changes. Undefined
 * without a verified client certificate, or for one that names nothing.
 *
 * @since 0.1.0
 * @category identity
 */
export const certificateIdentity = (peer: CallPeer): string | undefined => {
  const certificate = peer.authContext.sslPeerCertificate
  if (certificate === undefined) return undefined
  const subject = Object.entries(certificate.subject ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const alternativeNames = certificate.subjectaltname ?? ""
  if (subject.length === 0 && alternativeNames === "") return undefined
  return JSON.stringify({ subject, alternativeNames })
}

// grpc-js says `unknown` for a call whose connection is gone: that is no one's.
const connectionOf = (peer: CallPeer): string | undefined => (peer.address === "unknown" ? undefined : peer.address)

/**
 * How a call differs from the control stream of the agent it names: under
 * mutual TLS by its certificate's names, otherwise by its connection;
 * undefined when it is the agent's.
 *
 * @since 0.1.0
 * @category identity
 */
export const mismatch = (control: CallPeer, call: CallPeer): "certificate" | "connection" | undefined => {
  const certificate = certificateIdentity(control)
  if (certificate !== undefined) return certificateIdentity(call) === certificate ? undefined : "certificate"
  const connection = connectionOf(control)
  return connection !== undefined && connectionOf(call) === connection ? undefined : "connection"
}

/**
 * Why a data call is not the agent's own (the agent's control stream came
 * from `agent.peer`, the call from `call`), or undefined when it is.
 *
 * @since 0.1.0
 * @category identity
 */
export const notTheAgent = (agent: AgentConnection, call: CallPeer): string | undefined => {
  const agentId = agent.info.agentId
  switch (mismatch(agent.peer, call)) {
    case undefined:
      return undefined
    case "certificate":
      return `The call's client certificate does not name what agent ${agentId} registered with`
    case "connection":
      return `The call does not come on the connection of agent ${agentId}'s control stream`
  }
}

/**
 * Why a data call that names `agentId` is not from that participant of the
 * running job, or undefined: when it is, and when `agentId` takes no part
 * (the handler's own checks refuse that call, and fail no one's stage).
 *
 * @since 0.1.0
 * @category identity
 */
export const strangerProblem = (
  participants: ReadonlyArray<AgentConnection> | undefined,
  agentId: string,
  call: CallPeer
): string | undefined => {
  const agent = participants?.find((each) => each.info.agentId === agentId)
  return agent === undefined ? undefined : notTheAgent(agent, call)
}
