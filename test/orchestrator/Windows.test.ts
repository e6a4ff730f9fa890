// The development orchestrator reads with BRO's (grpc-java's) 1 MiB HTTP/2
// windows, for every stream and every connection, not grpc-js's 64 KiB: an
// agent is tested against the windows it meets in production (issue 18; a
// 1 GiB upload ran at 38 MiB/s with 64 KiB, 65 MiB/s with 1 MiB).
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import http2 from "node:http2"
import { receiveWindow } from "../../orchestrator/grpc/Window.js"
import { pollUntil } from "../support/FaultHarness.js"
import { devOrchestrator } from "../support/rawAgent.js"

/** A bare HTTP/2 connection to the orchestrator's gRPC port, closed with the scope. */
const connect = (port: number) =>
  Effect.acquireRelease(
    Effect.async<http2.ClientHttp2Session>((resume) => {
      const session = http2.connect(`http://127.0.0.1:${port}`)
      session.on("error", () => {})
      session.once("remoteSettings", () => resume(Effect.succeed(session)))
    }),
    (session) => Effect.sync(() => session.destroy())
  )

describe("the orchestrator's HTTP/2 windows", () => {
  it.live("tells every client a 1 MiB stream window and widens each connection's window to 1 MiB", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* devOrchestrator
      const session = yield* connect(orchestrator.port)
      expect(receiveWindow).toBe(1024 * 1024)
      expect(session.remoteSettings.initialWindowSize).toBe(receiveWindow)
      // The connection's window grows by a WINDOW_UPDATE once the connection is up.
      yield* pollUntil(
        "the connection window to be 1 MiB",
        Effect.sync(() => session.state.remoteWindowSize),
        (size) => size === receiveWindow
      )
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
})
