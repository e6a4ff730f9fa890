import { FileSystem } from "@effect/platform"
import { describe, expect, it as vitest, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { join } from "node:path"
import { AgentBehavior } from "bro-agent"
import { Testing } from "bro-agent/testing"
import { content, folderBehavior, softwareVersion } from "./support.js"

const tempFolder = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "kit-" }))

layer(Testing.layer)("the test kit", (it) => {
  describe("backup", () => {
    it.effect("runs an API 2.0 backup as its one stage", () =>
      Effect.gen(function*() {
        const result = yield* Testing.backup(folderBehavior("/nowhere"), { apiVersion: "2.0" })
        expect(result.apiVersion).toBe("2.0")
        expect(result.answers.map((answer) => answer.step)).toEqual(["PREPARATION"])
        expect(result.fragments[0]?.backupFile?.text).toBe(content)
      }))

    it.effect("sends only the stages asked for", () =>
      Effect.gen(function*() {
        const result = yield* Testing.backup(folderBehavior("/nowhere"), { stages: ["PREPARATION"] })
        expect(result.answers.map((answer) => answer.step)).toEqual(["PREPARATION"])
        expect(result.fragments).toEqual([])
      }))

    it.effect("cancels part-way through an upload: the call is cancelled, the cancel answered, nothing left open", () =>
      Effect.gen(function*() {
        const result = yield* Testing.backup(folderBehavior("/nowhere"), {
          cancel: { stage: "EXECUTION", afterBytes: 1000 },
          agent: { chunkSize: 16 * 1024 }
        })
        expect(result.cancelledAfterBytes).toBeGreaterThanOrEqual(1000)
        expect(result.cancelledAfterBytes).toBeLessThan(content.length)
        expect(result.answers.map((answer) => [answer.step, answer.success])).toEqual([
          ["PREPARATION", true],
          ["CANCEL", true]
        ])
        expect(result.fragments.map((fragment) => fragment.outcome)).toEqual(["cancelled"])
        expect(result.leftovers.openCalls).toEqual([])
        expect(result.violations).toEqual([])
      }))

    it.effect("cancels after a stage was answered, as BRO does", () =>
      Effect.gen(function*() {
        const result = yield* Testing.backup(folderBehavior("/nowhere"), { cancel: { stage: "PREPARATION" } })
        expect(result.answers.map((answer) => answer.step)).toEqual(["PREPARATION", "CANCEL"])
      }))

    it.effect("aborts an upload at byte N: the stage fails and BRO's cancel is answered", () =>
      Effect.gen(function*() {
        const result = yield* Testing.backup(folderBehavior("/nowhere"), { fault: { abortAt: 5000 } })
        expect(result.answers.map((answer) => [answer.step, answer.success])).toEqual([
          ["PREPARATION", true],
          ["EXECUTION", false],
          ["CANCEL", true]
        ])
        expect(result.answers[1]?.message).toContain("The test aborted the upload")
        expect(result.fragments.map((fragment) => fragment.outcome)).toEqual(["refused"])
        expect(result.violations).toEqual([])
      }))

    it.effect("stalls an upload on the test clock: the data-channel timeout fires at once", () =>
      Effect.gen(function*() {
        const result = yield* Testing.backup(folderBehavior("/nowhere"), { fault: { stallAt: 1 }, clock: "test" })
        expect(result.answers[1]?.success).toBe(false)
        expect(result.answers[1]?.message).toContain("No progress on the data channel for 30s")
      }))
  })

  describe("restore", () => {
    it.scoped("restores what a backup sent, with the API 4.0 placeholder and fragment-list entries", () =>
      Effect.gen(function*() {
        const folder = yield* tempFolder
        const backup = yield* Testing.backup(folderBehavior(folder))
        const result = yield* Testing.restore(folderBehavior(folder), { fragments: backup, restoreFolder: folder })
        expect(result.answers.map((answer) => [answer.step, answer.success])).toEqual([
          ["PREPARATION", true],
          ["EXECUTION", true],
          ["POST_ACTIONS", true]
        ])
        expect(result.downloads.map((download) => [download.fragmentId, download.outcome, download.bytesServed])).toEqual([
          ["kit-agent_0", "completed", content.length]
        ])
        expect(result.folder.map((entry) => [entry.path, entry.size])).toEqual([["data.txt", content.length], ["meta.json", 2]])
        expect(result.folderChanges.added).toEqual(["data.txt", "meta.json"])
        expect(result.violations).toEqual([])
      }))

    it.scoped("hands the agent the fragments in the preparation under API 3.0", () =>
      Effect.gen(function*() {
        const seen: Array<string> = []
        const behavior = AgentBehavior.make({
          registration: { agentId: "kit-agent", softwareVersion, apiVersion: "3.0" },
          executeBackup: () => Effect.void,
          prepareRestore: (context) => Effect.sync(() => void seen.push(...context.fragments.map((f) => f.fragmentId))),
          executeRestore: () => Effect.void
        })
        const fragments = [
          { fragmentId: "a", backupFile: Testing.fromBytes("a.txt", "alpha") },
          { fragmentId: "b", backupFile: Testing.fromBytes("b.txt", "beta") }
        ]
        const result = yield* Testing.restore(behavior, { fragments })
        expect(result.succeeded).toBe(true)
        expect(seen).toEqual(["a", "b"])
      }))

    it.scoped("serves a fragment read from a file", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const source = yield* tempFolder
        const folder = yield* tempFolder
        yield* fs.writeFileString(join(source, "notes.txt"), "from a file")
        const result = yield* Testing.restore(folderBehavior(folder), {
          fragments: [{ fragmentId: "notes", backupFile: Testing.fromPath(join(source, "notes.txt")) }],
          restoreFolder: folder
        })
        expect(result.succeeded).toBe(true)
        expect(yield* fs.readFileString(join(folder, "notes.txt"))).toBe("from a file")
      }))

    const faults = [
      ["ABORTED at byte N", { abortAt: 1000 }, "The test aborted the download after 1000 bytes"],
      ["a wrong checksum", { wrongChecksum: true }, "checksum"],
      ["an unsafe file name", { unsafeFileName: "../outside.txt" }, "outside.txt"]
    ] as const
    for (const [name, fault, text] of faults) {
      it.scoped(`fails on ${name} and leaves the folder as it was`, () =>
        Effect.gen(function*() {
          const folder = yield* tempFolder
          const backup = yield* Testing.backup(folderBehavior(folder))
          const result = yield* Testing.restore(folderBehavior(folder), { fragments: backup, restoreFolder: folder, fault })
          expect(result.answers.map((answer) => [answer.step, answer.success])).toEqual([
            ["PREPARATION", true],
            ["EXECUTION", false],
            ["CANCEL", true]
          ])
          expect(result.answers[1]?.message).toContain(text)
          expect(result.cleanedUp).toBe(true)
          expect(result.folder).toEqual([])
          expect(result.violations).toEqual([])
        }))
    }

    it.scoped("fails on a stalled stream after the agent's data-channel timeout, under the live clock", () =>
      Effect.gen(function*() {
        const folder = yield* tempFolder
        const backup = yield* Testing.backup(folderBehavior(folder))
        const result = yield* Testing.restore(folderBehavior(folder), {
          fragments: backup,
          restoreFolder: folder,
          fault: { stallAt: 100 },
          agent: { dataChannelTimeout: "200 millis" }
        })
        expect(result.answers[1]?.message).toContain("No progress on the data channel for 200ms")
        expect(result.downloads.map((download) => download.outcome)).toEqual(["failed"])
        expect(result.cleanedUp).toBe(true)
      }))

    it.scoped("cancels part-way through a download", () =>
      Effect.gen(function*() {
        const folder = yield* tempFolder
        const backup = yield* Testing.backup(folderBehavior(folder))
        const result = yield* Testing.restore(folderBehavior(folder), {
          fragments: backup,
          restoreFolder: folder,
          cancel: { stage: "EXECUTION", afterBytes: 70_000 }
        })
        expect(result.cancelledAfterBytes).toBe(70_000)
        expect(result.answers.map((answer) => answer.step)).toEqual(["PREPARATION", "CANCEL"])
        expect(result.downloads.map((download) => download.outcome)).toEqual(["interrupted"])
        expect(result.cleanedUp).toBe(true)
      }))
  })

  describe("the orchestrator going away and refusing", () => {
    it.effect("re-registers after the orchestrator went away mid-upload, answers nothing of the lost backup, backs up again", () =>
      Effect.gen(function*() {
        const result = yield* Testing.reconnect(folderBehavior("/nowhere"), { afterBytes: 1000, clock: "test" })
        expect(result.registrations).toBe(2)
        expect(result.answersUnasked).toEqual([])
        expect(result.backupAfter?.succeeded).toBe(true)
        expect(result.backupAfter?.fragments[0]?.backupFile?.text).toBe(content)
        expect(result.violations).toEqual([])
      }))

    it.effect("stops with RegistrationRejected when the orchestrator refuses the registration", () =>
      Effect.gen(function*() {
        const result = yield* Testing.refuseRegistration(folderBehavior("/nowhere"), {
          details: "<a/b> is an invalid id\n"
        })
        expect(result.attempts).toBe(1)
        expect(result.registered).toBe(false)
        expect(result.stoppedWith?._tag).toBe("RegistrationRejected")
        expect(result.stoppedWith?.message).toContain("<a/b> is an invalid id")
      }))

    it.effect("registers once the id is free again (ALREADY_EXISTS, on the test clock)", () =>
      Effect.gen(function*() {
        const result = yield* Testing.refuseRegistration(folderBehavior("/nowhere"), {
          status: "ALREADY_EXISTS",
          details: "Failed to register agent because id kit-agent is already used",
          times: 2,
          clock: "test"
        })
        expect(result).toEqual(new Testing.RegistrationResult({ attempts: 3, registered: true, stoppedWith: undefined }))
      }))
  })

  describe("misuse", () => {
    it.effect("refuses bad options, naming each field", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Testing.backup(folderBehavior("/nowhere"), {
            cancel: { stage: "EXECUTION", afterBytes: 0 },
            answerTimeout: -1,
            backupName: ""
          })
        )
        expect(error._tag).toBe("InvalidTestOptions")
        expect(error.message).toBe(
          "Invalid options for Testing.backup: answerTimeout must be longer than zero; backupName must not be empty; " +
            "cancel.afterBytes must be a whole number of bytes, at least 1"
        )
      }))

    it.effect("passes an invalid registration through as the agent's own error", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Testing.backup(folderBehavior("/nowhere", {
          registration: { agentId: "a/b", softwareVersion }
        })))
        expect(error._tag).toBe("InvalidRegistrationInformation")
      }))
  })
})

vitest.live("refuses the test clock where there is none", () =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Testing.backup(folderBehavior("/nowhere"), { clock: "test" }))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("clock \"test\" needs the TestClock")
  }).pipe(Effect.provide(Testing.layer)))
