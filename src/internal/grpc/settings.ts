/**
 * The gRPC transport's settings, validated: the Schema pieces that check
 * each option (a port, a message size, a window, a duration), and the whole
 * options with every default filled, which the channel and the calls work
 * from. The public module decodes options in code and environment variables
 * with these same pieces.
 *
 * @since 0.1.0
 */
import { Duration, Schema } from "effect"
import { PositiveDuration } from "../Settings.js"
import * as Tls from "../Tls.js"

/**
 * See `GrpcTransport.defaultMaxInboundMessageSize`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxInboundMessageSize: number = 4 * 1024 * 1024

/**
 * See `GrpcTransport.defaultFlowControlWindow`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFlowControlWindow: number = 1024 * 1024

/**
 * See `GrpcTransport.defaultKeepalive`.
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

/**
 * A text that is not blank: a host, a file name.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NonEmpty = Schema.String.pipe(Schema.filter((text) => text.trim() !== "" || "must not be empty"))

/**
 * A TCP port.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Port = Schema.Number.pipe(
  Schema.filter((port) =>
    (Number.isInteger(port) && port >= 0 && port <= 65535) || `must be an integer from 0 to 65535, not ${port}`
  )
)

/**
 * The largest inbound message, in bytes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MessageSize = Schema.Number.pipe(
  Schema.filter((size) => (Number.isInteger(size) && size > 0) || `must be a positive number of bytes, not ${size}`)
)

/**
 * An HTTP/2 receive window, in bytes: what HTTP/2 allows.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FlowControlWindow = Schema.Number.pipe(
  Schema.filter((size) =>
    (Number.isInteger(size) && size >= 65535 && size <= 2 ** 31 - 1) ||
    `must be a number of bytes from 65535 (HTTP/2's smallest window) to 2147483647, not ${size}`
  )
)

/**
 * The TLS options, validated: the client files go together.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TlsSettings = Schema.Struct({
  caFile: NonEmpty,
  serverName: Schema.optional(NonEmpty),
  clientCertificateFile: Schema.optional(NonEmpty),
  clientKeyFile: Schema.optional(NonEmpty),
  checkInterval: Schema.optionalWith(PositiveDuration, { default: () => Tls.defaultCheckInterval })
}).pipe(
  Schema.filter((tls) =>
    (tls.clientCertificateFile === undefined) === (tls.clientKeyFile === undefined) || {
      path: [tls.clientCertificateFile === undefined ? "clientCertificateFile" : "clientKeyFile"],
      message: "is missing: tls.clientCertificateFile and tls.clientKeyFile go together (mutual TLS needs both)"
    }
  )
)

/**
 * The TLS settings the channel works from.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsSettings = typeof TlsSettings.Type

/**
 * The whole options, validated, with every default filled.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Settings = Schema.Struct({
  host: NonEmpty,
  port: Port,
  maxInboundMessageSize: Schema.optionalWith(MessageSize, { default: () => defaultMaxInboundMessageSize }),
  flowControlWindow: Schema.optionalWith(FlowControlWindow, { default: () => defaultFlowControlWindow }),
  keepalive: Schema.optionalWith(
    Schema.Struct({
      interval: Schema.optionalWith(PositiveDuration, { default: () => defaultKeepalive.interval }),
      timeout: Schema.optionalWith(PositiveDuration, { default: () => defaultKeepalive.timeout }),
      withoutCalls: Schema.optionalWith(Schema.Boolean, { default: () => defaultKeepalive.withoutCalls })
    }),
    { default: () => defaultKeepalive }
  ),
  tls: Schema.optional(TlsSettings)
})

/**
 * The settings the transport works from.
 *
 * @since 0.1.0
 * @category models
 */
export type Settings = typeof Settings.Type
