/**
 * A scriptable gRPC server for tests: it speaks the orchestrator's two
 * services on 127.0.0.1 so that a test can play the orchestrator over real
 * gRPC. It is no orchestrator: it decides nothing, the test does.
 *
 * - Control: each `establishControlChannel` call becomes a
 *   `ServerConnection` handed out by `connections`.
 * - Uploads: each `backup` call collects its messages and, once the client
 *   half-closes, is answered as `answerUpload` says (OK by default).
 * - Downloads: each `restore` call streams what `serveDownload` says.
 *
 * A grpc-js client that cancels a call whose sending side is idle sends a
 * half-close (END_STREAM) just before the reset (RST_STREAM CANCEL): Node's
 * HTTP/2 `close()` ends the writable side first. A server that answers at
 * the half-close may therefore answer a call the client is cancelling. To
 * tell a cancelled upload from a completed one, let `answerUpload` say
 * `"hold"`: the call then ends only when the client cancels it.
 */
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import { Data, Deferred, Effect, Exit, Queue } from "effect"
import type { AgentMessage, BackupMessage, FragmentRequest, OrchestratorMessage, RestoreMessage } from "../../src/core/Message.js"
import * as Status from "../../src/core/Status.js"
import type { StatusCode } from "../../src/core/Status.js"
import * as Wire from "../../src/internal/Wire.js"

/** One control stream opened by a client. */
export interface ServerConnection {
  /** The next message the agent sent (waits for it). */
  readonly next: Effect.Effect<AgentMessage>
  readonly send: (message: OrchestratorMessage) => Effect.Effect<void>
  /** Ends the call with OK. */
  readonly complete: Effect.Effect<void>
  /** Ends the call with this status and description. */
  readonly fail: (status: StatusCode, details: string) => Effect.Effect<void>
  /**
   * Resolves when the call is over: the client cancelled it (or the
   * connection broke), or the server ended it. A client's half-close alone
   * does not end it.
   */
  readonly ended: Effect.Effect<void>
}

/** A final status the server gives a call. */
export interface CallAnswer {
  readonly status: StatusCode
  readonly details?: string
}

/** How an upload call ended. */
export type UploadOutcome = Data.TaggedEnum<{
  /** The client half-closed and the server answered with `answer`. */
  Completed: { readonly messages: ReadonlyArray<BackupMessage>; readonly answer: CallAnswer }
  /**
   * The call ended before the server answered: the client cancelled it (or
   * the connection broke). `messages` are those received before.
   */
  Cancelled: { readonly messages: ReadonlyArray<BackupMessage>; readonly halfClosed: boolean }
}>

/** Constructors of {@link UploadOutcome}. */
export const UploadOutcome = Data.taggedEnum<UploadOutcome>()

/** One upload call, from the moment the server sees it. */
export interface ServerUpload {
  /** Starts reading the call's messages when the server was made with `pauseUploads`. */
  readonly resume: Effect.Effect<void>
  readonly outcome: Effect.Effect<UploadOutcome>
}

/** What the server streams for a download request. */
export interface DownloadScript {
  readonly messages: ReadonlyArray<RestoreMessage>
  /**
   * How the call ends after the messages: with a status (OK when absent), or
   * `"hold"` to keep it open until the client cancels it or the test ends it
   * (`ServerDownload.end`).
   */
  readonly end?: CallAnswer | "hold"
}

/**
 * How a download call ended: `Ended` when the server ended it, `Cancelled`
 * when the call was over (the client cancelled it) while the server still
 * held it open.
 */
export type DownloadOutcome = "Ended" | "Cancelled"

/** One download call. */
export interface ServerDownload {
  readonly request: FragmentRequest
  readonly outcome: Effect.Effect<DownloadOutcome>
  /**
   * Ends a call that the script held open (`end: "hold"`) with this status,
   * after the client has read what it wanted; does nothing once the call
   * is over.
   */
  readonly end: (answer: CallAnswer) => Effect.Effect<void>
}

export interface TestServerOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number
  /** How an upload is answered once the client half-closes; `"hold"` never answers. OK by default. */
  readonly answerUpload?: (messages: ReadonlyArray<BackupMessage>) => CallAnswer | "hold"
  /**
   * Reads no upload message until the test calls `resume` on the upload, so
   * that flow control stops the client.
   */
  readonly pauseUploads?: boolean
  /** What a download streams; nothing, then OK, by default. */
  readonly serveDownload?: (request: FragmentRequest) => DownloadScript
}

export interface TestServer {
  readonly port: number
  /** The next control stream a client opened (waits for it). */
  readonly connections: Effect.Effect<ServerConnection>
  /** The next upload call a client opened (waits for it). */
  readonly uploads: Effect.Effect<ServerUpload>
  /** The next download call a client opened (waits for it). */
  readonly downloads: Effect.Effect<ServerDownload>
  /** Shuts the server down at once; the port is free again afterwards. */
  readonly stop: Effect.Effect<void>
}

export class TestServerBindFailed extends Data.TaggedError("TestServerBindFailed")<{
  readonly port: number
  readonly cause: Error
}> {}

const statusObject = (answer: CallAnswer) => ({ code: Status.toNumber(answer.status), details: answer.details ?? "" })

const ok: CallAnswer = { status: "OK" }

