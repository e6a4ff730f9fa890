/**
 * The gRPC Layer of `OrchestratorTransport`: the agent's one channel to a
 * real orchestrator, over grpc-js.
 *
 * One `grpc.Client` (one channel) serves every call: the control stream
 * (`establishControlChannel`, with wait-for-ready, so a call made while the
 * orchestrator is down waits for it) and the data calls (`backup`,
 * `restore`, which fail fast with `UNAVAILABLE` when the connection is
 * down). Each call belongs to a `Scope`; closing the scope cancels the call.
 *
 * The channel is plaintext, TLS (the orchestrator's certificate checked
 * against a CA file, for an expected server name) or mutual TLS (the agent
 * also shows a client certificate); `security` says which, and the agent
 * announces it in its features. The TLS files are checked for changes while
 * the transport runs (every 5 seconds by default): after a change, the next
 * call (the next registration, upload or download) opens a new channel with
 * the new files, while calls already open finish on the old one.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import {
  Chunk,
  Config,
  ConfigError,
  Data,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Option,
  Queue,
  Schema,
  Stream
} from "effect"
import type { AgentMessage, BackupMessage, FragmentRequest, OrchestratorMessage, RestoreMessage } from "../core/Message.js"
import type { FieldProblem } from "../core/Registration.js"
import { fieldProblems } from "../internal/Settings.js"
import * as Status from "../core/Status.js"
import type { ControlStream, DataCallOptions, FragmentUpload } from "./OrchestratorTransport.js"
import { ControlStreamEnded, DataChannelError, DataChannelTimeout, OrchestratorTransport } from "./OrchestratorTransport.js"
import * as Tls from "../internal/Tls.js"
import * as Wire from "../internal/Wire.js"

export {
  /**
   * A TLS file cannot be used; see `Tls.InvalidTlsFile`.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidTlsFile
} from "../internal/Tls.js"

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * How often the channel pings the orchestrator to notice a connection that
 * died silently.
 *
 * BRO refuses pings more frequent than one per 100 s and closes such
 * connections (`GOAWAY too_many_pings`): against BRO, never set `interval`
 * under 100 seconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeepaliveOptions {
  /** Time between two pings; 120 seconds by default. Never under 100 seconds against BRO. */
  readonly interval?: Duration.DurationInput | undefined
  /** How long to wait for a ping's answer before closing the connection; 10 seconds by default. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Whether to ping while no call is open; `true` by default, as the reference agent does. */
  readonly withoutCalls?: boolean | undefined
}

/**
 * How the channel is secured with TLS. Files are PEM; a Kubernetes secret
 * mounts them as `ca.crt`, `tls.crt` and `tls.key`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  /** The certificate authorities that sign the orchestrator's certificate (one or more certificates). */
  readonly caFile: string
  /**
   * The *certificate authority name*: the name the orchestrator's
   * certificate must carry, used as the TLS server name and as the
   * channel's authority, as the reference agents do (for BRO usually its
   * service name, e.g. `eric-ctrl-bro`). The host by default.
   */
  readonly serverName?: string | undefined
  /** The agent's certificate (chain, leaf first), for mutual TLS; give `clientKeyFile` with it. */
  readonly clientCertificateFile?: string | undefined
  /** The private key of `clientCertificateFile`: PKCS#8 as the reference expects (PKCS#1 and SEC1 work too), unencrypted. */
  readonly clientKeyFile?: string | undefined
  /** How often the files are checked for a change; 5 seconds by default, as the reference does. */
  readonly checkInterval?: Duration.DurationInput | undefined
}

/**
 * Where the orchestrator is and how to talk to it.
 *
 * @since 0.1.0
 * @category models
 */
