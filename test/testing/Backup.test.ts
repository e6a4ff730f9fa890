import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { AgentBehavior, Fragments } from "bro-agent"
import { Testing } from "bro-agent/testing"

const softwareVersion = {
  productName: "Kit",
  productNumber: "APR 1",
  revision: "R1A",
  productionDate: "2026-11-25",
  description: "A test kit subject",
  type: "Test"
}

const behavior = AgentBehavior.make({
  registration: { agentId: "kit-agent", softwareVersion },
  executeBackup: (context) =>
    context.sendFragment({
      fragmentId: "kit-agent_0",
      version: "1.0",
      backupFile: Fragments.fromBytes("data.txt", "hello, backup"),
      customMetadataFile: Fragments.fromBytes("meta.json", "{}")
    }),
  executeRestore: () => Effect.void
})

layer(Testing.layer)("Testing.backup", (it) => {
  it.effect("returns every stage's answer and the fragment put back together", () =>
    Effect.gen(function*() {
      const result = yield* Testing.backup(behavior)
      expect(result.answers.map((answer) => [answer.step, answer.success, answer.message])).toEqual([
        ["PREPARATION", true, "Preparation for backup is successful"],
        ["EXECUTION", true, "Backup completed"],
        ["POST_ACTIONS", true, "Post backup actions completed"]
      ])
      expect(result.fragments).toHaveLength(1)
      const [fragment] = result.fragments
      expect(fragment?.backupFile?.text).toBe("hello, backup")
      expect(fragment?.backupFile?.checksumVerified).toBe(true)
      expect(fragment?.customMetadataFile?.name).toBe("meta.json")
      expect(fragment?.outcome).toBe("finished")
      expect(result.violations).toEqual([])
      expect(result.succeeded).toBe(true)
    }))
})
