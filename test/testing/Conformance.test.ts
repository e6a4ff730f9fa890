import { FileSystem } from "@effect/platform"
import { expect, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { OrchestratorTransport } from "bro-agent"
import { Testing } from "bro-agent/testing"
import { folderBehavior, leavesFileOpen, softwareVersion, writesOutside } from "./support.js"

const tempFolder = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "kit-" }))

const rulesBroken = (report: Testing.ConformanceReport) => [...new Set(report.violations.map((violation) => violation.rule))]

// An agent written by hand on the transport, which answers every stage twice.
const answersTwice = Testing.agent(Effect.scoped(Effect.gen(function*() {
  const transport = yield* OrchestratorTransport.OrchestratorTransport
  const control = yield* transport.openControl
  yield* control.send({
    _tag: "Register",
    agentId: "twice",
    scope: "",
    apiVersion: "3.0",
    softwareVersion: { ...softwareVersion, commercialVersion: "1", semanticVersion: "1" },
    backendType: "BRO",
    features: [],
    action: "REGISTER"
  })
  yield* control.messages.pipe(Stream.runForEach((message) => {
    if (message._tag === "RegisterAcknowledge" || message._tag === "Unsupported" || message._tag === "FragmentListEntry") {
      return Effect.void
    }
    const answer = { _tag: "StageComplete" as const, action: message.action, success: true, agentId: "twice", message: "done" }
    return message._tag === "Cancel"
      ? control.send(answer)
      : Effect.zipRight(control.send(answer), control.send(answer))
  }))
})))

layer(Testing.layer)("Testing.conformance", (it) => {
  it.scoped("passes a behaviour that follows every rule, through every sequence", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const report = yield* Testing.conformance(folderBehavior(folder), { restoreFolder: folder })
      expect(report.violations).toEqual([])
      expect(report.passed).toBe(true)
      expect(report.sequences.map((sequence) => sequence.name)).toEqual([
        "idle messages",
        "backup",
        "backup cancelled after PREPARATION",
        "backup cancelled after EXECUTION",
        "backup cancelled after POST_ACTIONS",
        "backup cancelled part-way through an upload",
        "upload aborted by the orchestrator",
        "restore",
        "restore cancelled after PREPARATION",
        "restore cancelled after EXECUTION",
        "restore cancelled after POST_ACTIONS",
        "unexpected POST_ACTIONS after the restore preparation",
        "restore cancelled part-way through a download",
        "download aborted by the orchestrator",
        "download stalled",
        "download with a wrong checksum",
        "download under an unsafe file name",
        "the orchestrator goes away during the backup execution"
      ])
      const idle = report.sequences[0]
      expect(idle?.answers.map((answer) => [answer.step, answer.message])).toEqual([
        ["CANCEL", "Nothing to cancel: no action since registration"]
      ])
    }))

  it.scoped("runs the sequences for every API version asked for", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const report = yield* Testing.conformance(folderBehavior(folder), { restoreFolder: folder, apiVersions: ["2.0", "4.0"] })
      expect(report.passed).toBe(true)
      expect(report.sequences.filter((sequence) => sequence.name.startsWith("API 2.0: backup cancelled after"))
        .map((sequence) => sequence.name)).toEqual(["API 2.0: backup cancelled after PREPARATION"])
      expect(report.sequences.some((sequence) => sequence.name === "API 4.0: restore")).toBe(true)
    }))

  it.scoped("reports an agent that answers each stage twice", () =>
    Effect.gen(function*() {
      const report = yield* Testing.conformance(answersTwice, { answerTimeout: "1 second" })
      // It never registers again either, having no reconnection at all.
      expect(rulesBroken(report)).toEqual(["ExactlyOneAnswerPerStage", "RegistersAgain"])
      const backup = report.sequences.find((sequence) => sequence.name === "backup")
      expect(backup?.answers.map((answer) => answer.step)).toEqual(["PREPARATION", "EXECUTION", "POST_ACTIONS", "NONE", "NONE", "NONE"])
    }))

  it.scoped("reports a behaviour that ignores the cancel", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const report = yield* Testing.conformance(
        folderBehavior(folder, { cancel: () => Effect.never }),
        { restoreFolder: folder, answerTimeout: "300 millis" }
      )
      // The agent's cancel step runs before it registers again, so it never does.
      expect(rulesBroken(report)).toEqual(["EveryCancelAnswered", "RegistersAgain"])
      expect(report.violations[0]).toEqual(new Testing.Violation({
        rule: "EveryCancelAnswered",
        sequence: "backup cancelled after PREPARATION",
        detail: "the cancel got no answer within 300ms"
      }))
    }))

  it.scoped("reports a behaviour that leaves a file open", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const report = yield* Testing.conformance(folderBehavior(folder, { prepareBackup: () => leavesFileOpen(folder) }), {
        restoreFolder: folder
      })
      expect(rulesBroken(report)).toEqual(["NoFileLeftOpen"])
      expect(report.violations[0]?.detail).toBe(`${folder}/left-open.txt was open when the PREPARATION answer came`)
    }))

  it.scoped("reports a behaviour that writes outside the restore folder", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const report = yield* Testing.conformance(folderBehavior(folder, { postRestore: () => writesOutside(folder) }), {
        restoreFolder: folder
      })
      expect(rulesBroken(report)).toEqual(["NothingWrittenOutsideRestoreFolder"])
      expect(report.violations[0]?.detail).toContain("outside.txt was written, outside the restore folder")
    }))
})
