// Issue 18, "faults on demand": each fault armed from the command line, the
// REST API or the Layer's options, fired once against a real orchestrator
// over real gRPC, and gone afterwards.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import type * as grpc from "@grpc/grpc-js"
import { Deferred, Effect, Exit, Fiber } from "effect"
import type { RestoreMessage } from "../../src/core/Message.js"
import * as Wire from "../../src/internal/Wire.js"
import type * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { cli } from "../support/cliHarness.js"
import { pollUntil, within } from "../support/FaultHarness.js"
import type { CallStatus, FragmentSpec, RawControl } from "../support/rawAgent.js"
import {
  backupInExecution,
  channel,
  codeName,
  expectNext,
  md5,
  metadataOf,
  openControl,
  registerAgent,
  uploadFragment
} from "../support/rawAgent.js"
import { startOrchestratorWithRest } from "./support.js"

type Api = Orchestrator.Orchestrator["Type"]

const content = Buffer.from("0123456789abcdefghij")
const fragment: FragmentSpec = { agentId: "agent-a", backupName: "nightly", fragmentId: "agent-a_0", content }

/** Answers the execution and post-actions of a backup or restore and awaits its end. */
const finish = (orchestrator: Api, control: RawControl, action: "BACKUP" | "RESTORE", actionId: string) =>
  Effect.gen(function*() {
    yield* control.answer(action, true, "Done")
    yield* expectNext(control, "PostActions")
    yield* control.answer(action, true, "Post actions completed")
    return yield* within("the action to end")(orchestrator.awaitAction(actionId))
  })

/** A backup `nightly` of one fragment, stored. */
const storedBackup = (orchestrator: Api, control: RawControl, client: grpc.Client) =>
  Effect.gen(function*() {
    const backup = yield* backupInExecution(orchestrator, control)
    expect(codeName(yield* uploadFragment(client, fragment))).toBe("OK")
    expect((yield* finish(orchestrator, control, "BACKUP", backup.id)).result).toBe("SUCCESS")
  })

const restoreInExecution = (orchestrator: Api, control: RawControl) =>
  Effect.gen(function*() {
    const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
    yield* expectNext(control, "Preparation")
    yield* expectNext(control, "FragmentListEntry")
    yield* control.answer("RESTORE", true, "Prepared")
    yield* expectNext(control, "Execution")
    return restore
  })

interface Download {
  readonly messages: Array<RestoreMessage>
  readonly status: Deferred.Deferred<CallStatus>
  readonly bytes: () => number
  readonly cancel: Effect.Effect<void>
}

/** Starts downloading the fragment on `client`; closed with the scope. */
const startDownload = (client: grpc.Client) =>
  Effect.gen(function*() {
    const status = yield* Deferred.make<CallStatus>()
    const messages: Array<RestoreMessage> = []
    const metadata = metadataOf(fragment)
    if (metadata._tag !== "Metadata") return yield* Effect.dieMessage("metadataOf made no METADATA")
    const protos = Wire.protos()
    const stream = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const stream = client.makeServerStreamRequest(
          protos.restoreMethod.path,
          protos.codecs.Metadata.encode,
          protos.codecs.RestoreData.decode,
          Wire.requestToWire(metadata.metadata)
        )
        stream.on("data", (wire: Wire.RestoreData__Output) => void messages.push(Wire.restoreFromWire(wire)))
        stream.on("status", (ended: grpc.StatusObject) =>
          Deferred.unsafeDone(status, Exit.succeed({ code: ended.code, details: ended.details })))
        stream.on("error", () => {})
        return stream
      }),
      (stream) => Effect.sync(() => stream.cancel())
    )
    const bytes = () =>
      messages.reduce((total, message) => total + (message._tag === "Content" ? message.content.length : 0), 0)
    return { messages, status, bytes, cancel: Effect.sync(() => stream.cancel()) } satisfies Download
  })

