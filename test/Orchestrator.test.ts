import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { join } from "node:path"
import * as Fragments from "../src/behavior/Fragments.js"
import { behaviorWith } from "./support/agentHarness.js"
import { awaitAgents, registration, startAgent, startOrchestrator, tempFolder } from "./support/orchestratorHarness.js"

const live = Effect.provide(NodeFileSystem.layer)

describe("the development orchestrator with our agent", () => {
  it.live("takes a backup through every stage and restores it byte for byte", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const storage = yield* tempFolder
      const source = yield* tempFolder
      const target = yield* tempFolder
      yield* fs.writeFileString(join(source, "dump.sql"), "Hello World!")
      const orchestrator = yield* startOrchestrator(storage)
      const stages = yield* Ref.make<Array<string>>([])
      const note = (stage: string) => Ref.update(stages, (all) => [...all, stage])
      yield* startAgent(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup | Fragments.FailedToDownload>({
        registration: registration("db-agent"),
        prepareBackup: () => note("prepareBackup"),
        executeBackup: (context) =>
          note("executeBackup").pipe(
            Effect.zipRight(context.sendFragment({
              fragmentId: "db-agent-0",
              version: "1.0",
              customInformation: { pod: "db-0" },
              backupFile: Fragments.fromPath(join(source, "dump.sql")),
              customMetadataFile: Fragments.fromBytes("meta.json", "{\"tables\":3}")
            }))
          ),
        postBackup: () => note("postBackup"),
        prepareRestore: (context) => note(`prepareRestore ${context.fragments.map((f) => f.fragmentId).join(",")}`),
        executeRestore: (context) =>
          note("executeRestore").pipe(
            Effect.zipRight(Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, target)))
          ),
        postRestore: () => note("postRestore")
      }))
      yield* awaitAgents(orchestrator, 1)

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      const backedUp = yield* orchestrator.awaitAction(backup.id)
      expect(backedUp).toMatchObject({ state: "FINISHED", result: "SUCCESS", progressPercentage: 100 })
      const record = yield* orchestrator.backup("DEFAULT", "nightly")
      expect(record.status).toBe("COMPLETE")
      expect(record.softwareVersions.map((version) => [version.agentId, version.semanticVersion])).toEqual([["db-agent", "1.2.3"]])
      expect(record.fragments).toEqual([{
        agentId: "db-agent",
        fragmentId: "db-agent-0",
        version: "1.0",
        sizeInBytes: "12",
        customInformation: { pod: "db-0" },
        backupFile: { name: "dump.sql", size: 12, checksum: "ED076287532E86365E841E92BFC50D8C" },
        customMetadataFile: { name: "meta.json", size: 12, checksum: expect.any(String) }
      }])
      const stored = yield* orchestrator.fragmentPath("DEFAULT", "nightly", "db-agent", "db-agent-0")
      expect(yield* fs.readFileString(stored)).toBe("Hello World!")

      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      expect(yield* fs.readFileString(join(target, "dump.sql"))).toBe("Hello World!")
      expect(yield* fs.readFileString(join(target, "meta.json"))).toBe("{\"tables\":3}")
      expect(yield* Ref.get(stages)).toEqual([
        "prepareBackup",
        "executeBackup",
        "postBackup",
        "prepareRestore db-agent-0",
        "executeRestore",
        "postRestore"
      ])
    }).pipe(Effect.scoped, live))
})
