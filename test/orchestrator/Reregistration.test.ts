// Issue 14, item 10: a registered API 4.0 stream that sends a registration
// with another agent id is not acknowledged for that id: the other id is not
// registered, and the stream keeps its original registration (it is not
// closed; the repeated registration of its own id is still acknowledged, as
// BRO does, behaviour.md §1).
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { OrchestratorMessage } from "../../src/core/Message.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { channel, registerAgent } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

describe("a registered stream that registers with another id (issue 14, item 10)", () => {
  it.live("does not acknowledge a registration with another id on a registered stream, and keeps the original", () =>
    Effect.gen(function*() {
      const storage = yield* FaultHygiene.tempFolder
      const orchestrator = yield* Orchestrator.make({ port: 0, storage })
      const control = yield* registerAgent(yield* channel(orchestrator.port), "first-id", { scope: "alpha" })

      yield* control.register("other-id", { scope: "beta" })
      // Its own id again: acknowledged, as every repeated 4.0 registration is.
      yield* control.register("first-id", { scope: "alpha" })
      const first = yield* control.next()
      expect(first._tag).toBe("RegisterAcknowledge")
      // The stream's messages are handled in order, so whatever answered the
      // other id came before the acknowledgement just read, or never: the
      // backup's preparation comes next.
      yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      const received: Array<OrchestratorMessage["_tag"]> = []
      for (;;) {
        const message = yield* control.next()
        received.push(message._tag)
        if (message._tag === "Preparation") break
      }
      expect(received).toEqual(["Preparation"])

      expect(yield* control.isEnded).toBe(false)
      expect(yield* orchestrator.agents).toEqual([expect.objectContaining({ agentId: "first-id", scope: ["alpha"] })])
      // The other id is free for its own agent.
      yield* registerAgent(yield* channel(orchestrator.port), "other-id")
      expect((yield* orchestrator.agents).map((agent) => agent.agentId).sort()).toEqual(["first-id", "other-id"])
    }).pipe(Effect.scoped, live))
})