// grpc-js emits 'cancelled' on a server call once the call is over, whoever
// ended it: after a client's reset, and also after the server sent its status.
const control = (call: grpc.ServerDuplexStream<Wire.AgentControl__Output, Wire.OrchestratorControl>): ServerConnection => {
  const received = Effect.runSync(Queue.unbounded<AgentMessage>())
  const ended = Effect.runSync(Deferred.make<void>())
  call.on("data", (wire: Wire.AgentControl__Output) => {
    received.unsafeOffer(Wire.agentFromWire(wire))
  })
  call.on("cancelled", () => Deferred.unsafeDone(ended, Exit.void))
  return {
    next: Queue.take(received),
    send: (message) =>
      Effect.sync(() => {
        call.write(Wire.orchestratorToWire(message))
      }),
    complete: Effect.sync(() => {
      call.end()
    }),
    // grpc-js turns an 'error' event carrying a code into the call's status.
    fail: (status, details) =>
      Effect.sync(() => {
        call.emit("error", statusObject({ status, details }))
      }),
    ended: Deferred.await(ended)
  }
}

const upload = (
  call: grpc.ServerReadableStream<Wire.BackupData__Output, object>,
  respond: grpc.sendUnaryData<object>,
  answerUpload: (messages: ReadonlyArray<BackupMessage>) => CallAnswer | "hold",
  paused: boolean
): ServerUpload => {
  const messages: Array<BackupMessage> = []
  const outcome = Effect.runSync(Deferred.make<UploadOutcome>())
  let halfClosed = false
  let answered = false
  let reading = false
  // Until something listens to 'data', grpc-js reads nothing from the client.
  const read = () => {
    if (reading) return
    reading = true
    call.on("data", (wire: Wire.BackupData__Output) => {
      messages.push(Wire.backupFromWire(wire))
    })
    call.on("end", () => {
      halfClosed = true
      const answer = answerUpload([...messages])
      if (answer === "hold") return
      answered = true
      if (answer.status === "OK") respond(null, {})
      else respond(statusObject(answer))
      Deferred.unsafeDone(outcome, Exit.succeed(UploadOutcome.Completed({ messages: [...messages], answer })))
    })
  }
  call.on("cancelled", () => {
    if (answered) return
    Deferred.unsafeDone(outcome, Exit.succeed(UploadOutcome.Cancelled({ messages: [...messages], halfClosed })))
  })
  if (!paused) read()
  return { resume: Effect.sync(read), outcome: Deferred.await(outcome) }
}

const download = (
  call: grpc.ServerWritableStream<Wire.Metadata__Output, Wire.RestoreData>,
  serveDownload: (request: FragmentRequest) => DownloadScript
): ServerDownload => {
  const request = Wire.requestFromWire(call.request)
  const outcome = Effect.runSync(Deferred.make<DownloadOutcome>())
  let ended = false
  let over = false
  call.on("cancelled", () => {
    over = true
    Deferred.unsafeDone(outcome, Exit.succeed(ended ? "Ended" : "Cancelled"))
  })
  const endWith = (answer: CallAnswer) => {
    ended = true
    if (answer.status === "OK") call.end()
    else call.emit("error", statusObject(answer))
  }
  const script = serveDownload(request)
  for (const message of script.messages) call.write(Wire.restoreToWire(message))
  const end = script.end ?? ok
  if (end !== "hold") endWith(end)
  return {
    request,
    outcome: Deferred.await(outcome),
    end: (answer) =>
      Effect.sync(() => {
        if (!ended && !over) endWith(answer)
      })
  }
}

const bind = (server: grpc.Server, port: number): Effect.Effect<number, TestServerBindFailed> =>
  Effect.async((resume) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
      resume(error === null ? Effect.succeed(boundPort) : Effect.fail(new TestServerBindFailed({ port, cause: error })))
    })
  })

/** Starts a server on 127.0.0.1; it shuts down with the scope. */
export const make = (options: TestServerOptions = {}): Effect.Effect<TestServer, TestServerBindFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const connections = yield* Queue.unbounded<ServerConnection>()
    const uploads = yield* Queue.unbounded<ServerUpload>()
    const downloads = yield* Queue.unbounded<ServerDownload>()
    const answerUpload = options.answerUpload ?? (() => ok)
    const serveDownload = options.serveDownload ?? (() => ({ messages: [] }))

    const server = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const server = new grpc.Server()
        server.addService(Wire.protos().controlService, {
          establishControlChannel: (call: grpc.ServerDuplexStream<Wire.AgentControl__Output, Wire.OrchestratorControl>) => {
            connections.unsafeOffer(control(call))
          }
        })
        server.addService(Wire.protos().dataService, {
          backup: (call: grpc.ServerReadableStream<Wire.BackupData__Output, object>, respond: grpc.sendUnaryData<object>) => {
            uploads.unsafeOffer(upload(call, respond, answerUpload, options.pauseUploads ?? false))
          },
          restore: (call: grpc.ServerWritableStream<Wire.Metadata__Output, Wire.RestoreData>) => {
            downloads.unsafeOffer(download(call, serveDownload))
          }
        })
        return server
      }),
      (server) => Effect.sync(() => server.forceShutdown())
    )
    const port = yield* bind(server, options.port ?? 0)

    return {
      port,
      connections: Queue.take(connections),
      uploads: Queue.take(uploads),
      downloads: Queue.take(downloads),
      stop: Effect.sync(() => server.forceShutdown())
    }
  })

/** A port on 127.0.0.1 with nothing listening on it (free when this returns). */
export const freePort: Effect.Effect<number, TestServerBindFailed> = Effect.scoped(
  Effect.map(make(), (server) => server.port)
)
