/**
 * Why the orchestrator cannot be reached. grpc-js says only that a
 * connection failed ("Name resolution failed for target ..."), so, while the
 * control call waits for a connection that gRPC cannot make, the agent looks
 * the address up itself and opens (and at once closes) a TCP connection to
 * it: the error of that attempt names the cause (`ENOTFOUND`,
 * `ECONNREFUSED`, `ETIMEDOUT`, `EHOSTUNREACH`).
 *
 * @since 0.1.0
 */
import * as Dns from "node:dns"
import * as Net from "node:net"
import { Duration, Effect } from "effect"

/**
 * One failed attempt to reach the orchestrator: the address tried, the
 * cause in words, and the system's error code when there is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Unreachable {
  /** `host:port`, as the agent was configured. */
  readonly target: string
  readonly cause: string
  /** `ENOTFOUND`, `ECONNREFUSED`, ...; undefined when TCP connects but gRPC does not. */
  readonly code: string | undefined
}

/**
 * The host and port of a gRPC target (`dns:host:port`, `host:port`,
 * `[::1]:port`), or undefined for a target that is not an address.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTarget = (target: string): { readonly host: string; readonly port: number } | undefined => {
  const address = target.replace(/^dns:(\/\/[^/]*\/)?/, "")
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address)
  if (match === null || match[1] === undefined || match[2] === undefined) return undefined
  return { host: match[1], port: Number(match[2]) }
}

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

const lookup = (host: string) =>
  Effect.async<string, unknown>((resume) => {
    Dns.lookup(host, (error, address) => resume(error === null ? Effect.succeed(address) : Effect.fail(error)))
  })

const connect = (host: string, port: number) =>
  Effect.async<void, unknown>((resume) => {
    const socket = Net.connect({ host, port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.void)
    })
    socket.once("error", (error) => {
      socket.destroy()
      resume(Effect.fail(error))
    })
    return Effect.sync(() => socket.destroy())
  })

/**
 * Finds why `host:port` cannot be reached: its name does not resolve, or a
 * TCP connection to it fails, or (when both work) gRPC's own connection
 * fails above TCP (TLS, or not a gRPC port). A TCP attempt that gets no
 * answer within `timeout` is `ETIMEDOUT`.
 *
 * @since 0.1.0
 * @category diagnostics
 */
export const diagnose = (
  host: string,
  port: number,
  timeout: Duration.DurationInput = "5 seconds"
): Effect.Effect<Unreachable> => {
  const target = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`
  const unreachable = (cause: string, code: string | undefined): Unreachable => ({ target, cause, code })
  return lookup(host).pipe(
    Effect.matchEffect({
      onFailure: (error) => Effect.succeed(unreachable(messageOf(error), codeOf(error))),
      onSuccess: (address) =>
        connect(address, port).pipe(
          Effect.timeoutFail({ duration: timeout, onTimeout: () => ({ code: "ETIMEDOUT" }) }),
          Effect.match({
            onFailure: (error) =>
              codeOf(error) === "ETIMEDOUT" && !(error instanceof Error)
                ? unreachable(`connect ETIMEDOUT ${address}:${port}: no answer within ${Duration.format(timeout)}`, "ETIMEDOUT")
                : unreachable(messageOf(error), codeOf(error)),
            onSuccess: () =>
              unreachable(
                `TCP connects to ${address}:${port}, but the gRPC connection fails: check TLS, and that it is the orchestrator's gRPC port`,
                undefined
              )
          })
        )
    })
  )
}
