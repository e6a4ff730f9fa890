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
import type { Scope } from "effect"
import { Config, ConfigError, Data, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import * as Channel from "../internal/grpc/channel.js"
import * as ControlCall from "../internal/grpc/controlCall.js"
import * as DownloadCall from "../internal/grpc/downloadCall.js"
import * as TransportSettings from "../internal/grpc/settings.js"
import * as UploadCall from "../internal/grpc/uploadCall.js"
import type { FieldProblem } from "../internal/Settings.js"
import { decodeOptions, PositiveDuration, variable, variableOr, WholeNumberText } from "../internal/Settings.js"
import type * as Tls from "../internal/Tls.js"
import { OrchestratorTransport } from "./OrchestratorTransport.js"

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
export const defaultMaxInboundMessageSize: number = TransportSettings.defaultMaxInboundMessageSize

/**
 * The default HTTP/2 receive window: 1 MiB, grpc-java's.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFlowControlWindow: number = TransportSettings.defaultFlowControlWindow

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
} = TransportSettings.defaultKeepalive

/**
 * How many messages an upload hands to grpc-js before it waits for one to be
 * written out. grpc-js alone would queue 16 (8 MiB of 512 KiB chunks).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxUploadMessagesInFlight: number = UploadCall.maxUploadMessagesInFlight

// Each variable is decoded from its text with the Schema piece that checks
// the same option given in code, so that both refuse the same values; a
// variable set to an empty value (a Helm value left blank) counts as unset.

const WholeNumberOf = <A>(piece: Schema.Schema<A, number>): Schema.Schema<A, string> =>
  Schema.compose(WholeNumberText, piece)

const SecondsText: Schema.Schema<Duration.DurationInput, string> = WholeNumberOf(
  Schema.transform(Schema.Number, PositiveDuration, {
    strict: true,
    decode: (seconds) => Duration.seconds(seconds),
    encode: (duration) => Duration.toSeconds(Duration.decode(duration))
  })
)

/**
 * The TLS options from the environment: TLS when `ORCHESTRATOR_TLS_CA_FILE`
 * is set, with `ORCHESTRATOR_TLS_SERVER_NAME` (the certificate authority
 * name; the host by default); mutual TLS when `AGENT_TLS_CERT_FILE` and
 * `AGENT_TLS_KEY_FILE` are set too; `AGENT_TLS_CHECK_INTERVAL_SECS` (default
 * 5, a whole number above zero) between two checks of the files. Plaintext
 * when none is set; any of the others without the CA file is an error, and
 * so is a bad value, naming the variable.
 *
 * @since 0.1.0
 * @category configuration
 */
export const tlsConfig: Config.Config<TlsOptions | undefined> = Config.all({
  caFile: variable("ORCHESTRATOR_TLS_CA_FILE", TransportSettings.NonEmpty),
  serverName: variable("ORCHESTRATOR_TLS_SERVER_NAME", TransportSettings.NonEmpty),
  clientCertificateFile: variable("AGENT_TLS_CERT_FILE", TransportSettings.NonEmpty),
  clientKeyFile: variable("AGENT_TLS_KEY_FILE", TransportSettings.NonEmpty),
  checkInterval: variable("AGENT_TLS_CHECK_INTERVAL_SECS", SecondsText)
}).pipe(
  Config.mapOrFail((settings): Either.Either<TlsOptions | undefined, ConfigError.ConfigError> => {
    if (Option.isSome(settings.caFile)) {
      return Either.right({
        caFile: settings.caFile.value,
        serverName: Option.getOrUndefined(settings.serverName),
        clientCertificateFile: Option.getOrUndefined(settings.clientCertificateFile),
        clientKeyFile: Option.getOrUndefined(settings.clientKeyFile),
        checkInterval: Option.getOrUndefined(settings.checkInterval)
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
 * `127.0.0.1`), `ORCHESTRATOR_PORT` (default 3000, at most 65535),
 * `AGENT_MAX_INBOUND_MESSAGE_SIZE` in bytes (default 4 MiB),
 * `AGENT_FLOW_CONTROL_WINDOW` in bytes (default 1 MiB, from 65535 to
 * 2147483647), and TLS as {@link tlsConfig} reads it. Each is checked as the
 * same option given in code; a bad value is a `ConfigError` naming the
 * variable and its value.
 *
 * @since 0.1.0
 * @category configuration
 */
export const config: Config.Config<GrpcTransportOptions> = Config.all({
  host: variableOr("ORCHESTRATOR_HOST", TransportSettings.NonEmpty, "127.0.0.1"),
  port: variableOr("ORCHESTRATOR_PORT", WholeNumberOf(TransportSettings.Port), 3000),
  maxInboundMessageSize: variableOr(
    "AGENT_MAX_INBOUND_MESSAGE_SIZE",
    WholeNumberOf(TransportSettings.MessageSize),
    defaultMaxInboundMessageSize
  ),
  flowControlWindow: variableOr(
    "AGENT_FLOW_CONTROL_WINDOW",
    WholeNumberOf(TransportSettings.FlowControlWindow),
    defaultFlowControlWindow
  ),
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

const validate = decodeOptions(
  TransportSettings.Settings,
  "options",
  (problems) => new InvalidTransportOptions({ problems })
)

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
    const client = yield* Channel.open(settings)
    return OrchestratorTransport.of({
      security: settings.tls === undefined
        ? "PLAINTEXT"
        : settings.tls.clientCertificateFile === undefined
        ? "TLS"
        : "MTLS",
      openControl: ControlCall.open(client),
      openUpload: UploadCall.open(client),
      openDownload: DownloadCall.open(client)
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
