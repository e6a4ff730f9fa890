/**
 * A TCP proxy on 127.0.0.1 that a test can break: it forwards every
 * connection to a target port until the test stalls it (nothing is
 * forwarded in either direction, and nothing is lost: the bytes wait in the
 * sockets, as on a network path that stopped moving), resumes it, or closes
 * it (every connection is destroyed, as when the path is gone).
 *
 * The proxy forwards bytes and knows nothing of gRPC. It closes with its
 * scope.
 */
import type { Scope } from "effect"
import { Data, Effect } from "effect"
import * as net from "node:net"

export class FaultProxyError extends Data.TaggedError("FaultProxyError")<{
  readonly reason: string
  readonly cause: unknown
}> {}

export interface FaultProxyOptions {
  /** Where connections go. */
  readonly targetPort: number
  /** The target's host; 127.0.0.1 by default. */
  readonly targetHost?: string
  /** The port to listen on: 0 (the default) picks a free one; give a closed proxy's port to replace it. */
  readonly port?: number
}

export interface FaultProxy {
  /** The port the proxy listens on. */
  readonly port: number
  /** Stops forwarding, on every connection open now or opened later, until `resume`. */
  readonly stall: Effect.Effect<void>
  /** Forwards again what waited and what comes. */
  readonly resume: Effect.Effect<void>
  /** Stops listening and destroys every connection; the port is free once it returns. Does nothing the second time. */
  readonly close: Effect.Effect<void>
  /** Connections accepted and not yet closed. */
  readonly openConnections: Effect.Effect<number>
}

interface Link {
  readonly client: net.Socket
  readonly upstream: net.Socket
}

/** Starts a proxy; it closes with the scope. */
export const make = (options: FaultProxyOptions): Effect.Effect<FaultProxy, FaultProxyError, Scope.Scope> =>
  Effect.gen(function*() {
    const targetHost = options.targetHost ?? "127.0.0.1"
    const links = new Set<Link>()
    let stalled = false
    let closed = false

    const pause = (link: Link) => {
      link.client.pause()
      link.upstream.pause()
    }
    // A side whose peer still has a full write buffer stays paused: its 'drain' resumes it.
    const unpause = (link: Link) => {
      if (!link.upstream.writableNeedDrain) link.client.resume()
      if (!link.client.writableNeedDrain) link.upstream.resume()
    }

    const forward = (from: net.Socket, to: net.Socket) => {
      from.on("data", (chunk: Buffer) => {
        if (!to.write(chunk)) from.pause()
      })
      to.on("drain", () => {
        if (!stalled) from.resume()
      })
      from.on("end", () => {
        to.end()
      })
    }

    const accept = (client: net.Socket) => {
      if (closed) {
        client.destroy()
        return
      }
      const upstream = net.connect({ host: targetHost, port: options.targetPort })
      const link: Link = { client, upstream }
      links.add(link)
      const drop = () => {
        links.delete(link)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", drop)
      upstream.on("error", drop)
      client.on("close", drop)
      upstream.on("close", drop)
      forward(client, upstream)
      forward(upstream, client)
      if (stalled) pause(link)
    }

    const server = net.createServer({ allowHalfOpen: true }, accept)

    const listen = Effect.async<number, FaultProxyError>((resume) => {
      const onError = (cause: Error) =>
        resume(Effect.fail(new FaultProxyError({ reason: `cannot listen on 127.0.0.1:${options.port ?? 0}`, cause })))
      server.once("error", onError)
      server.listen({ host: "127.0.0.1", port: options.port ?? 0 }, () => {
        server.removeListener("error", onError)
        const address = server.address()
        resume(
          address !== null && typeof address === "object"
            ? Effect.succeed(address.port)
            : Effect.fail(new FaultProxyError({ reason: "the proxy has no TCP address", cause: address }))
        )
      })
    })

    const close = Effect.async<void>((resume) => {
      if (closed) return resume(Effect.void)
      closed = true
      for (const link of links) {
        link.client.destroy()
        link.upstream.destroy()
      }
      links.clear()
      server.close(() => resume(Effect.void))
    })

    const port = yield* Effect.acquireRelease(listen, () => close)

    return {
      port,
      stall: Effect.sync(() => {
        stalled = true
        for (const link of links) pause(link)
      }),
      resume: Effect.sync(() => {
        stalled = false
        for (const link of links) unpause(link)
      }),
      close,
      openConnections: Effect.sync(() => links.size)
    }
  })
