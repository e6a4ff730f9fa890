// Issue 18, "the CLI on @effect/cli", end to end against the real
// orchestrator: a request bounded by its timeout, server text printed
// without terminal control sequences, `action cancel` waiting for the outcome.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Net from "node:net"
import { cli } from "../support/cliHarness.js"
import { channel, expectNext, registerAgent } from "../support/rawAgent.js"
import { startOrchestratorWithRest } from "./support.js"

/** A server that accepts connections and never answers a byte. */
const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
    const sockets = new Set<Net.Socket>()
    const server = Net.createServer((socket) => void sockets.add(socket))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)

describe("the command line on @effect/cli (issue 18)", () => {
  it.live("gives up on a server that accepts and never answers, after --timeout, with exit code 3", () =>
    Effect.gen(function*() {
      const { server } = yield* silentServer
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const url = `http://127.0.0.1:${port}`
      const result = yield* cli(["backup", "create", "nightly", "--url", url, "--timeout", "0.2"])
      expect(result).toEqual({
        code: 3,
        out: [],
        err: [`bro-agent: Cannot reach the orchestrator at ${url} (no answer within 200ms)`]
      })
    }).pipe(Effect.scoped))

  it.live("prints an agent's message without the terminal control sequences it holds", () =>
    Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const control = yield* registerAgent(yield* channel(orchestrator.port), "evil-agent")
      const creating = yield* Effect.fork(cli(["backup", "create", "nightly", "--url", url], { pollInterval: "20 millis" }))
      yield* expectNext(control, "Preparation")
      // Sets the window title, clears the screen, rings the bell, erases the line.
      yield* control.answer("BACKUP", false, "\u001b]0;pwned\u0007\u001b[2Jdisk\u009b2K full\r\nreally")
      yield* expectNext(control, "Cancel")
      yield* control.answer("BACKUP", true, "cancelled")
      const result = yield* Fiber.join(creating)
      expect(result.code).toBe(1)
      const printed = [...result.out, ...result.err].join("\n")
      expect(printed).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
      expect(printed).toContain("\\x1b]0;pwned\\x07\\x1b[2Jdisk\\x9b2K full  really")
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))

  it.live("action cancel waits until the action ended and prints how it ended", () =>
    Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const control = yield* registerAgent(yield* channel(orchestrator.port), "slow-agent")
      const started = yield* cli(["backup", "create", "nightly", "--no-wait", "--url", url])
      const actionId = started.out[0] ?? ""
      yield* expectNext(control, "Preparation")
      yield* control.answer("BACKUP", true, "Prepared")
      yield* expectNext(control, "Execution")
      // The agent is in the middle of its backup; the cancel round waits for its answer.
      const cancelling = yield* Effect.fork(cli(["action", "cancel", "--url", url], { pollInterval: "20 millis" }))
      yield* expectNext(control, "Cancel")
      expect(yield* Fiber.poll(cancelling)).toMatchObject({ _tag: "None" })
      yield* control.answer("BACKUP", true, "Cancelled the backup")
      const result = yield* Fiber.join(cancelling)
      expect(result.err).toEqual([])
      expect(result.code).toBe(0)
      expect(result.out[0]).toBe(`Cancelling action ${actionId} (CREATE_BACKUP of backup "nightly")`)
      expect(result.out).toContain(`Action ${actionId} (CREATE_BACKUP of backup "nightly") finished: FAILURE`)
      expect((yield* orchestrator.action("DEFAULT", actionId)).state).toBe("FINISHED")
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
})
