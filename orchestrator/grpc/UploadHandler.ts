/**
 * `DataInterface.backup`: one fragment upload, checked as BRO checks it
 * (metadata first, for the running backup, from a participant, in a stage
 * that takes fragments; file parts in order; checksums) and stored in the
 * backup's folder. A refused fragment fails its agent's stage.
 *
 * One fiber reads the call's messages in order; the call stops reading while
 * that fiber is behind or the orchestrator holds too much upload content
 * (`FlowControl`).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type * as grpc from "@grpc/grpc-js"
import { Context, Data, Effect, Either, ExecutionStrategy, Exit, Layer, Queue, Scope } from "effect"
import { join } from "node:path"
import type { BackupMessage, FilePart, FragmentRequest } from "../../src/core/Message.js"
import type { StatusCode } from "../../src/core/Status.js"
import * as Status from "../../src/core/Status.js"
import type { Md5 } from "../../src/internal/Checksum.js"
import { md5 } from "../../src/internal/Checksum.js"
import * as RestoreReader from "../../src/internal/RestoreReader.js"
import * as Wire from "../../src/internal/Wire.js"
import { OrchestratorEvents } from "../Events.js"
import { Faults, matching } from "../Faults.js"
import { Transfers } from "../Transfers.js"
import { FlowControl } from "../FlowControl.js"
import type { Job } from "../jobs/Job.js"
import { JobRunner } from "../JobRunner.js"
import type { StoredFile, StoredFragment } from "../Model.js"
import { OrchestratorEvent } from "../Model.js"
import { fileNameProblem, idProblem } from "../Names.js"
import * as Quote from "../Quote.js"
import type { JobStage } from "../StageProtocol.js"
import { BackupStore } from "../Storage.js"
import { strangerProblem } from "./CallIdentity.js"
import { peerOf } from "./Peer.js"
import { actionEnded, takesFragments, tooLate } from "./UploadWindow.js"

/**
 * An upload call, as grpc-js hands it to the server, and how to answer it.
 *
 * @since 0.1.0
 * @category models
 */
export type UploadCall = grpc.ServerReadableStream<Wire.BackupData__Output, object>

/**
 * Handles upload calls.
 *
 * @since 0.1.0
 * @category tags
 */
export class UploadHandler extends Context.Tag("bro-agent/orchestrator/UploadHandler")<
  UploadHandler,
  { readonly handle: (call: UploadCall, respond: grpc.sendUnaryData<object>) => Effect.Effect<void> }
>() {}

type UploadEvent =
  | { readonly _tag: "Message"; readonly message: BackupMessage }
  | { readonly _tag: "End" }
  | { readonly _tag: "Cancelled" }

class Refused extends Data.TaggedError("Refused")<{ readonly reason: string }> {}

// Why BRO would refuse this upload's metadata, or undefined.
const uploadProblem = (job: Job | undefined, stage: JobStage | undefined, request: FragmentRequest): string | undefined => {
  if (job === undefined || job.kind !== "CREATE_BACKUP") {
    return "Orchestrator not expecting backup. No create-backup job is in progress."
  }
  const fragment = request.fragment
  for (const [name, value] of [
    ["agentId", request.agentId],
    ["backupName", request.backupName],
    ["fragment version", fragment.version],
    ["fragment sizeInBytes", fragment.sizeInBytes]
  ] as const) {
    if (value === "") return `The ${name} of the metadata is empty`
  }
  if (idProblem(fragment.fragmentId) !== undefined) return `<${Quote.quote(fragment.fragmentId)}> is an invalid fragment id`
  if (request.backupName !== job.backupName) return `Backup ${Quote.quote(request.backupName)} is not the one being created`
  const agent = job.participants.find((each) => each.info.agentId === request.agentId)
  if (agent === undefined) return `Agent ${Quote.quote(request.agentId)} does not take part in backup ${job.backupName}`
  if (!takesFragments(stage, agent)) return `Orchestrator not expecting a fragment of agent ${request.agentId} in stage ${stage}`
  return undefined
}

