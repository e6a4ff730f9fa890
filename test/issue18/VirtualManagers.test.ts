// Issue 18, BRO's virtual backup managers (behaviour.md §1): each agent has
// `DEFAULT-<agentId>` and `<scope>-<agentId>`, whose actions involve that
// agent alone and tell it the parent manager's name as `backupType`.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { cli } from "../support/cliHarness.js"
import { channel, codeName, expectNext, registerAgent, roundTrip, uploadFragment } from "../support/rawAgent.js"
import { getJson, startOrchestratorWithRest } from "./support.js"

describe("virtual backup managers (issue 18)", () => {
  it.live("backs up and restores one agent through DEFAULT-<id> and <scope>-<id>, with the parent as backupType", () =>
    Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const clientA = yield* channel(orchestrator.port)
      const a = yield* registerAgent(clientA, "agent-a", { scope: "alpha" })
      const b = yield* registerAgent(yield* channel(orchestrator.port), "agent-b")

      expect(yield* getJson(`${url}/v1/backup-manager`)).toEqual({
        status: 200,
        body: {
          backupManagers: [
            { id: "DEFAULT", backupType: "DEFAULT", backupDomain: "" },
            { id: "DEFAULT-agent-a", backupType: "DEFAULT", backupDomain: "" },
            { id: "DEFAULT-agent-b", backupType: "DEFAULT", backupDomain: "" },
            { id: "alpha", backupType: "alpha", backupDomain: "" },
            { id: "alpha-agent-a", backupType: "alpha", backupDomain: "" }
          ]
        }
      })

      for (const [manager, parent] of [["DEFAULT-agent-a", "DEFAULT"], ["alpha-agent-a", "alpha"]] as const) {
        const creating = yield* Effect.fork(
          cli(["backup", "create", "nightly", "--manager", manager, "--url", url], { pollInterval: "20 millis" })
        )
        const preparation = yield* expectNext(a, "Preparation")
        expect(preparation.backupType).toBe(parent)
        yield* a.answer("BACKUP", true, "Prepared")
        yield* expectNext(a, "Execution")
        expect(codeName(yield* uploadFragment(clientA, { agentId: "agent-a", backupName: "nightly", fragmentId: "f1" }))).toBe("OK")
        yield* a.answer("BACKUP", true, "Done")
        yield* expectNext(a, "PostActions")
        yield* a.answer("BACKUP", true, "Post actions completed")
        expect((yield* Fiber.join(creating)).code).toBe(0)
        // agent-b heard nothing of it: the next message on its stream answers its repeated registration.
        yield* roundTrip(b, "agent-b")
        const stored = yield* orchestrator.backup(manager, "nightly")
        expect(stored.softwareVersions.map((version) => version.agentId)).toEqual(["agent-a"])
      }

      const restoring = yield* Effect.fork(
        cli(["backup", "restore", "nightly", "--manager", "alpha-agent-a", "--url", url], { pollInterval: "20 millis" })
      )
      expect((yield* expectNext(a, "Preparation")).backupType).toBe("alpha")
      yield* expectNext(a, "FragmentListEntry")
      yield* a.answer("RESTORE", true, "Prepared")
      yield* expectNext(a, "Execution")
      yield* a.answer("RESTORE", true, "Done")
      yield* expectNext(a, "PostActions")
      yield* a.answer("RESTORE", true, "Post actions completed")
      expect((yield* Fiber.join(restoring)).code).toBe(0)
      yield* roundTrip(b, "agent-b")

      // agent-b is in no scope: beta-agent-b is no manager.
      expect((yield* cli(["backup", "list", "--manager", "beta-agent-b", "--url", url])).err).toEqual([
        "bro-agent: The orchestrator answered 404: Backup manager beta-agent-b does not exist"
      ])
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
})
