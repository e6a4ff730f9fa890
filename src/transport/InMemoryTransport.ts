/**
 * An in-memory `OrchestratorTransport` and the handle a test uses to play
 * the orchestrator: take what the agent sends, answer, end streams with any
 * status, and watch the data channel. No network, no protobuf; with
 * `TestClock` every timing rule of the agent can be tested in microseconds.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Context, Deferred, Effect, Layer, Queue, Ref, Stream } from "effect"
import type { AgentMessage, BackupMessage, FragmentRequest, OrchestratorMessage, RestoreMessage } from "../core/Message.js"
import { FilePart } from "../core/Message.js"
import type { StatusCode } from "../core/Status.js"
import type { ControlStream, FragmentUpload, SecurityMode } from "./OrchestratorTransport.js"
import { ControlStreamEnded, DataChannelError, DataChannelTimeout, OrchestratorTransport } from "./OrchestratorTransport.js"

/**
 * One control stream, as the orchestrator sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface InMemoryControl {
  /** The next message the agent wrote (waits for it). */
  readonly receive: Effect.Effect<AgentMessage>
  /** Takes the messages the agent wrote that nobody has received yet, without waiting. */
  readonly takePending: Effect.Effect<ReadonlyArray<AgentMessage>>
  /** Writes a message to the agent. */
  readonly send: (message: OrchestratorMessage) => Effect.Effect<void>
  /** Ends the stream with a status (OK by default), as an orchestrator does. */
  readonly end: (status?: StatusCode, details?: string) => Effect.Effect<void>
  /** Waits until the stream is closed, by either side. */
  readonly closed: Effect.Effect<void>
}

/**
 * One fragment upload, as the orchestrator sees it once the agent is done
 * with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface InMemoryUpload {
  readonly messages: ReadonlyArray<BackupMessage>
  /** `finished`: the agent half-closed the call; `cancelled`: it cancelled it. */
  readonly outcome: "finished" | "cancelled"
}

/**
 * The orchestrator's side of the in-memory transport.
 *
 * @since 0.1.0
 * @category tags
 */
export class InMemoryOrchestrator extends Context.Tag("bro-agent/InMemoryOrchestrator")<
  InMemoryOrchestrator,
  {
    /** The next control stream the agent opens (waits for it). */
    readonly nextControl: Effect.Effect<InMemoryControl>
    /** How many control streams the agent has opened so far. */
    readonly controlsOpened: Effect.Effect<number>
    /** The next upload the agent finishes or cancels (waits for it). */
    readonly nextUpload: Effect.Effect<InMemoryUpload>
    /** How an upload is answered when the agent half-closes it (OK unless set). */
    readonly answerUploads: (
      answer: (messages: ReadonlyArray<BackupMessage>) => Effect.Effect<void, DataChannelError>
    ) => Effect.Effect<void>
    /** What a download request streams (NOT_FOUND unless set). */
    readonly serveDownloads: (
      serve: (request: FragmentRequest) => Stream.Stream<RestoreMessage, DataChannelError>
    ) => Effect.Effect<void>
  }
>() {}

type ToAgent =
  | { readonly _tag: "Message"; readonly message: OrchestratorMessage }
  | { readonly _tag: "End"; readonly end: ControlStreamEnded }