export interface GrpcTransportOptions {
  /** Host name or IP address of the orchestrator's gRPC endpoint. */
  readonly host: string
  /** Its port (BRO serves gRPC on 3000). */
  readonly port: number
  /**
   * The largest message the agent accepts, in bytes; 4 MiB by default. A 2.0
   * or 3.0 restore preparation carries the whole fragment list in one
   * message and needs more when the list is long.
   */
  readonly maxInboundMessageSize?: number | undefined
  /**
   * The HTTP/2 receive window, in bytes, of each call and of the connection:
   * how much the orchestrator may send before it waits for the agent to
   * read. 1 MiB by default, as grpc-java's (the Java agent's and BRO's);
   * HTTP/2's own 64 KiB would make a restore wait for a round trip every
   * 64 KiB.
   */
  readonly flowControlWindow?: number | undefined
  /** See {@link KeepaliveOptions}; every field has a default. */
  readonly keepalive?: KeepaliveOptions | undefined
  /** TLS, or mutual TLS when the client files are given; plaintext when absent. See {@link TlsOptions}. */
  readonly tls?: TlsOptions | undefined
}

/**
 * The default largest inbound message: 4 MiB, the gRPC default, and what BRO
 * accepts.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxInboundMessageSize: number = 4 * 1024 * 1024

/**
 * The default HTTP/2 receive window: 1 MiB, grpc-java's.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFlowControlWindow: number = 1024 * 1024

/**
 * The default keepalive: a ping every 120 s, 10 s to answer, also without
 * calls (the reference agent's settings).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultKeepalive: {
  readonly interval: Duration.Duration
  readonly timeout: Duration.Duration
  readonly withoutCalls: boolean
} = {
  interval: Duration.seconds(120),
  timeout: Duration.seconds(10),
  withoutCalls: true
}

// A variable set to an empty value (a Helm value left blank) counts as unset.
const optionalSetting = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((value) => value.trim() !== "")))

/**
 * The TLS options from the environment: TLS when `ORCHESTRATOR_TLS_CA_FILE`
 * is set, with `ORCHESTRATOR_TLS_SERVER_NAME` (the certificate authority
 * name; the host by default); mutual TLS when `AGENT_TLS_CERT_FILE` and
 * `AGENT_TLS_KEY_FILE` are set too; `AGENT_TLS_CHECK_INTERVAL_SECS` (default
 * 5) between two checks of the files. Plaintext when none is set; any of the
 * others without the CA file is an error.
 *
 * @since 0.1.0
 * @category configuration
 */
export const tlsConfig: Config.Config<TlsOptions | undefined> = Config.all({
  caFile: optionalSetting("ORCHESTRATOR_TLS_CA_FILE"),
  serverName: optionalSetting("ORCHESTRATOR_TLS_SERVER_NAME"),
  clientCertificateFile: optionalSetting("AGENT_TLS_CERT_FILE"),
  clientKeyFile: optionalSetting("AGENT_TLS_KEY_FILE"),
  checkInterval: Config.option(Config.integer("AGENT_TLS_CHECK_INTERVAL_SECS"))
}).pipe(
  Config.mapOrFail((settings): Either.Either<TlsOptions | undefined, ConfigError.ConfigError> => {
    if (Option.isSome(settings.caFile)) {
      return Either.right({
        caFile: settings.caFile.value,
        serverName: Option.getOrUndefined(settings.serverName),
        clientCertificateFile: Option.getOrUndefined(settings.clientCertificateFile),
        clientKeyFile: Option.getOrUndefined(settings.clientKeyFile),
        checkInterval: Option.getOrUndefined(Option.map(settings.checkInterval, Duration.seconds))
      })
    }
    const without = [
      Option.isSome(settings.serverName) ? "ORCHESTRATOR_TLS_SERVER_NAME" : undefined,
      Option.isSome(settings.clientCertificateFile) ? "AGENT_TLS_CERT_FILE" : undefined,
      Option.isSome(settings.clientKeyFile) ? "AGENT_TLS_KEY_FILE" : undefined
    ].filter((name) => name !== undefined)
    return without.length === 0
      ? Either.right(undefined)
      : Either.left(ConfigError.InvalidData(
        ["ORCHESTRATOR_TLS_CA_FILE"],
        `Expected ORCHESTRATOR_TLS_CA_FILE to be set, because ${without.join(" and ")} ${
          without.length === 1 ? "is" : "are"
        } set (TLS needs the orchestrator's certificate authority)`
      ))
  })
)

/**
 * The options from the environment: `ORCHESTRATOR_HOST` (default
 * `127.0.0.1`), `ORCHESTRATOR_PORT` (default 3000),
 * `AGENT_MAX_INBOUND_MESSAGE_SIZE` in bytes (default 4 MiB),
 * `AGENT_FLOW_CONTROL_WINDOW` in bytes (default 1 MiB), and TLS as
 * {@link tlsConfig} reads it.
 *
 * @since 0.1.0
 * @category configuration
 */
