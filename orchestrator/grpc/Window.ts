/**
 * The orchestrator's HTTP/2 receive windows. BRO (grpc-java) reads every
 * stream, and every connection, with a 1 MiB window; grpc-js's server has no
 * option for it and keeps HTTP/2's 64 KiB, with which an upload waits for a
 * window update every 64 KiB: a 1 GiB upload from one agent ran at 38 MiB/s
 * and cost the two processes 35 s of CPU. The development orchestrator
 * reads as BRO does, so that an agent is tested against the windows it
 * meets in production.
 *
 * grpc-js keeps what it needs for this private: the options it creates its
 * HTTP/2 servers with, and the servers themselves. Each is used only when it
 * is there; without it the windows stay grpc-js's, and
 * `test/orchestrator/Windows.test.ts` fails.
 *
 * @since 0.1.0
 */
import type * as grpc from "@grpc/grpc-js"
import type * as http2 from "node:http2"

/**
 * BRO's (grpc-java's) receive window, for every stream and connection.
 *
 * @since 0.1.0
 * @category constants
 */
export const receiveWindow = 1024 * 1024

interface GrpcServerInternals {
  commonServerOptions?: { settings?: http2.Settings }
  readonly http2Servers?: Map<http2.Http2Server, unknown>
}

/**
 * Before `bindAsync`: the HTTP/2 servers grpc-js creates then tell every
 * client a stream window of `window` bytes.
 *
 * @since 0.1.0
 * @category windows
 */
export const widenStreamWindows = (server: grpc.Server, window: number = receiveWindow): void => {
  const internals = server as unknown as GrpcServerInternals
  const options = internals.commonServerOptions
  if (options === undefined) return
  options.settings = { ...options.settings, initialWindowSize: window }
}

/**
 * After `bindAsync`: every connection accepted from then on gets a
 * connection window of `window` bytes.
 *
 * @since 0.1.0
 * @category windows
 */
export const widenConnectionWindows = (server: grpc.Server, window: number = receiveWindow): void => {
  const servers = (server as unknown as GrpcServerInternals).http2Servers
  if (servers === undefined) return
  for (const http2Server of servers.keys()) {
    http2Server.on("session", (session: http2.ServerHttp2Session) => {
      const widen = () => {
        if (!session.destroyed) session.setLocalWindowSize(window)
      }
      if (session.connecting) session.once("connect", widen)
      else widen()
    })
  }
}
