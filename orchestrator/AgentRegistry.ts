/**
 * The agents that are registered: BRO's registration rules (what is
 * refused, with which status and description) and the `AgentRegistry`
 * service, one record per open control stream with a valid registration.
 *
 * @since 0.1.0
 */
import { Context, Data, Deferred, Effect, Layer, Option, Ref } from "effect"
import type { AgentMessage, OrchestratorMessage } from "../src/core/Message.js"
import type { SoftwareVersionFields } from "../src/core/SoftwareVersion.js"
import { OrchestratorEvents } from "./Events.js"
import type { CallPeer } from "./grpc/Peer.js"
import type { RegisteredAgent } from "./Model.js"
import { OrchestratorEvent } from "./Model.js"
import { agentIdProblem, idProblem } from "./Names.js"
import { quote } from "./Quote.js"
import type { StageQuestion } from "./StageProtocol.js"

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
 * line of the INVALID_ARGUMENT description), with the orchestrator's rules
 * for ids (`Names.ts`) and each id quoted bounded (`Quote.ts`); empty when
 * it is valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const registrationProblems = (register: Extract<AgentMessage, { _tag: "Register" }>): ReadonlyArray<string> => {
  const problems: Array<string> = []
  if (!(supportedApiVersions as ReadonlyArray<string>).includes(register.apiVersion)) {
    problems.push("Invalid api version. Only [2.0, 3.0, 4.0] are supported.")
  }
  if (agentIdProblem(register.agentId) !== undefined) problems.push(`<${quote(register.agentId)}> is an invalid id`)
  if (requiredVersionFields.some((field) => register.softwareVersion[field].trim() === "")) {
    problems.push("Software version information is invalid.")
  }
  if (problems.length === 0) {
    for (const element of scopeOf(register.scope)) {
      if (idProblem(element) !== undefined) problems.push(`<${quote(element)}> is an invalid id`)
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
 * What a backup manager's id means: a manager (DEFAULT, or one a scope
 * names), or one of BRO's per-agent virtual managers `DEFAULT-<agentId>` and
 * `<scope>-<agentId>` (behaviour.md §1), whose actions involve that agent
 * alone and carry the parent manager's name as `backupType`. A name some
 * agent's scope holds is a manager, never a virtual one.
 *
 * @since 0.1.0
 * @category models
 */
export interface ManagerMeaning {
  /** The name agents are told as `backupType`: the manager's own, or a virtual one's parent. */
  readonly backupType: string
  /** The one agent of a virtual manager. */
  readonly agentId?: string
}

/**
 * The meaning of the manager `id` among `agents` (the registered ones, or a
 * backup's recorded ones).
 *
 * @since 0.1.0
 * @category queries
 */
export const managerMeaning = (
  id: string,
  agents: ReadonlyArray<{ readonly agentId: string; readonly scope: ReadonlyArray<string> }>
): ManagerMeaning => {
  if (id === "DEFAULT" || agents.some((agent) => agent.scope.includes(id))) return { backupType: id }
  for (const agent of agents) {
    for (const parent of ["DEFAULT", ...agent.scope]) {
      if (id === `${parent}-${agent.agentId}`) return { backupType: parent, agentId: agent.agentId }
    }
  }
  return { backupType: id }
}

/**
 * The virtual managers of one agent: `DEFAULT-<agentId>`, and
 * `<scope>-<agentId>` for each manager its scope names.
 *
 * @since 0.1.0
 * @category queries
 */
export const virtualManagersOf = (agent: RegisteredAgent): ReadonlyArray<{ readonly id: string; readonly backupType: string }> =>
  ["DEFAULT", ...agent.scope].map((parent) => ({ id: `${parent}-${agent.agentId}`, backupType: parent }))

/**
 * Whether an agent takes part in actions of a backup manager: every agent in
 * DEFAULT, and in each manager its scope names; in a virtual manager, its
 * agent alone (when it belongs to the parent).
 *
 * @since 0.1.0
 * @category queries
 */
export const belongsTo = (agent: RegisteredAgent, manager: string, meaning: ManagerMeaning = { backupType: manager }): boolean =>
  meaning.agentId === undefined
    ? manager === "DEFAULT" || agent.scope.includes(manager)
    : agent.agentId === meaning.agentId &&
      (meaning.backupType === "DEFAULT" || agent.scope.includes(meaning.backupType))

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
  /** The control call's peer: its HTTP/2 connection and TLS identity. */
  readonly peer: CallPeer
  /**
   * Asks the agent a stage: the stream takes it as the question its next
   * stage-completes answer, then writes the stage's messages.
   */
  readonly ask: (question: StageQuestion, messages: ReadonlyArray<OrchestratorMessage>) => Effect.Effect<void>
  /** Done when the stream ended, for any reason. */
  readonly disconnected: Deferred.Deferred<void>
}

/**
 * What a control stream registers with; the registry adds the order and the
 * disconnection signal.
 *
 * @since 0.1.0
 * @category models
 */
export type Registration = Omit<AgentConnection, "order" | "disconnected">

/**
 * The agent id is held by another open control stream (BRO's ALREADY_EXISTS).
 *
 * @since 0.1.0
 * @category errors
 */
export class AgentIdInUse extends Data.TaggedError("AgentIdInUse")<{ readonly agentId: string }> {
  override get message(): string {
    return `Failed to register agent because id ${this.agentId} is already used`
  }
}

/**
 * The registered agents of one orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class AgentRegistry extends Context.Tag("bro-agent/orchestrator/AgentRegistry")<
  AgentRegistry,
  {
    /**
     * Registers an agent, unless its id is held by another open stream;
     * publishes `AgentRegistered`.
     */
    readonly register: (registration: Registration) => Effect.Effect<AgentConnection, AgentIdInUse>
    /**
     * Marks the connection's stream ended and frees its id (unless another
     * stream holds it by now); publishes `AgentDisconnected`.
     */
    readonly disconnect: (connection: AgentConnection) => Effect.Effect<void>
    /** The registered agents, in registration order. */
    readonly agents: Effect.Effect<ReadonlyArray<AgentConnection>>
    /** The agent registered with this id, if one is. */
    readonly agent: (agentId: string) => Effect.Effect<Option.Option<AgentConnection>>
  }
