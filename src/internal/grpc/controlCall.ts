/**
 * The control call: the bidirectional stream an agent registers on and
 * receives the orchestrator's orders from. It is made with wait-for-ready,
 * so that a call made while the orchestrator is down waits for it.
 *
 * @since 0.1.0
 */
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import { Effect, Option, Queue, Stream } from "effect"
import type { AgentMessage, OrchestratorMessage } from "../../core/Message.js"
import type { ControlStream } from "../../transport/OrchestratorTransport.js"
import { ControlStreamEnded } from "../../transport/OrchestratorTransport.js"
import * as Wire from "../Wire.js"
import type { CurrentClient } from "./channel.js"
import { ignoreErrorEvent, statusOf } from "./channel.js"

type ControlItem =
  | { readonly _tag: "Message"; readonly message: OrchestratorMessage }
  | { readonly _tag: "Ended"; readonly error: ControlStreamEnded }

/**
 * Opens a control stream on the current client; closing the scope cancels
 * the call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (client: CurrentClient): Effect.Effect<ControlStream, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<ControlItem>()
    const call = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const stream = client().makeBidiStreamRequest(
          Wire.protos().controlMethod.path,
          Wire.protos().codecs.AgentControl.encode,
          Wire.protos().codecs.OrchestratorControl.decode,
          new grpc.Metadata({ waitForReady: true })
        )
        const state = { status: undefined as grpc.StatusObject | undefined, drained: false, ended: false }
        // The status can arrive while received messages still wait in the
        // stream's buffer; the end goes into the queue after the last of them.
        const settle = () => {
          if (state.status === undefined || !state.drained) return
          queue.unsafeOffer({ _tag: "Ended", error: new ControlStreamEnded(statusOf(state.status)) })
        }
        stream.on("data", (wire: Wire.OrchestratorControl__Output) => {
          queue.unsafeOffer({ _tag: "Message", message: Wire.orchestratorFromWire(wire) })
        })
        stream.on("status", (status: grpc.StatusObject) => {
          if (state.status !== undefined) return
          state.status = status
          state.ended = true
          settle()
        })
        const drained = () => {
          if (state.drained) return
          state.drained = true
          settle()
        }
        stream.on("end", drained)
        stream.on("close", drained)
        stream.on("error", ignoreErrorEvent)
        return { stream, state }
      }),
      ({ state, stream }) =>
        Effect.sync(() => {
          if (state.ended) return
          state.ended = true
          stream.cancel()
        })
    )

    // The end is put back, so that the stream, pulled again, ends again.
    const messages: Stream.Stream<OrchestratorMessage, ControlStreamEnded> = Stream.repeatEffectOption(
      Effect.flatMap(Queue.take(queue), (item) =>
        item._tag === "Message"
          ? Effect.succeed(item.message)
          : Effect.zipRight(Queue.offer(queue, item), Effect.fail(Option.some(item.error))))
    )

    const send = (message: AgentMessage): Effect.Effect<void> =>
      Effect.sync(() => {
        if (call.state.ended) return
        call.stream.write(Wire.agentToWire(message))
      })

    return { messages, send }
  })