const openControl = (controls: Queue.Queue<InMemoryControl>): Effect.Effect<ControlStream, never, Scope.Scope> =>
  Effect.gen(function*() {
    const toAgent = yield* Queue.unbounded<ToAgent>()
    const toOrchestrator = yield* Queue.unbounded<AgentMessage>()
    const closed = yield* Deferred.make<void>()
    const isOpen = Effect.map(Deferred.isDone(closed), (done) => !done)
    yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))

    yield* controls.offer({
      receive: Queue.take(toOrchestrator),
      takePending: Queue.takeAll(toOrchestrator).pipe(Effect.map((chunk) => [...chunk])),
      send: (message) =>
        Effect.whenEffect(toAgent.offer({ _tag: "Message", message }), isOpen).pipe(Effect.asVoid),
      end: (status = "OK", details = "") =>
        Effect.whenEffect(
          toAgent.offer({ _tag: "End", end: new ControlStreamEnded({ status, details }) }).pipe(
            Effect.zipRight(Deferred.succeed(closed, undefined))
          ),
          isOpen
        ).pipe(Effect.asVoid),
      closed: Deferred.await(closed)
    })

    return {
      messages: Stream.fromQueue(toAgent).pipe(
        Stream.mapEffect((item) => (item._tag === "End" ? Effect.fail(item.end) : Effect.succeed(item.message)))
      ),
      send: (message) => Effect.whenEffect(toOrchestrator.offer(message), isOpen).pipe(Effect.asVoid)
    }
  })

// Keeps the kind of array it is given (a Buffer stays a Buffer).
const copyOf = (bytes: Uint8Array): Uint8Array => Buffer.isBuffer(bytes) ? Buffer.from(bytes) : bytes.slice()

const notFound = () =>
  Stream.fail(new DataChannelError({ status: "NOT_FOUND", details: "No download is served by this in-memory orchestrator" }))

/**
 * The in-memory transport with its orchestrator handle.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: { readonly security?: SecurityMode } = {}
): Layer.Layer<OrchestratorTransport | InMemoryOrchestrator> =>
  Layer.effectContext(Effect.gen(function*() {
    const controls = yield* Queue.unbounded<InMemoryControl>()
    const opened = yield* Ref.make(0)
    const uploads = yield* Queue.unbounded<InMemoryUpload>()
    const uploadAnswer = yield* Ref.make<(messages: ReadonlyArray<BackupMessage>) => Effect.Effect<void, DataChannelError>>(
      () => Effect.void
    )
    const downloads = yield* Ref.make<(request: FragmentRequest) => Stream.Stream<RestoreMessage, DataChannelError>>(
      notFound
    )

    // Writes never wait here, so the idle timeout has nothing to time.
    const openUpload = (): Effect.Effect<FragmentUpload, DataChannelError, Scope.Scope> => Effect.gen(function*() {
      const messages: Array<BackupMessage> = []
      const finished = yield* Ref.make(false)
      yield* Effect.addFinalizer(() =>
        Effect.unlessEffect(uploads.offer({ messages, outcome: "cancelled" }), Ref.get(finished))
      )
      return {
        // A copy: the agent may reuse a chunk's buffer once the write completes.
        write: (message) =>
          Effect.sync(() =>
            void messages.push(
              message._tag === "Content" ? FilePart.Content({ file: message.file, content: copyOf(message.content) }) : message
            )
          ),
        finish: Effect.gen(function*() {
          yield* Ref.set(finished, true)
          yield* uploads.offer({ messages, outcome: "finished" })
          const answer = yield* Ref.get(uploadAnswer)
          yield* answer(messages)
        })
      }
    })

    const transport = OrchestratorTransport.of({
      security: options.security ?? "PLAINTEXT",
      openControl: Ref.update(opened, (count) => count + 1).pipe(Effect.zipRight(openControl(controls))),
      openUpload,
      openDownload: (request, options = {}) => {
        const { idleTimeout } = options
        const served = Stream.unwrap(Effect.map(Ref.get(downloads), (serve) => serve(request)))
        return idleTimeout === undefined ? served : Stream.timeoutFail(
          served,
          () => new DataChannelTimeout({ waitingFor: "the orchestrator's next chunk", after: idleTimeout }),
          idleTimeout
        )
      }
    })
    const orchestrator = InMemoryOrchestrator.of({
      nextControl: Queue.take(controls),
      controlsOpened: Ref.get(opened),
      nextUpload: Queue.take(uploads),
      answerUploads: (answer) => Ref.set(uploadAnswer, answer),
      serveDownloads: (serve) => Ref.set(downloads, serve)
    })
    return Context.make(OrchestratorTransport, transport).pipe(Context.add(InMemoryOrchestrator, orchestrator))
  }))