const checksumsOf = (download: Download) =>
  download.messages.flatMap((message) => (message._tag === "Checksum" ? [message.checksum] : []))

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect.pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))

describe("faults on demand (issue 18)", () => {
  it.live("abort-upload at byte N, from the CLI, refuses the upload with ABORTED there, fails the backup, and is gone after", () =>
    live(Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "agent-a")
      const armed = yield* cli(["fault", "add", "abort-upload", "--agent", "agent-a", "--at-byte", "5", "--url", url])
      expect(armed).toEqual({ code: 0, out: ["Fault 1 armed: 1  abort-upload  agent-a  atByte=5"], err: [] })
      expect((yield* cli(["fault", "list", "--url", url])).out).toEqual(["1  abort-upload  agent-a  atByte=5"])

      const backup = yield* backupInExecution(orchestrator, control)
      const status = yield* uploadFragment(client, fragment)
      expect(codeName(status)).toBe("ABORTED")
      expect(status.details).toBe("Fault injected: upload aborted at byte 5")
      yield* control.answer("BACKUP", true, "Done")
      yield* expectNext(control, "Cancel")
      yield* control.answer("BACKUP", true, "Cancelled")
      const failed = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))
      expect(failed.result).toBe("FAILURE")
      expect(failed.resultInfo).toContain("Fault injected: upload aborted at byte 5")
      expect((yield* cli(["fault", "list", "--url", url])).out).toEqual(["No faults are armed"])

      // Fired once: the next backup stores the same fragment.
      yield* orchestrator.startAction("DEFAULT", "DELETE_BACKUP", "nightly").pipe(
        Effect.flatMap((deleted) => orchestrator.awaitAction(deleted.id))
      )
      yield* storedBackup(orchestrator, control, client)
    })))

  it.live("abort-upload after the checksum, from the Layer's options, for its fragment only", () =>
    live(Effect.gen(function*() {
      const { orchestrator } = yield* startOrchestratorWithRest({
        stageTimeout: "20 seconds",
        faults: [
          { kind: "abort-upload", agentId: "agent-a", fragmentId: "agent-a_1" },
          { kind: "abort-upload", agentId: "agent-a", fragmentId: "agent-a_0", message: "disk on fire" }
        ]
      })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "agent-a")
      yield* backupInExecution(orchestrator, control)
      const status = yield* uploadFragment(client, fragment)
      expect({ code: codeName(status), details: status.details }).toEqual({ code: "ABORTED", details: "disk on fire" })
      // The other fault waits for its own fragment.
      expect((yield* orchestrator.faults.armed).map((armed) => armed.fault)).toEqual([
        { kind: "abort-upload", agentId: "agent-a", fragmentId: "agent-a_1" }
      ])
      const other = yield* uploadFragment(client, { ...fragment, fragmentId: "agent-a_1" })
      expect({ code: codeName(other), details: other.details }).toEqual({
        code: "ABORTED",
        details: "Fault injected: upload aborted after the backup file's checksum"
      })
    })))

  it.live("serve-restore, from the REST API, sends a wrong checksum, then, from the CLI, cuts the stream at byte N", () =>
    live(Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "agent-a")
      yield* storedBackup(orchestrator, control, client)

      const response = yield* Effect.promise(() =>
        fetch(`${url}/v1/faults`, {
          method: "POST",
          body: JSON.stringify({ kind: "serve-restore", agentId: "agent-a", mode: "wrong-checksum" })
        }).then(async (answer) => ({ status: answer.status, body: (await answer.json()) as unknown }))
      )
      expect(response).toEqual({
        status: 201,
        body: { id: "1", fault: { kind: "serve-restore", agentId: "agent-a", mode: "wrong-checksum" } }
      })
      const first = yield* restoreInExecution(orchestrator, control)
      const wrong = yield* startDownload(client)
      expect(codeName(yield* within("the download")(Deferred.await(wrong.status)))).toBe("OK")
      expect(Buffer.concat(wrong.messages.flatMap((m) => (m._tag === "Content" ? [m.content] : [])))).toEqual(content)
      expect(checksumsOf(wrong)).toHaveLength(1)
      expect(checksumsOf(wrong)[0]).not.toBe(md5(content))
      yield* finish(orchestrator, control, "RESTORE", first.id)

      expect((yield* cli(["fault", "add", "serve-restore", "--agent", "agent-a", "--mode", "cut", "--at-byte", "4", "--url", url])).code)
        .toBe(0)
      const second = yield* restoreInExecution(orchestrator, control)
      const cut = yield* startDownload(client)
      expect(codeName(yield* within("the download")(Deferred.await(cut.status)))).toBe("OK")
      expect(cut.bytes()).toBe(4)
      expect(checksumsOf(cut)).toEqual([])
      yield* finish(orchestrator, control, "RESTORE", second.id)

      // Both fired once: the next restore is whole.
      const third = yield* restoreInExecution(orchestrator, control)
      const whole = yield* startDownload(client)
      yield* within("the download")(Deferred.await(whole.status))
      expect(checksumsOf(whole)).toEqual([md5(content)])
      yield* finish(orchestrator, control, "RESTORE", third.id)
    })))

  it.live("serve-restore stall sends N bytes and then nothing until the agent gives up", () =>
    live(Effect.gen(function*() {
      const { orchestrator } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const client = yield* channel(orchestrator.port)
      const control = yield* registerAgent(client, "agent-a")
      yield* storedBackup(orchestrator, control, client)
      yield* orchestrator.faults.add({ kind: "serve-restore", agentId: "agent-a", mode: "stall", atByte: 3 })
      yield* restoreInExecution(orchestrator, control)
      const stalled = yield* startDownload(client)
      yield* pollUntil("3 bytes", Effect.sync(stalled.bytes), (bytes) => bytes >= 3)
      // Unfaulted, the other 17 bytes and the checksum follow within milliseconds.
      yield* Effect.sleep("300 millis")
      expect(stalled.bytes()).toBe(3)
      expect(checksumsOf(stalled)).toEqual([])
      expect(yield* Deferred.isDone(stalled.status)).toBe(false)
      // The agent gives up: its cancel ends the call, and the restore is cancelled.
      yield* stalled.cancel
      const cancelled = yield* orchestrator.cancelAction()
      yield* expectNext(control, "Cancel")
      yield* control.answer("RESTORE", true, "Cancelled")
      expect((yield* within("the restore to end")(orchestrator.awaitAction(cancelled.id))).result).toBe("FAILURE")
    })))

  it.live("end-stream, from the CLI, ends the agent's control stream with the status at the stage, and the backup fails", () =>
    live(Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const control = yield* registerAgent(yield* channel(orchestrator.port), "agent-a")
      const armed = yield* cli([
        "fault", "add", "end-stream", "--agent", "agent-a", "--stage", "EXECUTION", "--status", "UNAVAILABLE",
        "--message", "going away", "--url", url
      ])
      expect(armed.code).toBe(0)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* expectNext(control, "Preparation")
      yield* control.answer("BACKUP", true, "Prepared")
      const ended = yield* control.ended()
      expect({ code: codeName(ended), details: ended.details }).toEqual({ code: "UNAVAILABLE", details: "going away" })
      const failed = yield* within("the backup to end")(orchestrator.awaitAction(backup.id))
      expect(failed.result).toBe("FAILURE")
    })))

  it.live("refuse-registration, from the CLI, refuses the id's next registration only, with the status and text", () =>
    live(Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest()
      const armed = yield* cli([
        "fault", "add", "refuse-registration", "--agent", "agent-a", "--status", "RESOURCE_EXHAUSTED",
        "--message", "try later", "--url", url
      ])
      expect(armed.code).toBe(0)
      const refused = yield* openControl(yield* channel(orchestrator.port))
      yield* refused.register("agent-a")
      const status = yield* refused.ended()
      expect({ code: codeName(status), details: status.details }).toEqual({ code: "RESOURCE_EXHAUSTED", details: "try later" })
      yield* registerAgent(yield* channel(orchestrator.port), "agent-a")
      expect((yield* orchestrator.agents).map((agent) => agent.agentId)).toEqual(["agent-a"])
    })))

  it.live("delay-stage sends one agent's stage message late, the other's at once", () =>
    live(Effect.gen(function*() {
      const { orchestrator } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const early = yield* registerAgent(yield* channel(orchestrator.port), "agent-a")
      const late = yield* registerAgent(yield* channel(orchestrator.port), "agent-b")
      yield* orchestrator.faults.add({ kind: "delay-stage", agentId: "agent-b", stage: "PREPARATION", seconds: 1 })
      yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* expectNext(early, "Preparation")
      // A sync point: agent-b's stream answers its repeated registration in
      // order, after anything written to it before; unfaulted, its
      // PREPARATION went out with agent-a's.
      yield* late.register("agent-b")
      expect((yield* late.next())._tag).toBe("RegisterAcknowledge")
      yield* expectNext(late, "Preparation")
    })))

  it.live("hold-answer, from the CLI, holds the agent's answer before the orchestrator takes it", () =>
    live(Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest({ stageTimeout: "20 seconds" })
      const control = yield* registerAgent(yield* channel(orchestrator.port), "agent-a")
      const armed = yield* cli([
        "fault", "add", "hold-answer", "--agent", "agent-a", "--stage", "PREPARATION", "--seconds", "1", "--url", url
      ])
      expect(armed.code).toBe(0)
      yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* expectNext(control, "Preparation")
      yield* control.answer("BACKUP", true, "Prepared")
      const execution = yield* Effect.fork(expectNext(control, "Execution"))
      // Unfaulted, EXECUTION follows the answer within milliseconds; held, not before 1 s.
      yield* Effect.sleep("300 millis")
      expect(yield* Fiber.poll(execution)).toMatchObject({ _tag: "None" })
      yield* Fiber.join(execution)
    })))

  it.live("clears an action's faults when it ends unfired, and keeps refuse-registration for the next registration", () =>
    live(Effect.gen(function*() {
      const { orchestrator } = yield* startOrchestratorWithRest()
      yield* orchestrator.faults.add({ kind: "abort-upload", agentId: "agent-a", atByte: 1 })
      yield* orchestrator.faults.add({ kind: "refuse-registration", agentId: "agent-a", status: "UNAVAILABLE", message: "no" })
      const deleted = yield* orchestrator.startAction("DEFAULT", "DELETE_BACKUP", "nothing-here")
      yield* orchestrator.awaitAction(deleted.id)
      const left = yield* pollUntil("the action's faults to go", orchestrator.faults.armed, (armed) => armed.length === 1)
      expect(left.map((armed) => armed.fault.kind)).toEqual(["refuse-registration"])
    })))

  it.live("refuses a fault that does not fit its kind, with exit code 2 naming the options", () =>
    live(Effect.gen(function*() {
      const { url } = yield* startOrchestratorWithRest()
      const result = yield* cli(["fault", "add", "delay-stage", "--agent", "agent-a", "--at-byte", "3", "--url", url])
      expect(result.code).toBe(2)
      expect(result.err).toEqual([
        "bro-agent: Fault delay-stage: --at-byte does not apply; --stage is required; --seconds is required"
      ])
      const answer = yield* Effect.promise(() =>
        fetch(`${url}/v1/faults`, { method: "POST", body: JSON.stringify({ kind: "stall" }) }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { statusCode: number; message: string }
        }))
      )
      expect(answer.status).toBe(400)
      expect(answer.body.statusCode).toBe(400)
      expect(answer.body.message).toMatch(/^Invalid fault: /)
    })))
})
