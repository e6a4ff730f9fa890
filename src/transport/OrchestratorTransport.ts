/**
 * How an agent reaches an orchestrator: one service, two Layers. The gRPC
 * Layer (`GrpcTransport`) speaks to a real orchestrator; the in-memory Layer
 * (`InMemoryTransport`) lets a test play the orchestrator.
 *
 * Everything here is in the domain's messages; only the Layers know about
 * grpc-js and protobuf.
 *
 * @since 0.1.0
 */
import type { Effect, Scope, Stream } from "effect"
import { Context, Data, Duration } from "effect"
import type { AgentMessage, BackupMessage, FragmentRequest, OrchestratorMessage, RestoreMessage } from "../core/Message.js"
import type { StatusCode } from "../core/Status.js"

/**
 * The control stream ended. `status` is `OK` when the orchestrator completed
 * it normally; anything else carries the orchestrator's (or the
 * connection's) status and description.
 *
 * @since 0.1.0
 * @category errors
 */
export class ControlStreamEnded extends Data.TaggedError("ControlStreamEnded")<{
  readonly status: StatusCode
  readonly details: string
}> {
  override get message(): string {
    return this.status === "OK"
      ? "The orchestrator closed the control stream"
      : `The control stream ended with ${this.status}${this.details === "" ? "" : `: ${this.details}`}`
  }
}

/**
 * A data-channel call (a fragment's upload or download) failed: the
 * orchestrator refused it, or the connection broke.
 *
 * @since 0.1.0
 * @category errors
 */
export class DataChannelError extends Data.TaggedError("DataChannelError")<{
  readonly status: StatusCode
  readonly details: string
}> {
  override get message(): string {
    return `The data channel call ended with ${this.status}${this.details === "" ? "" : `: ${this.details}`}`
  }
}

/**
 * The data channel made no progress for the configured time: the
 * orchestrator stopped reading, or the network stalled.
 *
 * @since 0.1.0
 * @category errors
 */
export class DataChannelTimeout extends Data.TaggedError("DataChannelTimeout")<{
  readonly waitingFor: string
  readonly after: Duration.Duration
}> {
  override get message(): string {
    return `No progress on the data channel for ${Duration.format(this.after)} while waiting for ${this.waitingFor}`
  }
}

/**
 * How a data-channel call (a fragment's upload or download) waits for the
 * orchestrator.
 *
 * @since 0.1.0
 * @category models
 */
export interface DataCallOptions {
  /**
   * How long the call may wait for the orchestrator, with no progress,
   * before it fails with {@link DataChannelTimeout}: a download's pull for
   * the next message when none is buffered, an upload's write for room to
   * send (flow control). No limit when absent. The timer runs only while the
   * call waits, so that a fast transfer pays nothing for it.
   */
  readonly idleTimeout?: Duration.Duration | undefined
}

/**
 * One open control stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface ControlStream {
  /**
   * What the orchestrator sends, in order, for one consumer. Fails with
   * `ControlStreamEnded` (status `OK` included) when the stream ends, and
   * again each time it is pulled after that.
   */
  readonly messages: Stream.Stream<OrchestratorMessage, ControlStreamEnded>
  /** Writes a message; writing to a stream that has ended does nothing. */
  readonly send: (message: AgentMessage) => Effect.Effect<void>
}

/**
 * One open fragment upload (a `backup` client stream).
 *
 * Closing its scope before `finish` succeeded **cancels** the call, never
 * half-closes it: the orchestrator must fail the half-sent fragment instead
 * of keeping it. (The gRPC Layer also writes a message the orchestrator
 * aborts on just before cancelling, because Node's HTTP/2 ends an idle
 * stream before resetting it.)
 *
 * @since 0.1.0
 * @category models
 */
export interface FragmentUpload {
  /**
   * Writes one message; completes once the transport can take the next (flow
   * control). The transport is done with the message's bytes when the Effect
   * completes (it encoded or copied them), so the caller may reuse a chunk's
   * buffer for the next one.
   */
  readonly write: (message: BackupMessage) => Effect.Effect<void, DataChannelError | DataChannelTimeout>
  /** Half-closes the call and awaits the orchestrator's final status: anything but OK fails. */
  readonly finish: Effect.Effect<void, DataChannelError>
}

/**
 * How the agent's channel is secured, as it announces it in its features.
 *
 * @since 0.1.0
 * @category models
 */
export type SecurityMode = "PLAINTEXT" | "TLS" | "MTLS"

/**
 * @since 0.1.0
 * @category tags
 */
export class OrchestratorTransport extends Context.Tag("bro-agent/OrchestratorTransport")<
  OrchestratorTransport,
  {
    /** How this transport secures its channel. */
    readonly security: SecurityMode
    /**
     * Opens a new control stream. Its scope owns the call: closing the
     * scope ends the call.
     */
    readonly openControl: Effect.Effect<ControlStream, never, Scope.Scope>
    /** Opens a fragment upload; see {@link FragmentUpload}. */
    readonly openUpload: (options?: DataCallOptions) => Effect.Effect<FragmentUpload, DataChannelError, Scope.Scope>
    /**
     * Opens a fragment download. Pulling the stream drives flow control;
     * interrupting it cancels the call.
     */
    readonly openDownload: (
      request: FragmentRequest,
      options?: DataCallOptions
    ) => Stream.Stream<RestoreMessage, DataChannelError | DataChannelTimeout>
  }
>() {}
