// Issue 14, the "Also" line: what an action tells about its failure. When
// several fragments are refused, the action's result names the first (the
// cause; the others often follow from it); and the cancel round is logged,
// with each agent's answer to it.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, HashMap, Logger, LogLevel } from "effect"
import { within } from "../support/FaultHarness.js"
import { backupInExecution, channel, codeName, expectNext, registerAgent, uploadFragment, devOrchestrator } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

/** A Logger that keeps each entry as one line of text: its level, message and annotations. */
const recordingLogger = () => {
  const lines: Array<string> = []
  const text = (value: unknown): string =>
    Array.isArray(value) ? value.map(text).join(" ") : typeof value === "string" ? value : JSON.stringify(value) ?? String(value)
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    const annotated = [...HashMap.toEntries(annotations)].map(([key, value]) => `${key}=${text(value)}`).join(" ")
    lines.push(`${logLevel.label} ${text(message)} ${annotated}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("what a failed action tells (issue 14, Also)", () => {
  it.live("names the first refused fragment in the action's result when several are refused", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* devOrchestrator
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "careless-agent")
      const backup = yield* backupInExecution(orchestrator, control)
      // Two fragments whose checksums differ from their bytes, one after the other.
      for (const fragmentId of ["first-refused", "second-refused"]) {
        const status = yield* uploadFragment(client, {
          agentId: "careless-agent",
          backupName: "nightly",
          fragmentId,
          checksum: "0".repeat(32)
        })
        expect(codeName(status)).toBe("ABORTED")
      }
      yield* control.answer("BACKUP", true, "Backed up")
      const cancel = yield* expectNext(control, "Cancel")
      yield* control.answer(cancel.action, true, "Cancel actions completed")
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))

      expect(finished.result).toBe("FAILURE")
      expect(finished.resultInfo).toMatch(/first-refused/)
    }).pipe(Effect.scoped, live))

  it.live("logs the cancel round with each agent's answer to it", () => {
    const recording = recordingLogger()
    return Effect.gen(function*() {
      const { orchestrator } = yield* devOrchestrator
      const failing = yield* registerAgent(yield* channel(orchestrator.port), "failing-agent")
      const bystander = yield* registerAgent(yield* channel(orchestrator.port), "bystander-agent")
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      for (const control of [failing, bystander]) {
        yield* expectNext(control, "Preparation")
      }
      yield* failing.answer("BACKUP", false, "The database is locked")
      yield* bystander.answer("BACKUP", true, "Prepared")
      yield* expectNext(failing, "Cancel")
      yield* expectNext(bystander, "Cancel")
      yield* failing.answer("BACKUP", true, "failing-agent cleaned up its locks")
      yield* bystander.answer("BACKUP", false, "bystander-agent could not remove its snapshot")
      const finished = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))
      expect(finished.result).toBe("FAILURE")

      const cancelLines = recording.lines.filter((line) => /cancel/i.test(line))
      for (const answer of ["failing-agent cleaned up its locks", "bystander-agent could not remove its snapshot"]) {
        expect(cancelLines.filter((line) => line.includes(answer))).not.toEqual([])
      }
    }).pipe(
      Effect.scoped,
      live,
      Effect.provide(recording.layer),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })
})
