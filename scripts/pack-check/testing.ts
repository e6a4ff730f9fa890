/**
 * The pack check's use of the test kit, compiled against the installed
 * package only: a behaviour backed up, then restored from what the backup
 * sent, then put through conformance. Prints "testing: passed" or fails.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { AgentBehavior, Fragments } from "bro-agent"
import { Testing } from "bro-agent/testing"
import { Console, Effect, Stream } from "effect"

const behavior = AgentBehavior.make({
  registration: {
    agentId: "pack-check-testing",
    softwareVersion: {
      productName: "Pack check",
      productNumber: "APR 901 0099",
      revision: "R1A",
      productionDate: "2026-11-25",
      description: "One fragment of bytes",
      type: "Check"
    }
  },
  executeBackup: (context) =>
    context.sendFragment({ fragmentId: "content", version: "1.0", backupFile: Fragments.fromBytes("content.txt", "packed") }),
  executeRestore: (context) =>
    Effect.forEach(context.fragments, (fragment) =>
      context.downloadFragmentStream(fragment).pipe(Stream.decodeText(), Stream.mkString).pipe(
        Effect.filterOrFail((text) => text === "packed", (text) => new AgentBehavior.StageFailure({ message: `restored ${text}` }))
      ))
})

const program = Effect.gen(function*() {
  const backup = yield* Testing.backup(behavior)
  if (!backup.succeeded || backup.fragments[0]?.backupFile?.text !== "packed") {
    return yield* Effect.fail(new Error(`backup: ${JSON.stringify(backup.answers)}`))
  }
  const restore = yield* Testing.restore(behavior, { fragments: backup })
  if (!restore.succeeded) return yield* Effect.fail(new Error(`restore: ${JSON.stringify(restore.answers)}`))
  const report = yield* Testing.conformance(behavior)
  if (!report.passed) return yield* Effect.fail(new Error(`conformance: ${JSON.stringify(report.violations)}`))
  yield* Console.log("testing: passed")
})

Effect.runPromise(program.pipe(Effect.provide(NodeFileSystem.layer))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
