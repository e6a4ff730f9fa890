/**
 * `ControlInterface.establishControlChannel`: one agent's control stream.
 * Its first valid registration registers the agent (BRO's rules and
 * answers); its stage-completes go to the job runner, each as the answer
 * to the last stage the runner asked on this stream (`StageProtocol.ts`);
 * its end frees the id. One fiber reads the stream's messages in order.
 *
 * @since 0.1.0
 */
import type * as grpc from "@grpc/grpc-js"
import { Context, Duration, Effect, Layer, Queue } from "effect"
import type { AgentMessage } from "../../src/core/Message.js"
import { OrchestratorMessage } from "../../src/core/Message.js"
import type { StatusCode } from "../../src/core/Status.js"
import * as Status from "../../src/core/Status.js"
import * as Wire from "../../src/internal/Wire.js"
import type { AgentConnection } from "../AgentRegistry.js"
import { acknowledgement, AgentRegistry, registrationProblems, scopeOf } from "../AgentRegistry.js"
import { OrchestratorEvents } from "../Events.js"
import { Faults, matching } from "../Faults.js"
import { JobRunner } from "../JobRunner.js"
import { OrchestratorEvent } from "../Model.js"
import * as Quote from "../Quote.js"
import type { StageQuestion } from "../StageProtocol.js"
import { peerOf } from "./Peer.js"

/**
 * A control call, as grpc-js hands it to the server.
 *
 * @since 0.1.0
 * @category models
 */
export type ControlCall = grpc.ServerDuplexStream<Wire.AgentControl__Output, Wire.OrchestratorControl>

/**
 * Handles control calls.
 *
 * @since 0.1.0
 * @category tags
 */
export class ControlHandler extends Context.Tag("bro-agent/orchestrator/ControlHandler")<
  ControlHandler,
  { readonly handle: (call: ControlCall) => Effect.Effect<void> }
>() {}

type ControlEvent = { readonly _tag: "Message"; readonly message: AgentMessage } | { readonly _tag: "Ended" }

const acknowledge = OrchestratorMessage.RegisterAcknowledge({
  message: acknowledgement.message,
  features: [...acknowledgement.features]
})

