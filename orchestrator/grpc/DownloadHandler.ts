/**
 * `DataInterface.restore`: one fragment download, for the running restore,
 * streamed from the backup store with flow control (at most two messages
 * handed to grpc-js and not yet written out, and a place of the
 * orchestrator's `FlowControl` budget per content chunk). The store reads
 * back exactly what was stored and checks it: a file that cannot be read
 * back whole (missing, replaced, another size, another checksum) marks the
 * backup CORRUPTED and aborts the download before its checksum is sent.
 *
 * @since 0.1.0
 */
import type * as grpc from "@grpc/grpc-js"
import { Chunk, Context, Data, Deferred, Effect, Exit, Layer, Option, Stream } from "effect"
import type { FragmentRequest } from "../../src/core/Message.js"
import { FilePart } from "../../src/core/Message.js"
import type { StatusCode } from "../../src/core/Status.js"
import * as Status from "../../src/core/Status.js"
import * as Wire from "../../src/internal/Wire.js"
import { Faults, matching } from "../Faults.js"
import { Transfers } from "../Transfers.js"
import { FlowControl } from "../FlowControl.js"
import type { Job } from "../jobs/Job.js"
import { JobRunner } from "../JobRunner.js"
import type { StoredFile } from "../Model.js"
import * as Quote from "../Quote.js"
import type { StoredFileKind } from "../Storage.js"
import { BackupStore } from "../Storage.js"
import { strangerProblem } from "./CallIdentity.js"
import { peerOf } from "./Peer.js"

/**
 * A download call, as grpc-js hands it to the server.
 *
 * @since 0.1.0
 * @category models
 */
export type DownloadCall = grpc.ServerWritableStream<Wire.Metadata__Output, Wire.RestoreData>

/**
 * Handles download calls.
 *
 * @since 0.1.0
 * @category tags
 */
export class DownloadHandler extends Context.Tag("bro-agent/orchestrator/DownloadHandler")<
  DownloadHandler,
  { readonly handle: (call: DownloadCall) => Effect.Effect<void> }
>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface DownloadOptions {
  /** Bytes per content chunk. */
  readonly chunkSize: number
}

class Refused extends Data.TaggedError("Refused")<{ readonly reason: string }> {}

const downloadProblem = (job: Job | undefined, request: FragmentRequest): string | undefined => {
  if (job === undefined || job.kind !== "RESTORE") {
    return "Orchestrator not expecting restore metadata. No restore job is in progress."
  }
  for (const [name, value] of [
    ["agentId", request.agentId],
    ["backupName", request.backupName],
    ["fragmentId", request.fragment.fragmentId],
    ["fragment version", request.fragment.version],
    ["fragment sizeInBytes", request.fragment.sizeInBytes]
  ] as const) {
    if (value === "") return `The ${name} of the metadata is empty`
  }
  if (request.backupName !== job.backupName) return `Backup ${Quote.quote(request.backupName)} is not the one being restored`
  if (!job.participants.some((agent) => agent.info.agentId === request.agentId)) {
    return `Agent ${Quote.quote(request.agentId)} does not take part in the restore of ${job.backupName}`
  }
  return undefined
}

/** Where a fault stops a restore stream. */
class FaultStop extends Data.TaggedError("FaultStop")<{}> {}

/** A checksum that is not `checksum`: each hex digit moved by one. */
const wrongChecksum = (checksum: string): string =>
  checksum.replace(/[0-9A-Fa-f]/g, (digit) => ((parseInt(digit, 16) + 1) % 16).toString(16).toUpperCase())