export const config: Config.Config<GrpcTransportOptions> = Config.all({
  host: Config.string("ORCHESTRATOR_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.integer("ORCHESTRATOR_PORT").pipe(Config.withDefault(3000)),
  maxInboundMessageSize: Config.integer("AGENT_MAX_INBOUND_MESSAGE_SIZE").pipe(
    Config.withDefault(defaultMaxInboundMessageSize)
  ),
  flowControlWindow: Config.integer("AGENT_FLOW_CONTROL_WINDOW").pipe(Config.withDefault(defaultFlowControlWindow)),
  tls: tlsConfig
})

/**
 * One thing wrong with the options: which field (a dotted path such as
 * `keepalive.interval`), and why.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportOptionProblem = FieldProblem

/**
 * The options cannot be used; `problems` lists every field that is wrong.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTransportOptions extends Data.TaggedError("InvalidTransportOptions")<{
  readonly problems: ReadonlyArray<TransportOptionProblem>
}> {
  override get message(): string {
    return `Invalid gRPC transport options: ${this.problems.map((problem) => `${problem.field} ${problem.reason}`).join("; ")}`
  }
}

const DurationSetting = Schema.declare(
  (input: unknown): input is Duration.DurationInput => Option.isSome(Duration.decodeUnknown(input)),
  { message: () => "must be a duration, such as \"120 seconds\" or a number of milliseconds" }
).pipe(
  Schema.filter((input) => Duration.greaterThan(Duration.decode(input), Duration.zero) || "must be longer than zero")
)

const NonEmpty = Schema.String.pipe(Schema.filter((text) => text.trim() !== "" || "must not be empty"))

const TlsSettings = Schema.Struct({
  caFile: NonEmpty,
  serverName: Schema.optional(NonEmpty),
  clientCertificateFile: Schema.optional(NonEmpty),
  clientKeyFile: Schema.optional(NonEmpty),
  checkInterval: Schema.optionalWith(DurationSetting, { default: () => Tls.defaultCheckInterval })
}).pipe(
  Schema.filter((tls) =>
    (tls.clientCertificateFile === undefined) === (tls.clientKeyFile === undefined) || {
      path: [tls.clientCertificateFile === undefined ? "clientCertificateFile" : "clientKeyFile"],
      message: "is missing: tls.clientCertificateFile and tls.clientKeyFile go together (mutual TLS needs both)"
    }
  )
)

const Settings = Schema.Struct({
  host: NonEmpty,
  port: Schema.Number.pipe(
    Schema.filter((port) =>
      (Number.isInteger(port) && port >= 0 && port <= 65535) || `must be an integer from 0 to 65535, not ${port}`
    )
  ),
  maxInboundMessageSize: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.filter((size) => (Number.isInteger(size) && size > 0) || `must be a positive number of bytes, not ${size}`)
    ),
    { default: () => defaultMaxInboundMessageSize }
  ),
  flowControlWindow: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.filter((size) =>
        (Number.isInteger(size) && size >= 65535 && size <= 2 ** 31 - 1) ||
        `must be a number of bytes from 65535 (HTTP/2's smallest window) to 2147483647, not ${size}`
      )
    ),
    { default: () => defaultFlowControlWindow }
  ),
  keepalive: Schema.optionalWith(
    Schema.Struct({
      interval: Schema.optionalWith(DurationSetting, { default: () => defaultKeepalive.interval }),
      timeout: Schema.optionalWith(DurationSetting, { default: () => defaultKeepalive.timeout }),
      withoutCalls: Schema.optionalWith(Schema.Boolean, { default: () => defaultKeepalive.withoutCalls })
    }),
    { default: () => defaultKeepalive }
  ),
  tls: Schema.optional(TlsSettings)
})

const validate = (options: GrpcTransportOptions): Effect.Effect<typeof Settings.Type, InvalidTransportOptions> =>
  Schema.decodeUnknown(Settings, { errors: "all" })(options).pipe(
    Effect.mapError((error) => new InvalidTransportOptions({ problems: fieldProblems(error, "options") }))
  )

// An IPv6 literal needs brackets in a gRPC target.
const target = (host: string, port: number): string =>
  host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`

const channelOptions = (settings: typeof Settings.Type): grpc.ChannelOptions => ({
  "grpc.max_receive_message_length": settings.maxInboundMessageSize,
  "grpc-node.flow_control_window": settings.flowControlWindow,
  "grpc.keepalive_time_ms": Duration.toMillis(Duration.decode(settings.keepalive.interval)),
  "grpc.keepalive_timeout_ms": Duration.toMillis(Duration.decode(settings.keepalive.timeout)),
  "grpc.keepalive_permit_without_calls": settings.keepalive.withoutCalls ? 1 : 0,
  // The certificate authority name is both the name the orchestrator's
  // certificate is checked against (and the TLS SNI) and the `:authority`,
  // as the reference's `overrideAuthority` does.
  ...(settings.tls?.serverName === undefined ? {} : {
    "grpc.ssl_target_name_override": settings.tls.serverName,
    "grpc.default_authority": settings.tls.serverName
  })
})

const tlsFilesOf = (tls: typeof TlsSettings.Type): Tls.TlsFiles => ({
  caFile: tls.caFile,
  identity: tls.clientCertificateFile !== undefined && tls.clientKeyFile !== undefined
    ? { certificateFile: tls.clientCertificateFile, keyFile: tls.clientKeyFile }
    : undefined
})

const credentialsOf = (material: Tls.TlsMaterial): grpc.ChannelCredentials =>
  grpc.credentials.createSsl(material.ca ?? null, material.identity?.key ?? null, material.identity?.certificate ?? null)

// ---------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------

// The paths come from the definitions; the encoders and decoders are those
// same definitions' serializers, typed (`Wire.protos().codecs`): they drop
// proto3 defaults when writing and give every field when reading.

const statusOf = (status: grpc.StatusObject) => ({ status: Status.fromNumber(status.code), details: status.details })

// The client a call is made on, read when the call starts: with TLS it
// changes when the files do. Read and used in the same synchronous step, so
// that a call never starts on a client that was just replaced and closed.
type CurrentClient = () => grpc.Client

// grpc-js also emits 'error' for a status other than OK; the 'status' event
// (or the unary callback) carries the same facts. Without a listener the
// 'error' event would crash the process.
const ignoreErrorEvent = (): void => {}

// ---------------------------------------------------------------------------
// Control stream
// ---------------------------------------------------------------------------

type ControlItem =
  | { readonly _tag: "Message"; readonly message: OrchestratorMessage }
  | { readonly _tag: "Ended"; readonly error: ControlStreamEnded }

const openControl = (client: CurrentClient): Effect.Effect<ControlStream, never, Scope.Scope> =>
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

// ---------------------------------------------------------------------------
// Idle timeout
// ---------------------------------------------------------------------------

/** How long a data call may wait with no progress; see `DataCallOptions.idleTimeout`. */
interface IdleTimer {
  /** A wait began: `expire` is called if it lasts the idle timeout. */
  readonly begin: (expire: (after: Duration.Duration) => void) => void
  /** The wait ended. */
  readonly end: () => void
}

const noIdleTimer: IdleTimer = { begin: () => {}, end: () => {} }

// One fiber for the call's whole life, which sleeps until the current wait
// would expire: a fast transfer waits every few milliseconds, and a timer
// armed and cleared for each wait cost it CPU and memory.
const idleTimer = (after: Duration.Duration | undefined): Effect.Effect<IdleTimer, never, Scope.Scope> =>
  after === undefined ? Effect.succeed(noIdleTimer) : Effect.gen(function*() {
    const clock = yield* Effect.clock
    const limit = Duration.toMillis(after)
    const waiting = yield* Effect.makeLatch(false)
    let since = 0
    let expire: ((after: Duration.Duration) => void) | undefined
    // Interruptible even when the call was opened in an uninterruptible
    // region, or closing the call's scope would wait for it forever.
    yield* Effect.forkScoped(Effect.interruptible(Effect.forever(Effect.gen(function*() {
      yield* waiting.await
      const expiring = expire
      if (expiring === undefined) return waiting.unsafeClose()
      const left = since + limit - clock.unsafeCurrentTimeMillis()
      if (left > 0) return yield* Effect.sleep(Duration.millis(left))
      expire = undefined
      waiting.unsafeClose()
      expiring(after)
    }))))
    return {
      begin: (onExpiry) => {
        since = clock.unsafeCurrentTimeMillis()
        expire = onExpiry
        waiting.unsafeOpen()
      },
      end: () => {
        expire = undefined
      }
    }
  })

// ---------------------------------------------------------------------------
// Upload
// ---------------------------------------------------------------------------

interface UploadState {
  outcome: grpc.StatusObject | undefined
  finishing: boolean
  /** Messages handed to grpc-js whose write has not completed yet. */
  inFlight: number
  wake: (() => void) | undefined
}

/**
 * How many messages an upload hands to grpc-js before it waits for one to be
 * written out. grpc-js alone would queue 16 (8 MiB of 512 KiB chunks).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxUploadMessagesInFlight = 4

// Cancelling a call whose writer is idle makes Node's HTTP/2 end the stream
// (END_STREAM) before resetting it, so an orchestrator may see a half-close,
// which BRO records as a complete fragment. A METADATA after the start is a
// violation BRO aborts the fragment on, and it arrives before the end: sent
// just before cancelling, it makes the fragment fail whatever the orchestrator
// sees next.
const abortMarker = (): Buffer => Wire.protos().codecs.BackupData.encode(Wire.backupToWire({
  _tag: "Metadata",
  metadata: {
    agentId: "",
    backupName: "",
    backupType: "",
    fragment: Wire.fragmentFromWire(null)
  }
}))

// Upload messages are encoded when `write` is called, so that grpc-js queues
// bytes that hold no reference to the caller's chunk (which the caller may
// then reuse); grpc-js is given them as they are.
const encoded = (bytes: Buffer): Buffer => bytes

const uploadFailure = (status: grpc.StatusObject): DataChannelError =>
  status.code === grpc.status.OK
    ? new DataChannelError({ status: "OK", details: "The call ended before the upload was finished" })
    : new DataChannelError(statusOf(status))

const openUpload = (client: CurrentClient) =>
(options: DataCallOptions = {}): Effect.Effect<FragmentUpload, DataChannelError, Scope.Scope> =>
  Effect.gen(function*() {
    const outcome = yield* Deferred.make<grpc.StatusObject>()
    const { state, stream } = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const state: UploadState = { outcome: undefined, finishing: false, inFlight: 0, wake: undefined }
        const stream = client().makeClientStreamRequest(
          Wire.protos().backupMethod.path,
          encoded,
          Wire.protos().backupMethod.responseDeserialize,
          new grpc.Metadata(),
          {},
          (error) => {
            // `error` is null exactly when the call ended with OK and its `Empty` answer.
            const status: grpc.StatusObject = error === null
              ? { code: grpc.status.OK, details: "", metadata: new grpc.Metadata() }
              : { code: error.code, details: error.details, metadata: error.metadata }
            state.outcome = status
            state.wake?.()
            Deferred.unsafeDone(outcome, Exit.succeed(status))
          }
        )
        stream.on("error", ignoreErrorEvent)
        return { state, stream }
      }),
      // Never half-close here: a half-closed upload is a complete fragment for BRO.
      ({ state, stream }) =>
        Effect.sync(() => {
          if (state.outcome !== undefined) return
          if (!state.finishing) stream.write(abortMarker())
          stream.cancel()
        })
    )

    const ended = Effect.flatMap(Deferred.await(outcome), (status) => Effect.fail(uploadFailure(status)))

    // Waits until fewer than maxUploadMessagesInFlight writes are pending,
    // or the call ended, or the idle timeout passed.
    const timer = yield* idleTimer(options.idleTimeout)
    const room = Effect.async<void, DataChannelTimeout>((resume) => {
      const check = () => {
        if (state.inFlight < maxUploadMessagesInFlight || state.outcome !== undefined) {
          state.wake = undefined
          timer.end()
          resume(Effect.void)
        }
      }
      state.wake = check
      timer.begin((after) => {
        state.wake = undefined
        resume(Effect.fail(new DataChannelTimeout({ waitingFor: "the orchestrator to read the chunks already sent", after })))
      })
      check()
      return Effect.sync(() => {
        state.wake = undefined
        timer.end()
      })
    })

    const written = () => {
      state.inFlight--
      state.wake?.()
    }

    const write = (message: BackupMessage): Effect.Effect<void, DataChannelError | DataChannelTimeout> =>
      Effect.suspend(() => {
        if (state.outcome !== undefined) return Effect.fail(uploadFailure(state.outcome))
        if (state.finishing) return Effect.dieMessage("bro-agent: an upload was written after its finish")
        state.inFlight++
        stream.write(Wire.protos().codecs.BackupData.encode(Wire.backupToWire(message)), written)
        return state.inFlight < maxUploadMessagesInFlight
          ? Effect.void
          : Effect.zipRight(room, Effect.suspend(() => state.outcome === undefined ? Effect.void : ended))
      })

    const finish: Effect.Effect<void, DataChannelError> = Effect.suspend(() => {
      if (state.outcome === undefined && !state.finishing) {
        state.finishing = true
        stream.end()
      }
      return Effect.flatMap(Deferred.await(outcome), (status) =>
        status.code === grpc.status.OK ? Effect.void : Effect.fail(new DataChannelError(statusOf(status))))
    })

    return { write, finish }
  })

// ---------------------------------------------------------------------------
// Download
// ---------------------------------------------------------------------------

const openDownload = (client: CurrentClient) =>
(
  request: FragmentRequest,
  options: DataCallOptions = {}
): Stream.Stream<RestoreMessage, DataChannelError | DataChannelTimeout> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const { state, stream } = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const state = {
            status: undefined as grpc.StatusObject | undefined,
            wake: undefined as (() => void) | undefined
          }
          const wake = () => {
            const pending = state.wake
            state.wake = undefined
            pending?.()
          }
          const stream = client().makeServerStreamRequest(
            Wire.protos().restoreMethod.path,
            Wire.protos().codecs.Metadata.encode,
            Wire.protos().codecs.RestoreData.decode,
            Wire.requestToWire(request),
            new grpc.Metadata()
          )
          // Paused mode: grpc-js asks the server for the next message only when
          // the stream's small buffer has room, that is when the consumer pulls.
          stream.on("readable", wake)
          stream.on("status", (status: grpc.StatusObject) => {
            if (state.status !== undefined) return
            state.status = status
            wake()
          })
          stream.on("error", ignoreErrorEvent)
          return { state, stream }
        }),
        ({ state, stream }) => Effect.sync(() => state.status === undefined ? stream.cancel() : undefined)
      )

      // What the stream's buffer holds, without waiting: some messages, the
      // end, or nothing yet (undefined).
      const take = (): Effect.Effect<Chunk.Chunk<RestoreMessage>, Option.Option<DataChannelError>> | undefined => {
        const received: Array<RestoreMessage> = []
        // `read` gives null once the buffer is empty, whatever its declared type says.
        const next = (): Wire.RestoreData__Output | null => stream.read()
        for (let wire = next(); wire !== null; wire = next()) {
          received.push(Wire.restoreFromWire(wire))
        }
        if (received.length > 0) return Effect.succeed(Chunk.unsafeFromArray(received))
        // An OK status comes only after every message was handed to the
        // stream, so an empty buffer then means the end. (grpc-js delivers a
        // failure at once, dropping what the server sent and nobody read.)
        const status = state.status
        if (status === undefined) return undefined
        return status.code === grpc.status.OK
          ? Effect.fail(Option.none())
          : Effect.fail(Option.some(new DataChannelError(statusOf(status))))
      }

      const timer = yield* idleTimer(options.idleTimeout)
      const waited = Effect.async<Chunk.Chunk<RestoreMessage>, Option.Option<DataChannelError | DataChannelTimeout>>(
        (resume) => {
          const attempt = () => {
            const taken = take()
            if (taken === undefined) {
              state.wake = attempt
            } else {
              timer.end()
              resume(taken)
            }
          }
          timer.begin((after) => {
            state.wake = undefined
            resume(Effect.fail(Option.some(new DataChannelTimeout({ waitingFor: "the orchestrator's next chunk", after }))))
          })
          attempt()
          return Effect.sync(() => {
            state.wake = undefined
            timer.end()
          })
        }
      )
      const pull = Effect.suspend(() => take() ?? waited)

      return Stream.repeatEffectChunkOption(pull)
    })
  )

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

// The client (one channel) that new calls use. Plaintext: one for the whole
// life of the transport. TLS: one per version of the TLS files; when they
// change, the next call opens a new channel with them. The client it
// replaces is closed at once: calls already open on it go on until they end
// (grpc-js closes a channel without touching its open calls), and a call still
// waiting for a connection (the control stream's wait-for-ready) ends with
// UNAVAILABLE, so that the agent registers again, on the new channel.
const currentClient = (settings: typeof Settings.Type): Effect.Effect<CurrentClient, Tls.InvalidTlsFile, Scope.Scope> =>
  Effect.gen(function*() {
    const address = target(settings.host, settings.port)
    const options = channelOptions(settings)
    const tls = settings.tls
    if (tls === undefined) {
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new grpc.Client(address, grpc.credentials.createInsecure(), options)),
        (client) => Effect.sync(() => client.close())
      )
      return () => client
    }
    const files = tlsFilesOf(tls)
    const connect = (material: Tls.TlsMaterial) => new grpc.Client(address, credentialsOf(material), options)
    return yield* Effect.gen(function*() {
      const loaded = yield* Tls.load(files)
      const channel = yield* Effect.acquireRelease(
        Effect.sync(() => ({ client: connect(loaded) })),
        (channel) => Effect.sync(() => channel.client.close())
      )
      yield* Tls.watch(files, loaded, {
        interval: tls.checkInterval,
        onChange: (material) =>
          Effect.sync(() => {
            const previous = channel.client
            channel.client = connect(material)
            previous.close()
          })
      })
      return () => channel.client
    }).pipe(Effect.provide(NodeFileSystem.layer))
  })

/**
 * Builds the transport: validates the options, loads and checks the TLS
 * files (a missing or bad file fails with {@link InvalidTlsFile} naming it),
 * then opens a grpc-js client that closes with the scope. With TLS, the files
 * are watched while the scope is open: see {@link TlsOptions}.
 *
 * Without `tls` nothing is read from files, and the type says so.
 *
 * @since 0.1.0
 * @category constructors
 */
export function make(
  options: GrpcTransportOptions & { readonly tls?: undefined }
): Effect.Effect<OrchestratorTransport["Type"], InvalidTransportOptions, Scope.Scope>
export function make(
  options: GrpcTransportOptions
): Effect.Effect<OrchestratorTransport["Type"], InvalidTransportOptions | Tls.InvalidTlsFile, Scope.Scope>
export function make(
  options: GrpcTransportOptions
): Effect.Effect<OrchestratorTransport["Type"], InvalidTransportOptions | Tls.InvalidTlsFile, Scope.Scope> {
  return Effect.gen(function*() {
    const settings = yield* validate(options)
    const client = yield* currentClient(settings)
    return OrchestratorTransport.of({
      security: settings.tls === undefined
        ? "PLAINTEXT"
        : settings.tls.clientCertificateFile === undefined
        ? "TLS"
        : "MTLS",
      openControl: openControl(client),
      openUpload: openUpload(client),
      openDownload: openDownload(client)
    })
  })
}

/**
 * The gRPC transport with the given options.
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(
  options: GrpcTransportOptions & { readonly tls?: undefined }
): Layer.Layer<OrchestratorTransport, InvalidTransportOptions>
export function layer(
  options: GrpcTransportOptions
): Layer.Layer<OrchestratorTransport, InvalidTransportOptions | Tls.InvalidTlsFile>
export function layer(
  options: GrpcTransportOptions
): Layer.Layer<OrchestratorTransport, InvalidTransportOptions | Tls.InvalidTlsFile> {
  return Layer.scoped(OrchestratorTransport, make(options))
}

/**
 * The gRPC transport with options read from configuration, by default
 * {@link config} (the environment).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<GrpcTransportOptions> = config
): Layer.Layer<OrchestratorTransport, InvalidTransportOptions | Tls.InvalidTlsFile | ConfigError.ConfigError> =>
  Layer.scoped(OrchestratorTransport, Effect.flatMap(options, make))
