/**
 * The control call: the bidirectional stream an agent registers on and
 * receives the orchestrator's orders from. It is made with wait-for-ready,
 * so that a call made while the orchestrator is down waits for it; while it
 * waits and gRPC reports the connection failed, the call finds out why
 * (`internal/diagnostics/reachability`) and tells the current
 * `ControlObserver`, again every {@link unreachableCheckInterval} while the
 * failure lasts.
 *
 * @since 0.1.0
 */
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import { Duration, Effect, FiberRef, Option, Queue, Stream } from "effect"
import type { AgentMessage, OrchestratorMessage } from "../../core/Message.js"
import type { ControlStream } from "../../transport/OrchestratorTransport.js"
import { ControlStreamEnded } from "../../transport/OrchestratorTransport.js"
import { currentControlObserver } from "../diagnostics/controlObserver.js"
import * as Reachability from "../diagnostics/reachability.js"
import * as Wire from "../Wire.js"
import type { CurrentClient } from "./channel.js"
import { ignoreErrorEvent, statusOf } from "./channel.js"

type ControlItem =
  | { readonly _tag: "Message"; readonly message: OrchestratorMessage }
  | { readonly _tag: "Ended"; readonly error: ControlStreamEnded }

/**
 * How often a control call still waiting for a connection that gRPC reports
 * failed checks the orchestrator's address again.
 *
 * @since 0.1.0
 * @category constants
 */
export const unreachableCheckInterval: Duration.Duration = Duration.seconds(5)

interface CallState {
  status: grpc.StatusObject | undefined
  drained: boolean
  ended: boolean
  /**
   * The channel was ready while the call was on: its messages are written
   * to the connection. (grpc-js's write callback says nothing of it: its
   * retry buffer takes a message at once, with or without a connection.)
   */
  opened: boolean
  /** Told `true` when the call opens, `false` if it ends first. */
  readonly pending: Set<(opened: boolean) => void>
}

// Resolves once the channel is in TRANSIENT_FAILURE (now or later), unless
// the call opened or ended first (then false).
const awaitFailure = (channel: grpc.ChannelInterface, state: CallState) =>
  Effect.async<boolean>((resume) => {
    let done = false
    const check = () => {
      if (done) return
      if (state.opened || state.ended) {
        done = true
        return resume(Effect.succeed(false))
      }
      const now = channel.getConnectivityState(false)
      if (now === grpc.connectivityState.TRANSIENT_FAILURE) {
        done = true
        return resume(Effect.succeed(true))
      }
      if (now === grpc.connectivityState.SHUTDOWN) {
        done = true
        return resume(Effect.succeed(false))
      }
      channel.watchConnectivityState(now, Infinity, check)
    }
    check()
    return Effect.sync(() => {
      done = true
    })
  })

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
        const current = client()
        const stream = current.makeBidiStreamRequest(
          Wire.protos().controlMethod.path,
          Wire.protos().codecs.AgentControl.encode,
          Wire.protos().codecs.OrchestratorControl.decode,
          new grpc.Metadata({ waitForReady: true })
        )
        const state: CallState = { status: undefined, drained: false, ended: false, opened: false, pending: new Set() }
        // The status can arrive while received messages still wait in the
        // stream's buffer; the end goes into the queue after the last of them.
        const settle = () => {
          if (state.status === undefined || !state.drained) return
          queue.unsafeOffer({ _tag: "Ended", error: new ControlStreamEnded(statusOf(state.status)) })
        }
        stream.on("data", (wire: Wire.OrchestratorControl__Output) => {
          state.opened = true
          queue.unsafeOffer({ _tag: "Message", message: Wire.orchestratorFromWire(wire) })
        })
        stream.on("status", (status: grpc.StatusObject) => {
          if (state.status !== undefined) return
          state.status = status
          state.ended = true
          for (const resolve of state.pending) resolve(false)
          state.pending.clear()
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
        const channel = current.getChannel()
        const awaitReady = () => {
          if (state.ended || state.opened) return
          const now = channel.getConnectivityState(false)
          if (now === grpc.connectivityState.READY) {
            state.opened = true
            for (const resolve of state.pending) resolve(true)
            state.pending.clear()
          } else if (now !== grpc.connectivityState.SHUTDOWN) {
            channel.watchConnectivityState(now, Infinity, awaitReady)
          }
        }
        awaitReady()
        return { stream, state, channel }
      }),
      ({ state, stream }) =>
        Effect.sync(() => {
          if (state.ended) return
          state.ended = true
          for (const resolve of state.pending) resolve(false)
          state.pending.clear()
          stream.cancel()
        })
    )

    const observer = yield* FiberRef.get(currentControlObserver)
    const opened = Effect.async<boolean>((resume) => {
      if (call.state.opened || call.state.ended) return resume(Effect.succeed(call.state.opened))
      const resolve = (open: boolean) => resume(Effect.succeed(open))
      call.state.pending.add(resolve)
      return Effect.sync(() => {
        call.state.pending.delete(resolve)
      })
    })
    yield* Effect.forkScoped(Effect.interruptible(
      Effect.flatMap(opened, (open) => open ? observer.opened : Effect.void)
    ))
    const address = Reachability.parseTarget(call.channel.getTarget())
    if (address !== undefined) {
      const check = Effect.gen(function*() {
        while (yield* awaitFailure(call.channel, call.state)) {
          const failure = yield* Reachability.diagnose(address.host, address.port)
          if (call.state.opened || call.state.ended) return
          yield* observer.unreachable(failure)
          yield* Effect.sleep(unreachableCheckInterval)
        }
      })
      // Interruptible even when the call was opened in an uninterruptible region.
      yield* Effect.forkScoped(Effect.interruptible(check))
    }

    // The end is put back, so that the stream, pulled again, ends again.
    const messages: Stream.Stream<OrchestratorMessage, ControlStreamEnded> = Stream.repeatEffectOption(
      Effect.flatMap(Queue.take(queue), (item) =>
        item._tag === "Message"
          ? Effect.succeed(item.message)
          : Effect.zipRight(Queue.offer(queue, item), Effect.fail(Option.some(item.error))))
    )

    // Written by grpc-js once the call is open (with wait-for-ready, once
    // the connection is made); until then the observer hears it is held.
    const send = (message: AgentMessage): Effect.Effect<void> =>
      Effect.flatMap(FiberRef.get(currentControlObserver), (current) => {
        if (call.state.ended) return current.dropped(message)
        call.stream.write(Wire.agentToWire(message))
        return call.state.opened ? Effect.void : current.held(message)
      })

    return { messages, send }
  })
