// Issue 18, "verify a stored backup": `bro-agent backup verify NAME` and
// `POST .../backup/{name}/verify` (ours) read every stored file back, check
// its MD5, report each fragment, and mark the backup CORRUPTED when one fails.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli } from "../support/cliHarness.js"
import { within } from "../support/FaultHarness.js"
import { backupInExecution, channel, codeName, expectNext, md5, registerAgent, uploadFragment } from "../support/rawAgent.js"
import { startOrchestratorWithRest } from "./support.js"

const first = Buffer.from("first fragment's bytes")
const second = Buffer.from("the second one")

describe("verify a stored backup (issue 18)", () => {
  it.live("reports each fragment, exits 0 while all check out, and 1 with the backup CORRUPTED once a file changed", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "agent-a")
      const backup = yield* backupInExecution(orchestrator, control)
      for (const [fragmentId, content] of [["f1", first], ["f2", second]] as const) {
        const status = yield* uploadFragment(client, { agentId: "agent-a", backupName: "nightly", fragmentId, content })
        expect(codeName(status)).toBe("OK")
      }
      yield* control.answer("BACKUP", true, "Done")
      yield* expectNext(control, "PostActions")
      yield* control.answer("BACKUP", true, "Post actions completed")
      yield* within("the backup")(orchestrator.awaitAction(backup.id))

      const verified = yield* cli(["backup", "verify", "nightly", "--url", url])
      expect(verified).toEqual({
        code: 0,
        out: [
          `OK      agent-a/f1  dump.sql (${first.length} bytes, MD5 ${md5(first)})`,
          `OK      agent-a/f2  dump.sql (${second.length} bytes, MD5 ${md5(second)})`,
          "Backup \"nightly\": 2 fragments verified, COMPLETE"
        ],
        err: []
      })

      // Same size, other bytes: only the checksum can tell.
      const path = yield* orchestrator.fragmentPath("DEFAULT", "nightly", "agent-a", "f2")
      yield* fs.writeFile(path, Buffer.from("THE SECOND ONE"))
      const failed = yield* cli(["backup", "verify", "nightly", "--url", url])
      expect(failed.code).toBe(1)
      expect(failed.out[0]).toMatch(/^OK {6}agent-a\/f1 /)
      expect(failed.out[1]).toMatch(new RegExp(`^FAILED  agent-a/f2  dump\\.sql \\(${second.length} bytes, MD5 ${md5(second)}\\): .+`))
      expect(failed.out[2]).toBe("Backup \"nightly\": 1 of 2 fragments failed, now CORRUPTED")
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).status).toBe("CORRUPTED")

      const answer = yield* Effect.promise(() =>
        fetch(`${url}/v1/backup-manager/DEFAULT/backup/nightly/verify`, { method: "POST" }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as unknown
        }))
      )
      expect(answer).toMatchObject({
        status: 200,
        body: {
          backupManagerId: "DEFAULT",
          backupName: "nightly",
          ok: false,
          status: "CORRUPTED",
          fragments: [
            { agentId: "agent-a", fragmentId: "f1", ok: true, files: [{ file: "BACKUP_FILE", name: "dump.sql", size: first.length }] },
            { agentId: "agent-a", fragmentId: "f2", ok: false, files: [{ file: "BACKUP_FILE", problem: expect.any(String) }] }
          ]
        }
      })
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))

  it.live("an unknown backup exits 1 with the orchestrator's 404", () =>
    Effect.gen(function*() {
      const { url } = yield* startOrchestratorWithRest()
      expect(yield* cli(["backup", "verify", "nope", "--url", url])).toEqual({
        code: 1,
        out: [],
        err: ["bro-agent: The orchestrator answered 404: Backup nope does not exist in backup manager DEFAULT"]
      })
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
})