/**
 * The download handler of one orchestrator.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: DownloadOptions
): Layer.Layer<DownloadHandler, never, JobRunner | BackupStore | FlowControl | Faults | Transfers> =>
  Layer.effect(
    DownloadHandler,
    Effect.gen(function*() {
      const runner = yield* JobRunner
      const store = yield* BackupStore
      const budget = (yield* FlowControl).downloads
      const faults = yield* Faults
      const transfers = yield* Transfers

      const handle = (call: DownloadCall) => {
        const peer = peerOf(call)
        return Effect.gen(function*() {
          const request = Wire.requestFromWire(call.request)
          const cancelled = yield* Deferred.make<void>()
          let ended = false
          yield* Effect.sync(() => {
            call.on("cancelled", () => Deferred.unsafeDone(cancelled, Exit.void))
            call.on("error", () => Deferred.unsafeDone(cancelled, Exit.void))
          })
          const end = (code: StatusCode, details: string) =>
            Effect.sync(() => {
              if (ended) return
              ended = true
              if (code === "OK") call.end()
              else call.emit("error", { code: Status.toNumber(code), details: Quote.details(details) })
            })
          const job = yield* runner.job
          const stranger = strangerProblem(job?.participants, request.agentId, peer)
          if (stranger !== undefined) {
            yield* Effect.logWarning(`Refused a download in the name of a participant: ${stranger}`)
            return yield* end("PERMISSION_DENIED", stranger)
          }
          const problem = downloadProblem(job, request)
          const backup = job?.restoring
          const fragment = backup?.fragments.find(
            (each) => each.agentId === request.agentId && each.fragmentId === request.fragment.fragmentId
          )
          if (problem !== undefined || job === undefined || backup === undefined) {
            return yield* end("ABORTED", problem ?? "No restore job is in progress")
          }
          if (fragment === undefined) {
            return yield* end(
              "ABORTED",
              `Fragment ${Quote.quote(request.fragment.fragmentId)} of agent ${request.agentId} is not stored`
            )
          }
          const fault = yield* faults.take(
            matching("serve-restore", request.agentId, { fragmentId: request.fragment.fragmentId })
          )
          const transfer = yield* transfers.start(job.id, {
            agentId: request.agentId,
            fragmentId: fragment.fragmentId,
            direction: "download",
            bytesTotal: fragment.backupFile.size + (fragment.customMetadataFile?.size ?? 0)
          })
          let complete = false
          // Content bytes sent, for a fault that cuts or stalls at a byte.
          let sent = 0
          const stopsAt = fault === undefined || fault.mode === "wrong-checksum" ? undefined : fault.atByte ?? 0
          // Flow control: at most two messages handed to grpc-js and not yet
          // written out (grpc-js alone would take 16, 8 MiB per download), so memory
          // does not grow with the number of agents restoring at once.
          let inFlight = 0
          let wake: (() => void) | undefined
          // Content chunks hold a place of the orchestrator's budget until written
          // out; what a call still holds when it ends (a cancelled call may never
          // complete its writes) is given back then.
          let held = 0
          let over = false
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              over = true
              for (; held > 0; held--) budget.giveBack()
            })
          )
          const written = (budgeted: boolean) => () => {
            inFlight--
            if (budgeted && !over) {
              held--
              budget.giveBack()
            }
            wake?.()
          }
          const room = Effect.async<void>((resume) => {
            const check = () => {
              if (inFlight >= 2) return
              wake = undefined
              resume(Effect.void)
            }
            wake = check
            check()
            return Effect.sync(() => {
              wake = undefined
            })
          })
          const write = (message: Wire.RestoreData, budgeted = false) =>
            Effect.suspend(() => {
              inFlight++
              call.write(message, written(budgeted))
              return inFlight < 2
                ? Effect.void
                : Effect.raceFirst(room, Deferred.await(cancelled)).pipe(
                  Effect.timeoutFail({
                    duration: "30 seconds",
                    onTimeout: () => new Refused({ reason: "The agent stopped reading for 30 s" })
                  })
                )
            })
          const send = (file: StoredFileKind, storedFile: StoredFile) =>
            Effect.scoped(Effect.gen(function*() {
              yield* write(Wire.restoreToWire(FilePart.FileName({ file, fileName: storedFile.name })))
              const pull = yield* Stream.toPull(
                store.readStoredFile(job.manager, job.backupName, fragment, file, options.chunkSize)
              )
              for (;;) {
                // A place of the budget before each chunk is read.
                yield* Effect.zipRight(budget.take, Effect.sync(() => void held++))
                const chunks = yield* pull.pipe(
                  Effect.catchAll(Option.match({ onNone: () => Effect.succeed(undefined), onSome: Effect.fail }))
                )
                if (chunks === undefined) {
                  held--
                  budget.giveBack()
                  break
                }
                for (const [index, whole] of Chunk.toReadonlyArray(chunks).entries()) {
                  if (index > 0) yield* Effect.zipRight(budget.take, Effect.sync(() => void held++))
                  const content = stopsAt === undefined ? whole : whole.subarray(0, Math.max(0, stopsAt - sent))
                  if (content.length > 0) {
                    sent += content.length
                    yield* write(Wire.restoreToWire(FilePart.Content({ file, content })), true)
                    yield* transfer.add(content.length)
                  }
                  if (stopsAt !== undefined && sent >= stopsAt) return yield* new FaultStop()
                }
              }
              if (stopsAt !== undefined) return yield* new FaultStop()
              // The store checked the checksum after the last chunk: it is the stored one.
              const checksum = fault?.mode === "wrong-checksum" && file === "BACKUP_FILE"
                ? wrongChecksum(storedFile.checksum)
                : storedFile.checksum
              yield* write(Wire.restoreToWire(FilePart.Checksum({ file, checksum })))
            }))
          yield* Effect.scoped(Effect.gen(function*() {
            yield* job.openTransfer(request.agentId)
            yield* Effect.raceFirst(
              Effect.gen(function*() {
                yield* send("BACKUP_FILE", fragment.backupFile)
                if (fragment.customMetadataFile !== undefined) yield* send("CUSTOM_METADATA_FILE", fragment.customMetadataFile)
                complete = true
                yield* end("OK", "")
              }).pipe(
                Effect.catchTag("FaultStop", () =>
                  // A cut stream ends as if complete; a stalled one waits until the agent gives up.
                  fault?.mode === "cut"
                    ? Effect.zipRight(Effect.logWarning("Fault: cut the restore stream"), end("OK", ""))
                    : Effect.zipRight(Effect.logWarning("Fault: stalled the restore stream"), Effect.never))
              ),
              Deferred.await(cancelled)
            )
          })).pipe(
            Effect.catchAll((error) =>
              end(
                "ABORTED",
                error._tag === "Refused"
                  ? error.reason
                  : error._tag === "StoredFileUnreadable"
                  ? error.message
                  : `Storage failed: ${error.message}`
              )
            ),
            Effect.ensuring(Effect.suspend(() => transfer.end(complete && fault === undefined ? "DONE" : "FAILED")))
          )
        }).pipe(Effect.scoped, Effect.annotateLogs({ call: "restore", peer: peer.address }))
      }

      return { handle }
    })
  )
