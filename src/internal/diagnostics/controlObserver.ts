/**
 * What a control call tells the agent about itself beyond its messages: the
 * failed attempts to reach the orchestrator while it waits for a connection,
 * the messages that wait for it, when it is made, and the messages it could
 * not write because the stream had ended. The
 * session sets the observer in a `FiberRef` around the call; a transport
 * that has nothing to say (the in-memory one) never calls it.
 *
 * @since 0.1.0
 */
import { Effect, FiberRef } from "effect"
import { globalValue } from "effect/GlobalValue"
import type { AgentMessage } from "../../core/Message.js"
import type { Unreachable } from "./reachability.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ControlObserver {
  /** An attempt to reach the orchestrator failed; the call goes on waiting. */
  readonly unreachable: (failure: Unreachable) => Effect.Effect<void>
  /**
   * `message` was taken but waits for the connection: it is written once
   * the call is open (see `opened`), unless the stream ends first.
   */
  readonly held: (message: AgentMessage) => Effect.Effect<void>
  /** The call is open: the messages held so far are written. */
  readonly opened: Effect.Effect<void>
  /** `message` was not written: the stream had ended. */
  readonly dropped: (message: AgentMessage) => Effect.Effect<void>
}

const ignore: ControlObserver = {
  unreachable: () => Effect.void,
  held: () => Effect.void,
  opened: Effect.void,
  dropped: () => Effect.void
}

/**
 * The observer of the control calls opened (and the messages sent) in the
 * current fiber.
 *
 * @since 0.1.0
 * @category fiber refs
 */
export const currentControlObserver: FiberRef.FiberRef<ControlObserver> = globalValue(
  Symbol.for("bro-agent/internal/diagnostics/currentControlObserver"),
  () => FiberRef.unsafeMake<ControlObserver>(ignore)
)