/**
 * The control handler of one orchestrator.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<ControlHandler, never, AgentRegistry | JobRunner | OrchestratorEvents | Faults> = Layer
  .effect(
  ControlHandler,
  Effect.gen(function*() {
    const registry = yield* AgentRegistry
    const runner = yield* JobRunner
    const events = yield* OrchestratorEvents
    const faults = yield* Faults

    const handle = (call: ControlCall) =>
      Effect.gen(function*() {
        const peer = peerOf(call)
        const inbox = yield* Queue.unbounded<ControlEvent>()
        let open = true
        yield* Effect.sync(() => {
          call.on("data", (wire: Wire.AgentControl__Output) =>
            inbox.unsafeOffer({ _tag: "Message", message: Wire.agentFromWire(wire) }))
          call.on("end", () => inbox.unsafeOffer({ _tag: "Ended" }))
          call.on("cancelled", () => inbox.unsafeOffer({ _tag: "Ended" }))
          call.on("error", () => inbox.unsafeOffer({ _tag: "Ended" }))
          if (call.cancelled) inbox.unsafeOffer({ _tag: "Ended" })
        })
        const send = (message: OrchestratorMessage) =>
          Effect.sync(() => {
            if (open) call.write(Wire.orchestratorToWire(message))
          })
        const close = (code: StatusCode, details: string) =>
          Effect.sync(() => {
            if (!open) return
            open = false
            // grpc-js turns an 'error' event carrying a code into the call's status.
            if (code === "OK") call.end()
            else call.emit("error", { code: Status.toNumber(code), details: Quote.details(details) })
          })
        // The last stage the runner asked on this stream: what its stage-completes answer.
        let asked: StageQuestion | undefined
        const ask = (question: StageQuestion, messages: ReadonlyArray<OrchestratorMessage>) =>
          Effect.gen(function*() {
            asked = question
            const agentId = agent?.info.agentId ?? ""
            const ending = yield* faults.take(matching("end-stream", agentId, { stage: question.stage }))
            if (ending !== undefined) {
              yield* Effect.logWarning(`Fault: ended the control stream of ${agentId} at stage ${question.stage}`)
              return yield* close(ending.status, ending.message ?? `Fault injected at stage ${question.stage}`)
            }
            const delay = yield* faults.take(matching("delay-stage", agentId, { stage: question.stage }))
            const sendAll = Effect.forEach(messages, send, { discard: true })
            if (delay === undefined) return yield* sendAll
            // Late for this agent only: the stage's other agents get theirs now.
            yield* Effect.forkDaemon(Effect.zipRight(Effect.sleep(Duration.seconds(delay.seconds)), sendAll))
          })
        let agent: AgentConnection | undefined

        for (;;) {
          const event = yield* Queue.take(inbox)
          if (event._tag === "Ended") {
            yield* close("OK", "")
            if (agent !== undefined) yield* registry.disconnect(agent)
            return
          }
          const message = event.message
          if (message._tag === "Register" && message.action === "REGISTER" && agent === undefined) {
            const problems = registrationProblems(message)
            if (problems.length > 0) {
              yield* close("INVALID_ARGUMENT", problems.map((problem) => `${problem}\n`).join(""))
              yield* events.publish(
                OrchestratorEvent.AgentRejected({ agentId: message.agentId, status: "INVALID_ARGUMENT", reasons: problems })
              )
              return
            }
            const refusal = yield* faults.take(matching("refuse-registration", message.agentId))
            if (refusal !== undefined) {
              yield* close(refusal.status, refusal.message)
              yield* events.publish(
                OrchestratorEvent.AgentRejected({ agentId: message.agentId, status: refusal.status, reasons: [refusal.message] })
              )
              return
            }
            const registered = yield* registry.register({
              info: {
                agentId: message.agentId,
                scope: scopeOf(message.scope),
                apiVersion: message.apiVersion,
                softwareVersion: message.softwareVersion,
                features: message.apiVersion === "4.0" ? message.features : [],
                backendType: message.apiVersion === "4.0" ? message.backendType : "BRO"
              },
              peer,
              ask
            }).pipe(Effect.either)
            if (registered._tag === "Left") {
              const reason = registered.left.message
              yield* close("ALREADY_EXISTS", reason)
              yield* events.publish(
                OrchestratorEvent.AgentRejected({ agentId: message.agentId, status: "ALREADY_EXISTS", reasons: [reason] })
              )
              return
            }
            agent = registered.right
            if (message.apiVersion === "4.0") yield* send(acknowledge)
          } else if (message._tag === "Register" && message.action === "REGISTER" && agent?.info.apiVersion === "4.0") {
            if (message.agentId === agent.info.agentId) {
              // A 4.0 agent that heard no acknowledgement sends its registration again.
              yield* send(acknowledge)
            } else {
              // The stream stays the original agent's: the other id is not registered, so not acknowledged.
              yield* Effect.logWarning(
                `Ignored a registration as ${message.agentId} on the control stream of agent ${agent.info.agentId}: a stream registers one agent`
              )
            }
          } else if (message._tag === "StageComplete" && agent !== undefined) {
            const hold = asked === undefined
              ? undefined
              : yield* faults.take(matching("hold-answer", agent.info.agentId, { stage: asked.stage }))
            if (hold !== undefined) yield* Effect.sleep(Duration.seconds(hold.seconds))
            yield* runner.answer({
              question: asked,
              agentId: agent.info.agentId,
              action: message.action,
              success: message.success,
              message: message.message
            })
          }
          // Anything else, and anything before a valid registration, is ignored, as BRO does.
        }
      }).pipe(Effect.annotateLogs({ call: "control" }))

    return { handle }
  })
)