>() {}

/**
 * An empty registry.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AgentRegistry, never, OrchestratorEvents> = Layer.effect(
  AgentRegistry,
  Effect.gen(function*() {
    const events = yield* OrchestratorEvents
    const agents = yield* Ref.make<ReadonlyMap<string, AgentConnection>>(new Map())
    const registrations = yield* Ref.make(0)
    const ordered = Effect.map(Ref.get(agents), (all) => [...all.values()].sort((a, b) => a.order - b.order))
    return {
      register: (registration) =>
        Effect.gen(function*() {
          const agentId = registration.info.agentId
          const connection: AgentConnection = {
            ...registration,
            order: yield* Ref.updateAndGet(registrations, (count) => count + 1),
            disconnected: yield* Deferred.make<void>()
          }
          // An id is held for as long as it is in the map: checked and taken in one step.
          const taken = yield* Ref.modify(agents, (all) =>
            all.has(agentId) ? [false, all] as const : [true, new Map(all).set(agentId, connection)] as const)
          if (!taken) return yield* new AgentIdInUse({ agentId })
          yield* events.publish(OrchestratorEvent.AgentRegistered({
            agentId,
            apiVersion: connection.info.apiVersion,
            scope: connection.info.scope
          }))
          return connection
        }),
      disconnect: (connection) =>
        Effect.gen(function*() {
          yield* Deferred.succeed(connection.disconnected, undefined)
          yield* Ref.update(agents, (all) => {
            if (all.get(connection.info.agentId) !== connection) return all
            const next = new Map(all)
            next.delete(connection.info.agentId)
            return next
          })
          yield* events.publish(OrchestratorEvent.AgentDisconnected({ agentId: connection.info.agentId }))
        }),
      agents: ordered,
      agent: (agentId) => Effect.map(Ref.get(agents), (all) => Option.fromNullable(all.get(agentId)))
    }
  })
)
