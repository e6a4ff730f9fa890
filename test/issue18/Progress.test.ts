// Issue 18, "live byte-level progress": the REST API shows each data call's
// bytes done, rate and time left beside BRO's progress fields; the CLI shows
// them while it waits, as plain lines, or as progress bars on a terminal.
import { FetchHttpClient } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import * as Cli from "../../cli/Cli.js"
import { FilePart } from "../../src/core/Message.js"
import { capturingConsole, cli } from "../support/cliHarness.js"
import { pollUntil, within } from "../support/FaultHarness.js"
import { channel, codeName, expectNext, md5, metadataOf, openUpload, registerAgent, uploadFragment } from "../support/rawAgent.js"
import { startDownload } from "./downloadSupport.js"
import { getJson, startOrchestratorWithRest } from "./support.js"

const content = Buffer.from("0123456789abcdefghijklmnopqrst")
const spec = { agentId: "agent-a", backupName: "nightly", fragmentId: "f1", content }

describe("live byte-level progress (issue 18)", () => {
  it.live("shows an upload's bytes as they arrive, in the REST API and, while backup create waits, as plain lines", () =>
    Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "agent-a")
      const lines = yield* Queue.unbounded<string>()
      const out: Array<string> = []
      const err: Array<string> = []
      const creating = yield* Cli.run(["backup", "create", "nightly", "--url", url], { pollInterval: "20 millis" }).pipe(
        Effect.withConsole(yield* capturingConsole(out, err, lines)),
        Effect.provide(FetchHttpClient.layer),
        Effect.fork
      )
      yield* expectNext(control, "Preparation")
      yield* control.answer("BACKUP", true, "Prepared")
      yield* expectNext(control, "Execution")
      const upload = yield* openUpload(client)
      yield* upload.write(metadataOf(spec))
      yield* upload.write(FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }))
      yield* upload.write(FilePart.Content({ file: "BACKUP_FILE", content: content.subarray(0, 10) }))

      const actionId = (out[0] ?? "").replace(/^Action (\d+) .*$/, "$1")
      const partway = yield* pollUntil(
        "10 bytes in the REST API",
        getJson(`${url}/v1/backup-manager/DEFAULT/action/${actionId}`),
        (answer) => JSON.stringify(answer.body).includes("\"bytesDone\":10")
      )
      expect(partway.body).toMatchObject({
        state: "RUNNING",
        transfers: [{ agentId: "agent-a", fragmentId: "f1", direction: "upload", bytesDone: 10, bytesTotal: 30, state: "RUNNING" }]
      })
      const plain = /^ {2}agent-a\/f1 {2}upload {2}10 B of 30 B \(33%\) {2}\d+(\.\d)? (B|KiB|MiB)\/s( {2}\d+ s left)?$/
      yield* within("the CLI's progress line")(Effect.repeat(Queue.take(lines), { until: (line) => plain.test(line) }))

      yield* upload.write(FilePart.Content({ file: "BACKUP_FILE", content: content.subarray(10) }))
      yield* upload.write(FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5(content) }))
      expect(codeName(yield* upload.finish())).toBe("OK")
      yield* control.answer("BACKUP", true, "Done")
      yield* expectNext(control, "PostActions")
      yield* control.answer("BACKUP", true, "Post actions completed")
      expect(yield* Fiber.join(creating)).toBe(0)
      expect(out.some((line) => /^ {2}agent-a\/f1 {2}upload {2}30 B of 30 B \(100%\) {2}.*\/s {2}done$/.test(line))).toBe(true)
      expect(err).toEqual([])
      // The action keeps its transfers once finished; `action show` lists them.
      const shown = yield* cli(["action", "show", actionId, "--url", url])
      expect(shown.out).toContain("Transfers:")
      expect(shown.out.at(-1)).toMatch(/^ {2}agent-a\/f1 {2}upload {2}30 B of 30 B \(100%\) .* done$/)
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))

  it.live("on a terminal, redraws the stage and a progress bar per download in place", () =>
    Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "agent-a")
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* expectNext(control, "Preparation")
      yield* control.answer("BACKUP", true, "Prepared")
      yield* expectNext(control, "Execution")
      expect(codeName(yield* uploadFragment(client, spec))).toBe("OK")
      yield* control.answer("BACKUP", true, "Done")
      yield* expectNext(control, "PostActions")
      yield* control.answer("BACKUP", true, "Post actions completed")
      yield* orchestrator.awaitAction(backup.id)

      const restoring = yield* Effect.fork(
        cli(["backup", "restore", "nightly", "--url", url], { pollInterval: "20 millis", terminal: true })
      )
      yield* expectNext(control, "Preparation")
      yield* expectNext(control, "FragmentListEntry")
      yield* control.answer("RESTORE", true, "Prepared")
      yield* expectNext(control, "Execution")
      yield* Effect.scoped(Effect.gen(function*() {
        const download = yield* startDownload(client, spec)
        yield* within("the download")(download.done)
      }))
      yield* control.answer("RESTORE", true, "Done")
      yield* expectNext(control, "PostActions")
      yield* control.answer("RESTORE", true, "Post actions completed")
      const result = yield* Fiber.join(restoring)
      expect(result.code).toBe(0)
      const drawn = result.out.join("\n")
      expect(drawn).toContain("\r\u001b[2K  agent-a/f1  download  [####################] 30 B of 30 B (100%)")
      // Each redraw moves up over the block it replaces (the action was polled at least once before it finished).
      expect(drawn).toMatch(/\u001b\[[12]A\r\u001b\[2K/)
      expect(drawn).toContain("\r\u001b[2K100%")
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
})
