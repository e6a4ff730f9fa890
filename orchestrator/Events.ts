/**
 * What happens in one development orchestrator, told to whoever listens:
 * the `OrchestratorEvents` service that the registry, the job runner and the
 * gRPC handlers publish to, and `formatEvent`, one readable line per event
 * (as `bro-agent orchestrator` prints them).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, PubSub, Stream } from "effect"
import type { OrchestratorEvent } from "./Model.js"
import { info, quote } from "./Quote.js"

/**
 * The events of one orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class OrchestratorEvents extends Context.Tag("bro-agent/orchestrator/OrchestratorEvents")<
  OrchestratorEvents,
  {
    readonly publish: (event: OrchestratorEvent) => Effect.Effect<void>
    /** Every event published from the moment of subscription. */
    readonly subscribe: Stream.Stream<OrchestratorEvent>
  }
>() {}

/**
 * Events for one orchestrator. Nothing is kept for nobody: an event
 * published while no one listens is gone.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<OrchestratorEvents> = Layer.effect(
  OrchestratorEvents,
  Effect.map(PubSub.unbounded<OrchestratorEvent>(), (pubsub) => ({
    publish: (event) => Effect.asVoid(PubSub.publish(pubsub, event)),
    subscribe: Stream.fromPubSub(pubsub)
  }))
)

const agentsText = (agents: ReadonlyArray<string>) => agents.length === 0 ? "no agent" : agents.join(", ")

/**
 * One readable line for an orchestrator event, as `bro-agent orchestrator`
 * logs it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatEvent = (event: OrchestratorEvent): string => {
  switch (event._tag) {
    case "AgentRegistered":
      return `agent ${event.agentId} registered (API version ${event.apiVersion}, scope ${
        event.scope.length === 0 ? "DEFAULT" : event.scope.join(", ")
      })`
    case "AgentRejected":
      return `agent ${quote(event.agentId)} rejected (${event.status}): ${event.reasons.join("; ")}`
    case "AgentDisconnected":
      return `agent ${event.agentId} disconnected`
    case "ActionStarted":
      return `action ${event.action.id} started: ${event.action.name} of backup "${event.action.backupName}" in ${event.action.backupManagerId}`
    case "StageStarted":
      return `action ${event.actionId}: stage ${event.stage} started for ${agentsText(event.agents)}`
    case "StageCompleted":
      return `action ${event.actionId}: stage ${event.stage} ${
        event.success ? "completed" : "failed"
      } by agent ${event.agentId}${event.message.length === 0 ? "" : `: ${info(event.message)}`}`
    case "FragmentStored":
      return `action ${event.actionId}: fragment ${event.fragmentId} of agent ${event.agentId} stored (${event.size} bytes)`
    case "FragmentRefused":
      return `fragment ${quote(event.fragmentId)} of agent ${quote(event.agentId)} refused: ${info(event.reason)}`
    case "ActionFinished": {
      const details = [...new Set([event.action.progressInfo, event.action.resultInfo])].filter(
        (text): text is string => text !== undefined && text.length > 0
      )
      return `action ${event.action.id} finished: ${event.action.name} of backup "${event.action.backupName}" ${event.action.result}${
        details.length === 0 ? "" : ` (${details.join("; ")})`
      }`
    }
  }
}
