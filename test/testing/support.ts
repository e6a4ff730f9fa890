// Behaviours the kit's own tests put through it.
import { FileSystem } from "@effect/platform"
import { Effect, Scope } from "effect"
import { join } from "node:path"
import { AgentBehavior, Fragments } from "bro-agent"

export const softwareVersion = {
  productName: "Kit",
  productNumber: "APR 1",
  revision: "R1A",
  productionDate: "2026-11-25",
  description: "A test kit subject",
  type: "Test"
}

export const content = "x".repeat(200_000)

/** Backs up one fragment of `content`; restores every fragment into `folder`. */
export const folderBehavior = (folder: string, overrides: Partial<AgentBehavior.AgentBehavior<unknown, FileSystem.FileSystem>> = {}) =>
  AgentBehavior.make({
    registration: { agentId: "kit-agent", softwareVersion },
    executeBackup: (context) =>
      context.sendFragment({
        fragmentId: "kit-agent_0",
        version: "1.0",
        backupFile: Fragments.fromBytes("data.txt", content),
        customMetadataFile: Fragments.fromBytes("meta.json", "{}")
      }),
    executeRestore: (context) =>
      Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, folder)),
    ...overrides
  })

/** Leaves a file open past its stage: it is opened in a scope nobody closes. */
export const leavesFileOpen = (folder: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const forever = yield* Scope.make()
    yield* Scope.extend(fs.open(join(folder, "left-open.txt"), { flag: "w" }), forever)
  })

/** Writes next to the folder, not in it. */
export const writesOutside = (folder: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(join(folder, "..", "outside.txt"), "oops"))
