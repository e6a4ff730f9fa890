/**
 * The server's HTTP/2 keepalive: how a connection that went silent (a peer
 * that vanished, a path that black-holes every byte) is found and closed.
 * The server pings each connection every `interval` and closes it when a
 * ping goes unanswered for `timeout`; the calls on it end, and the control
 * stream's end frees its agent id. Without it, such an id stays held for
 * ever (ALREADY_EXISTS when the agent returns) and every stage asked of it
 * waits for the stage timeout.
 *
 * The defaults are BRO's numbers (behaviour.md §1, §7): a ping every 120 s,
 * 10 s to answer, so a vanished peer's id is free within about 130 s.
 *
 * @since 0.1.0
 */
import type * as grpc from "@grpc/grpc-js"
import { Duration, Either } from "effect"

/**
 * The keepalive as given: each field a duration (`"2 minutes"`, a number of
 * milliseconds, a `Duration`), each optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeepaliveOptions {
  /** How long a connection may stay silent before the server pings it; 120 s by default. */
  readonly interval?: Duration.DurationInput
  /** How long the server waits for a ping's answer before it closes the connection; 10 s by default. */
  readonly timeout?: Duration.DurationInput
}

/**
 * The keepalive, validated.
 *
 * @since 0.1.0
 * @category models
 */
export interface Keepalive {
  readonly interval: Duration.Duration
  readonly timeout: Duration.Duration
}

/**
 * BRO's keepalive: a ping every 120 s, 10 s to answer.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultKeepalive: Keepalive = { interval: Duration.seconds(120), timeout: Duration.seconds(10) }

/**
 * The keepalive with its defaults filled, or why a field is not a duration
 * longer than zero (naming it as `keepalive.<field>`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (options: KeepaliveOptions | undefined): Either.Either<Keepalive, string> => {
  const field = (name: keyof KeepaliveOptions): Either.Either<Duration.Duration, string> => {
    const given = options?.[name]
    if (given === undefined) return Either.right(defaultKeepalive[name])
    const decoded = Duration.decodeUnknown(given)
    return decoded._tag === "Some" && Duration.greaterThan(decoded.value, Duration.zero) &&
        Duration.isFinite(decoded.value)
      ? Either.right(decoded.value)
      : Either.left(`keepalive.${name} must be a finite duration longer than zero`)
  }
  return Either.all({ interval: field("interval"), timeout: field("timeout") })
}

// How often an agent may ping: our agents ping every 120 s by default, also
// without calls, and may be set to ping more often (tests do). grpc-js's
// server answers every ping whatever these say; they are set so that the
// policy is written down and holds for a grpc-js that enforces it. (A real
// BRO closes connections that ping more often than every 100 s.)
const agentPingInterval = Duration.seconds(1)

/**
 * The grpc-js server options of `keepalive`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverOptions = (keepalive: Keepalive): grpc.ServerOptions => ({
  "grpc.keepalive_time_ms": Duration.toMillis(keepalive.interval),
  "grpc.keepalive_timeout_ms": Duration.toMillis(keepalive.timeout),
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": Duration.toMillis(agentPingInterval)
})
