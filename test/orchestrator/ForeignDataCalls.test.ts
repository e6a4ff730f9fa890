// Issue 14, item 3: only the registered agent's own data calls count. A data
// call that names an agent (its agentId and backupName in the METADATA) but
// comes from a client that is not that agent's control connection is refused,
// without failing the agent's backup, and nothing of it is stored. Agents that
// use one channel for control and data (ours, the reference libraries) keep
// working.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { join } from "node:path"
import * as Fragments from "../../src/behavior/Fragments.js"
import { behaviorWith } from "../support/agentHarness.js"
import { pollUntil, startAgentOn, tree, within } from "../support/FaultHarness.js"
import { registration } from "../support/orchestratorHarness.js"
import { backupInExecution, channel, codeName, expectNext, registerAgent, uploadFragment, devOrchestrator } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

const injected = Buffer.from("#!/bin/sh\necho owned\n")

/** What the intruder uploads: a fragment of `agentId`'s running backup, from a channel that never registered. */
const injection = (agentId: string) => ({
  agentId,
  backupName: "nightly",
  fragmentId: `${agentId}_injected`,
  fileName: "injected.sh",
  content: injected
})

/** Every stored file under `storage` whose name is `injected.sh`. */
const injectedFiles = (storage: string) =>
  Effect.map(tree(storage), (paths) => paths.filter((path) => path.split("/").at(-1) === "injected.sh"))

describe("data calls from a client that is not the agent (issue 14, item 3)", () => {
  it.live("refuses a stranger's upload into an agent's running backup, which still succeeds, storing only the agent's own fragment", () =>
    Effect.gen(function*() {
      const { orchestrator, storage } = yield* devOrchestrator
      const agentChannel = yield* channel(orchestrator.port)
      const intruderChannel = yield* channel(orchestrator.port)
      const control = yield* registerAgent(agentChannel, "victim")

      const backup = yield* backupInExecution(orchestrator, control)

      // The intruder's call carries the victim's names; it never registered.
      const intrusion = yield* uploadFragment(intruderChannel, injection("victim"))
      // The victim's own upload, on its own connection.
      const own = yield* uploadFragment(agentChannel, { agentId: "victim", backupName: "nightly", fragmentId: "victim_0" })
      yield* control.answer("BACKUP", true, "Backed up")
      yield* expectNext(control, "PostActions")
      yield* control.answer("BACKUP", true, "Post backup actions completed")
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))

      expect(codeName(intrusion)).not.toBe("OK")
      expect(codeName(own)).toBe("OK")
      expect(finished.result).toBe("SUCCESS")
      const record = yield* orchestrator.backup("DEFAULT", "nightly")
      expect(record.status).toBe("COMPLETE")
      expect(record.fragments.map((fragment) => `${fragment.agentId}/${fragment.fragmentId}`)).toEqual(["victim/victim_0"])
      expect(yield* injectedFiles(storage)).toEqual([])
    }).pipe(Effect.scoped, live))

  it.live("refuses a stranger's upload into our agent's backup, and takes our agent's uploads on its one channel", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { orchestrator, storage } = yield* devOrchestrator
      const executing = yield* Deferred.make<void>()
      const intruded = yield* Deferred.make<void>()
      yield* startAgentOn(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup>({
        registration: registration("our-agent"),
        executeBackup: (context) =>
          Effect.gen(function*() {
            yield* Deferred.succeed(executing, undefined)
            yield* Deferred.await(intruded)
            yield* context.sendFragment({
              fragmentId: "our-agent_0",
              version: "1.0",
              backupFile: Fragments.fromBytes("dump.sql", "Hello World!")
            })
          })
      }))
      yield* pollUntil("our agent to register", orchestrator.agents, (agents) => agents.length === 1)
      const intruderChannel = yield* channel(orchestrator.port)

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* within("our agent's execution")(Deferred.await(executing))
      const intrusion = yield* uploadFragment(intruderChannel, injection("our-agent"))
      yield* Deferred.succeed(intruded, undefined)
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))

      expect(codeName(intrusion)).not.toBe("OK")
      expect(finished.result).toBe("SUCCESS")
      const record = yield* orchestrator.backup("DEFAULT", "nightly")
      expect(record.fragments.map((fragment) => `${fragment.agentId}/${fragment.fragmentId}`)).toEqual(["our-agent/our-agent_0"])
      expect(yield* fs.readFileString(yield* orchestrator.fragmentPath("DEFAULT", "nightly", "our-agent", "our-agent_0")))
        .toBe("Hello World!")
      expect(yield* injectedFiles(storage)).toEqual([])
    }).pipe(Effect.scoped, live))

  it.live("refuses an upload of one agent's fragment from another registered agent's connection", () =>
    Effect.gen(function*() {
      const { orchestrator, storage } = yield* devOrchestrator
      const first = yield* channel(orchestrator.port)
      const second = yield* channel(orchestrator.port)
      const a = yield* registerAgent(first, "agent-a")
      const b = yield* registerAgent(second, "agent-b")

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      for (const control of [a, b]) {
        yield* expectNext(control, "Preparation")
        yield* control.answer("BACKUP", true, "Prepared")
      }
      for (const control of [a, b]) yield* expectNext(control, "Execution")
      // A registered agent is a stranger to another agent's fragments too.
      const crossed = yield* uploadFragment(second, injection("agent-a"))
      const ownA = yield* uploadFragment(first, { agentId: "agent-a", backupName: "nightly", fragmentId: "agent-a_0" })
      const ownB = yield* uploadFragment(second, { agentId: "agent-b", backupName: "nightly", fragmentId: "agent-b_0" })
      for (const control of [a, b]) yield* control.answer("BACKUP", true, "Backed up")
      for (const control of [a, b]) {
        yield* expectNext(control, "PostActions")
        yield* control.answer("BACKUP", true, "Post backup actions completed")
      }
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))

      expect([codeName(crossed), codeName(ownA), codeName(ownB)]).toEqual([
        expect.not.stringMatching(/^OK$/),
        "OK",
        "OK"
      ])
      expect(finished.result).toBe("SUCCESS")
      const record = yield* orchestrator.backup("DEFAULT", "nightly")
      expect(record.fragments.map((fragment) => `${fragment.agentId}/${fragment.fragmentId}`).sort()).toEqual([
        "agent-a/agent-a_0",
        "agent-b/agent-b_0"
      ])
      expect(yield* injectedFiles(storage)).toEqual([])
      expect(yield* tree(join(storage, "DEFAULT", "nightly", "agent-a"))).not.toContain("agent-a_injected")
    }).pipe(Effect.scoped, live))
})