const messageBytes = (message: BackupMessage) => (message._tag === "Content" ? message.content.length : 0)

/**
 * The upload handler of one orchestrator.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  UploadHandler,
  never,
  JobRunner | BackupStore | FlowControl | OrchestratorEvents | Faults | Transfers | FileSystem.FileSystem
> = Layer.effect(
  UploadHandler,
  Effect.gen(function*() {
    const runner = yield* JobRunner
    const storage = yield* BackupStore
    const budget = (yield* FlowControl).uploads
    const events = yield* OrchestratorEvents
    const fs = yield* FileSystem.FileSystem
    const faults = yield* Faults
    const transfers = yield* Transfers

    const handle = (call: UploadCall, respond: grpc.sendUnaryData<object>) => {
      const peer = peerOf(call)
      return Effect.gen(function*() {
        const inbox = yield* Queue.unbounded<UploadEvent>()
        // Flow control: a call stops reading while its fiber is behind, or while
        // the orchestrator holds too much upload content.
        let queued = 0
        let held = 0
        let closed = false
        let paused = false
        const resume = () => {
          if (!paused || queued > 2 || budget.held() > budget.low) return
          paused = false
          budget.stopWaiting(resume)
          call.resume()
        }
        // Whatever this call still holds leaves the budget with it.
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            closed = true
            call.removeAllListeners("data")
            budget.stopWaiting(resume)
            budget.release(held)
            held = 0
          })
        )
        yield* Effect.sync(() => {
          call.on("data", (wire: Wire.BackupData__Output) => {
            if (closed) return
            const message = Wire.backupFromWire(wire)
            queued++
            held += messageBytes(message)
            budget.hold(messageBytes(message))
            inbox.unsafeOffer({ _tag: "Message", message })
            if (!paused && (queued >= 8 || budget.held() > budget.high)) {
              paused = true
              budget.waitForRoom(resume)
              call.pause()
            }
          })
          call.on("end", () => inbox.unsafeOffer({ _tag: "End" }))
          call.on("cancelled", () => inbox.unsafeOffer({ _tag: "Cancelled" }))
          call.on("error", () => inbox.unsafeOffer({ _tag: "Cancelled" }))
        })
        const next = Effect.tap(Queue.take(inbox), (event) =>
          Effect.sync(() => {
            if (event._tag !== "Message") return
            queued--
            held -= messageBytes(event.message)
            budget.release(messageBytes(event.message))
            resume()
          }))
        let answered = false
        const answer = (code: StatusCode, details: string) =>
          Effect.sync(() => {
            if (answered) return
            answered = true
            if (code === "OK") respond(null, {})
            else respond({ code: Status.toNumber(code), details: Quote.details(details) })
            call.removeAllListeners("data")
          })

        const first = yield* next
        if (first._tag === "Cancelled") return
        if (first._tag === "End" || first.message._tag !== "Metadata") {
          yield* answer("ABORTED", "The first message of a backup must be METADATA")
          return
        }
        const request = first.message.metadata
        const job = yield* runner.job
        // Another client's call fails no stage of the agent it names, whatever else is wrong with it.
        const stranger = strangerProblem(job?.participants, request.agentId, peer)
        if (stranger !== undefined) {
          yield* Effect.logWarning(`Refused an upload in the name of a participant: ${stranger}`)
          return yield* answer("PERMISSION_DENIED", stranger)
        }
        const stage = job === undefined ? undefined : yield* job.stage
        const problem = uploadProblem(job, stage, request)
        const fragmentId = request.fragment.fragmentId
        const refuse = (reason: string) =>
          Effect.gen(function*() {
            // The failure is recorded before the agent hears of it, and before the
            // upload stops counting as open: the stage cannot end without it.
            // Whatever the reason, even bad metadata, a refused fragment of a
            // participant fails its stage (an agent may answer success regardless).
            if (job?.kind === "CREATE_BACKUP") {
              yield* job.failFragment(request.agentId, `Fragment ${Quote.quote(fragmentId)} failed: ${reason}`)
            }
            yield* answer("ABORTED", reason)
            // An upload its agent cancelled (its backup was cancelled) is not a
            // refusal, though Node's HTTP/2 may end its stream just before the reset.
            yield* Effect.async<void>((resume) => {
              const next = setImmediate(() => resume(Effect.void))
              return Effect.sync(() => clearImmediate(next))
            })
            if (call.cancelled) return
            yield* events.publish(OrchestratorEvent.FragmentRefused({ agentId: request.agentId, fragmentId, reason }))
          })
        if (job === undefined || problem !== undefined) {
          yield* refuse(problem ?? "No job")
          return
        }

        const abort = yield* faults.take(matching("abort-upload", request.agentId, { fragmentId }))
        const aborted = () =>
          new Refused({
            reason: abort?.message ??
              (abort?.atByte === undefined
                ? "Fault injected: upload aborted after the backup file's checksum"
                : `Fault injected: upload aborted at byte ${abort.atByte}`)
          })
        let received = 0
        const declared = Number(request.fragment.sizeInBytes)
        const transfer = yield* transfers.start(job.id, {
          agentId: request.agentId,
          fragmentId,
          direction: "upload",
          bytesTotal: Number.isFinite(declared) && declared > 0 ? declared : 0
        })
        let uploaded = false

        // The upload: its folder goes when it ends, before the agent hears how.
        const receive = Effect.gen(function*() {
          let committed = false
          const folder = yield* Effect.acquireRelease(
            storage.makeUploadFolder(job.manager, job.backupName, request.agentId),
            (folder) => (committed ? Effect.void : fs.remove(folder, { recursive: true }).pipe(Effect.ignore))
          )
          let reader: RestoreReader.ReaderState = RestoreReader.initial
          // The file being written and its MD5, from its name to its checksum:
          // its handle is open only that long (a thousand uploads at once,
          // each with a custom-metadata file, would hold two each), in a
          // scope of its own that the upload's closes too.
          const uploadScope = yield* Effect.scope
          let file: { readonly handle: FileSystem.File; readonly hash: Md5; readonly scope: Scope.CloseableScope } | undefined
          const closeFile = Effect.suspend(() => {
            const open = file
            file = undefined
            return open === undefined ? Effect.void : Scope.close(open.scope, Exit.void)
          })
          const stored: { backupFile?: StoredFile; customMetadataFile?: StoredFile } = {}
          const subfolder = (part: FilePart) => join(folder, part.file === "BACKUP_FILE" ? "data" : "customMetadata")

          for (;;) {
            const event = yield* next
            if (event._tag === "Cancelled") {
              if (!answered) yield* job.failFragment(request.agentId, `The upload of fragment ${fragmentId} was cancelled`)
              return
            }
            if (event._tag === "End") {
              const ended = RestoreReader.end(reader)
              if (Either.isLeft(ended)) return yield* Effect.fail(new Refused({ reason: ended.left.reason }))
              const backupFile = stored.backupFile
              if (backupFile === undefined) return yield* Effect.fail(new Refused({ reason: "The backup file is missing" }))
              const fragment: StoredFragment = {
                agentId: request.agentId,
                fragmentId,
                version: request.fragment.version,
                sizeInBytes: request.fragment.sizeInBytes,
                customInformation: request.fragment.customInformation,
                backupFile,
                ...(stored.customMetadataFile === undefined ? {} : { customMetadataFile: stored.customMetadataFile })
              }
              const late = yield* Effect.flatMap(runner.job, (running) => tooLate(running, job, request.agentId))
              if (late !== undefined) return yield* Effect.fail(new Refused({ reason: late }))
              yield* fs.writeFileString(join(folder, "Fragment.json"), JSON.stringify(fragment, null, 2))
              const kept = yield* job.storeFragment(
                `${request.agentId}/${fragmentId}`,
                Effect.as(storage.commitUpload(folder, job.manager, job.backupName, request.agentId, fragmentId), fragment)
              )
              if (!kept) return yield* Effect.fail(new Refused({ reason: actionEnded(job) }))
              committed = true
              uploaded = true
              yield* answer("OK", "")
              yield* events.publish(OrchestratorEvent.FragmentStored({
                actionId: job.id,
                agentId: request.agentId,
                fragmentId,
                size: backupFile.size
              }))
              return
            }
            const message = event.message
            if (message._tag === "Metadata") return yield* Effect.fail(new Refused({ reason: "A second METADATA arrived" }))
            // Refused when it arrives, not when the file system refuses it (or its `.md5`) later.
            const badName = message._tag === "FileName" ? fileNameProblem(message.fileName) : undefined
            if (badName !== undefined) return yield* Effect.fail(new Refused({ reason: `Invalid file name: ${badName}` }))
            if (message._tag === "Content" && message.file === "BACKUP_FILE") yield* transfer.add(message.content.length)
            if (abort?.atByte !== undefined && message._tag === "Content") {
              received += message.content.length
              if (received >= abort.atByte) return yield* Effect.fail(aborted())
            }
            const read = RestoreReader.read(reader, message)
            if (Either.isLeft(read)) return yield* Effect.fail(new Refused({ reason: read.left.reason }))
            reader = read.right.state
            const output = read.right.output
            // The reader takes a new file name only after the last file's checksum, which closed it.
            if (output?._tag === "FileStarted" && message._tag === "FileName") {
              yield* fs.makeDirectory(subfolder(message), { recursive: true })
              const scope = yield* Scope.fork(uploadScope, ExecutionStrategy.sequential)
              const handle = yield* Scope.extend(fs.open(join(subfolder(message), output.fileName), { flag: "w" }), scope)
              file = { handle, hash: md5(), scope }
            } else if (output?._tag === "Bytes" && file !== undefined) {
              file.hash.update(output.bytes)
              yield* file.handle.writeAll(output.bytes)
            } else if (output?._tag === "FileEnded" && message._tag === "Checksum" && file !== undefined) {
              const checksum = file.hash.digest()
              yield* closeFile
              const mismatch = RestoreReader.checksumProblem(output, checksum)
              if (mismatch !== undefined) return yield* Effect.fail(new Refused({ reason: mismatch.reason }))
              yield* fs.writeFileString(join(subfolder(message), `${output.fileName}.md5`), checksum)
              stored[output.file === "BACKUP_FILE" ? "backupFile" : "customMetadataFile"] = {
                name: output.fileName,
                size: output.size,
                checksum
              }
              if (abort !== undefined && abort.atByte === undefined && output.file === "BACKUP_FILE") {
                return yield* Effect.fail(aborted())
              }
            }
          }
        })
        // Refused when its action ends, if it is still open then.
        const ended = Effect.zipRight(
          Effect.ignore(runner.awaitAction(job.id)),
          Effect.fail(new Refused({ reason: actionEnded(job) }))
        )
        yield* Effect.scoped(Effect.gen(function*() {
          yield* job.openTransfer(request.agentId)
          yield* Effect.raceFirst(Effect.scoped(receive), ended)
        }).pipe(
          // Inside the scope: refused while the upload still counts as open.
          Effect.catchAll((error) => refuse(error._tag === "Refused" ? error.reason : `Storage failed: ${error.message}`)),
          Effect.ensuring(Effect.suspend(() => transfer.end(uploaded ? "DONE" : "FAILED")))
        ))
      }).pipe(Effect.scoped, Effect.annotateLogs({ call: "backup", peer: peer.address }))
    }

    return { handle }
  })
)
