/**
 * The channel every call of the transport is made on: one `grpc.Client`,
 * plaintext or with TLS credentials. With TLS the files are watched
 * (`Tls.watch`), and a change of certificates replaces the client, so that
 * the next call uses the new files. Also what the calls share about the
 * channel: how a call's status becomes the transport's error fields.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import { Duration, Effect } from "effect"
import * as Status from "../../core/Status.js"
import * as Tls from "../Tls.js"
import type { Settings, TlsSettings } from "./settings.js"

/**
 * The client a call is made on, read when the call starts: with TLS it
 * changes when the files do. Read and used in the same synchronous step, so
 * that a call never starts on a client that was just replaced and closed.
 *
 * @since 0.1.0
 * @category models
 */
export type CurrentClient = () => grpc.Client

/**
 * A call's status as the transport's errors carry it.
 *
 * @since 0.1.0
 * @category conversions
 */
export const statusOf = (status: grpc.StatusObject) => ({ status: Status.fromNumber(status.code), details: status.details })

/**
 * The listener every call gives its 'error' event. grpc-js also emits
 * 'error' for a status other than OK; the 'status' event (or the unary
 * callback) carries the same facts. Without a listener the 'error' event
 * would crash the process.
 *
 * @since 0.1.0
 */
export const ignoreErrorEvent = (): void => {}

// An IPv6 literal needs brackets in a gRPC target.
const target = (host: string, port: number): string =>
  host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`

const channelOptions = (settings: Settings): grpc.ChannelOptions => ({
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

const tlsFilesOf = (tls: TlsSettings): Tls.TlsFiles => ({
  caFile: tls.caFile,
  identity: tls.clientCertificateFile !== undefined && tls.clientKeyFile !== undefined
    ? { certificateFile: tls.clientCertificateFile, keyFile: tls.clientKeyFile }
    : undefined
})

const credentialsOf = (material: Tls.TlsMaterial): grpc.ChannelCredentials =>
  grpc.credentials.createSsl(material.ca ?? null, material.identity?.key ?? null, material.identity?.certificate ?? null)

/**
 * Opens the client (one channel) that new calls use, closed with the scope.
 * Plaintext: one for the whole life of the transport. TLS: one per version
 * of the TLS files, loaded and checked first; when they change, the next call
 * opens a new channel with them. The client it replaces is closed at once:
 * calls already open on it go on until they end (grpc-js closes a channel
 * without touching its open calls), and a call still waiting for a
 * connection (the control stream's wait-for-ready) ends with UNAVAILABLE, so
 * that the agent registers again, on the new channel.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (settings: Settings): Effect.Effect<CurrentClient, Tls.InvalidTlsFile, Scope.Scope> =>
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
