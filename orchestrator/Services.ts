/**
 * The development orchestrator's gRPC services: the control channel
 * (registration, acknowledgement, stage-completes, disconnects) and the data
 * channel (fragment uploads checked as BRO checks them and stored; fragment
 * downloads served from storage with their checksums verified again).
 *
 * Each call is handled by one fiber that reads the call's events in order.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as grpc from "@grpc/grpc-js"
import { Data, Deferred, Effect, Either, Exit, Option, PubSub, Queue, Ref, SubscriptionRef } from "effect"
import { join } from "node:path"
import type { Md5 } from "../src/internal/Checksum.js"
import { md5 } from "../src/internal/Checksum.js"
import type { AgentMessage, BackupMessage, FilePart, FragmentRequest } from "../src/core/Message.js"
import { FilePart as FileParts, OrchestratorMessage } from "../src/core/Message.js"
import { idProblem } from "../src/core/Registration.js"
import * as RestoreReader from "../src/internal/RestoreReader.js"
import type { StatusCode } from "../src/core/Status.js"
import * as Status from "../src/core/Status.js"
import * as Wire from "../src/internal/Wire.js"
import type { Job, Participation, State } from "./Engine.js"
import type { StoredFile, StoredFragment } from "./Model.js"
import { OrchestratorEvent as Events } from "./Model.js"
import type { AgentConnection } from "./Registry.js"
import { acknowledgement, registrationProblems, scopeOf } from "./Registry.js"

/**
 * Runs an Effect for a call, in the orchestrator's scope.
 *
 * @since 0.1.0
 * @category models
 */
export type Run = (effect: Effect.Effect<void>) => void

const status = (code: StatusCode, details: string) => ({ code: Status.toNumber(code), details })

// ---------------------------------------------------------------------------
// Control channel
// ---------------------------------------------------------------------------

type ControlEvent = { readonly _tag: "Message"; readonly message: AgentMessage } | { readonly _tag: "Ended" }

/**
 * `ControlInterface.establishControlChannel`.
 *
 * @since 0.1.0
 * @category services
 */
export const control = (
  state: State,
  call: grpc.ServerDuplexStream<Wire.AgentControl__Output, Wire.OrchestratorControl>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<ControlEvent>()
    let open = true
    yield* Effect.sync(() => {
      call.on("data", (wire: Wire.AgentControl__Output) =>
        inbox.unsafeOffer({ _tag: "Message", message: Wire.agentFromWire(wire) }))
      call.on("end", () => inbox.unsafeOffer({ _tag: "Ended" }))
      call.on("cancelled", () => inbox.unsafeOffer({ _tag: "Ended" }))
      call.on("error", () => inbox.unsafeOffer({ _tag: "Ended" }))
      if (call.cancelled) inbox.unsafeOffer({ _tag: "Ended" })
    })
    const send = (message: OrchestratorMessage) =>
      Effect.sync(() => {
        if (open) call.write(Wire.orchestratorToWire(message))
      })
    const close = (code: StatusCode, details: string) =>
      Effect.sync(() => {
        if (!open) return
        open = false
        // grpc-js turns an 'error' event carrying a code into the call's status.
        if (code === "OK") call.end()
        else call.emit("error", status(code, details))
      })
    let agent: AgentConnection | undefined

    for (;;) {
      const event = yield* Queue.take(inbox)
      if (event._tag === "Ended") {
        yield* close("OK", "")
        if (agent !== undefined) yield* disconnect(state, agent)
        return
      }
      const message = event.message
      if (message._tag === "Register" && message.action === "REGISTER" && agent === undefined) {
        const problems = registrationProblems(message)
        if (problems.length > 0) {
          yield* close("INVALID_ARGUMENT", problems.map((problem) => `${problem}\n`).join(""))
          yield* PubSub.publish(state.events, Events.AgentRejected({ agentId: message.agentId, status: "INVALID_ARGUMENT", reasons: problems }))
          return
        }
        const existing = (yield* Ref.get(state.agents)).get(message.agentId)
        if (existing !== undefined && !(yield* Deferred.isDone(existing.disconnected))) {
          const reason = `Failed to register agent because id ${message.agentId} is already used`
          yield* close("ALREADY_EXISTS", reason)
          yield* PubSub.publish(state.events, Events.AgentRejected({ agentId: message.agentId, status: "ALREADY_EXISTS", reasons: [reason] }))
          return
        }
        const order = yield* Ref.updateAndGet(state.registrations, (count) => count + 1)
        const connection: AgentConnection = {
          info: {
            agentId: message.agentId,
            scope: scopeOf(message.scope),
            apiVersion: message.apiVersion,
            softwareVersion: message.softwareVersion
          },
          order,
          send,
          stageCompletes: yield* Queue.unbounded<Extract<AgentMessage, { _tag: "StageComplete" }>>(),
          disconnected: yield* Deferred.make<void>()
        }
        agent = connection
        yield* Ref.update(state.agents, (agents) => new Map(agents).set(message.agentId, connection))
        yield* PubSub.publish(state.events, Events.AgentRegistered({
          agentId: message.agentId,
          apiVersion: message.apiVersion,
          scope: connection.info.scope
        }))
        if (message.apiVersion === "4.0") yield* send(acknowledge)
      } else if (message._tag === "Register" && message.action === "REGISTER" && agent?.info.apiVersion === "4.0") {
        // A 4.0 agent that heard no acknowledgement sends its registration again.
        yield* send(acknowledge)
      } else if (message._tag === "StageComplete" && agent !== undefined) {
        yield* Queue.offer(agent.stageCompletes, message)
      }
      // Anything else, and anything before a valid registration, is ignored, as BRO does.
    }
  })

const acknowledge = OrchestratorMessage.RegisterAcknowledge({
  message: acknowledgement.message,
  features: [...acknowledgement.features]
})

const disconnect = (state: State, agent: AgentConnection) =>
  Effect.gen(function*() {
    yield* Deferred.succeed(agent.disconnected, undefined)
    yield* Ref.update(state.agents, (agents) => {
      if (agents.get(agent.info.agentId) !== agent) return agents
      const next = new Map(agents)
      next.delete(agent.info.agentId)
      return next
    })
    yield* PubSub.publish(state.events, Events.AgentDisconnected({ agentId: agent.info.agentId }))
  })

// ---------------------------------------------------------------------------
// Data channel: uploads
// ---------------------------------------------------------------------------

type UploadEvent =
  | { readonly _tag: "Message"; readonly message: BackupMessage }
  | { readonly _tag: "End" }
  | { readonly _tag: "Cancelled" }

class Refused extends Data.TaggedError("Refused")<{ readonly reason: string }> {}

const participant = (job: Job, agentId: string) => job.participants.find((agent) => agent.info.agentId === agentId)

// Why BRO would refuse this upload's metadata, or undefined.
const uploadProblem = (job: Job | undefined, stage: string, request: FragmentRequest): string | undefined => {
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
  if (idProblem(fragment.fragmentId) !== undefined) return `<${fragment.fragmentId}> is an invalid fragment id`
  if (request.backupName !== job.backupName) return `Backup ${request.backupName} is not the one being created`
  const agent = participant(job, request.agentId)
  if (agent === undefined) return `Agent ${request.agentId} does not take part in backup ${job.backupName}`
  const allowed = stage === "EXECUTION" || (stage === "PREPARATION" && agent.info.apiVersion === "4.0")
  if (!allowed) return `Orchestrator not expecting a fragment of agent ${request.agentId} in stage ${stage}`
  return undefined
}

/**
 * How much upload content this process holds, read but not yet written,
 * across every upload: past `high` every upload call stops reading, and
 * they read again under `low`. With one call per agent, memory would
 * otherwise grow with the number of agents.
 *
 * @since 0.1.0
 * @category flow control
 */
export const uploadBuffer = {
  high: 64 * 1024 * 1024,
  low: 32 * 1024 * 1024,
  bytes: 0,
  paused: new Set<() => void>()
}

/**
 * How many restore chunks this process may have read and not yet written
 * out, across every download (64 chunks: 32 MiB at the default size). A
 * download takes a place before it reads a chunk and gives it back once
 * grpc-js wrote the chunk out.
 *
 * @since 0.1.0
 * @category flow control
 */
export const downloadChunks = { limit: 64, used: 0, waiting: new Set<() => void>() }

const takeDownloadChunk: Effect.Effect<void> = Effect.async<void>((resume) => {
  const attempt = () => {
    if (downloadChunks.used >= downloadChunks.limit) return false
    downloadChunks.used++
    downloadChunks.waiting.delete(wake)
    resume(Effect.void)
    return true
  }
  const wake = () => void attempt()
  if (!attempt()) downloadChunks.waiting.add(wake)
  return Effect.sync(() => void downloadChunks.waiting.delete(wake))
})

const giveBackDownloadChunk = () => {
  downloadChunks.used--
  for (const wake of [...downloadChunks.waiting]) {
    if (downloadChunks.used >= downloadChunks.limit) break
    wake()
  }
}

const messageBytes = (message: BackupMessage) => (message._tag === "Content" ? message.content.length : 0)

const trackStream = (participation: Participation | undefined) =>
  participation === undefined
    ? Effect.void
    : Effect.acquireRelease(
      SubscriptionRef.update(participation.openStreams, (open) => open + 1),
      () => SubscriptionRef.update(participation.openStreams, (open) => open - 1)
    )

/**
 * `DataInterface.backup`: one fragment upload.
 *
 * @since 0.1.0
 * @category services
 */
export const upload = (
  state: State,
  call: grpc.ServerReadableStream<Wire.BackupData__Output, object>,
  respond: grpc.sendUnaryData<object>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const fs = state.fileSystem
    const inbox = yield* Queue.unbounded<UploadEvent>()
    // Flow control: a call stops reading while its fiber is behind, or while
    // the process holds too much upload content (`uploadBuffer`).
    let queued = 0
    let held = 0
    let closed = false
    let paused = false
    const resume = () => {
      if (!paused || queued > 2 || uploadBuffer.bytes > uploadBuffer.low) return
      paused = false
      uploadBuffer.paused.delete(resume)
      call.resume()
    }
    // Whatever this call still holds leaves the budget with it.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        call.removeAllListeners("data")
        uploadBuffer.paused.delete(resume)
        uploadBuffer.bytes -= held
        held = 0
      })
    )
    yield* Effect.sync(() => {
      call.on("data", (wire: Wire.BackupData__Output) => {
        if (closed) return
        const message = Wire.backupFromWire(wire)
        queued++
        held += messageBytes(message)
        uploadBuffer.bytes += messageBytes(message)
        inbox.unsafeOffer({ _tag: "Message", message })
        if (!paused && (queued >= 8 || uploadBuffer.bytes > uploadBuffer.high)) {
          paused = true
          uploadBuffer.paused.add(resume)
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
        uploadBuffer.bytes -= messageBytes(event.message)
        // Under the low mark, every call paused for the budget may read again.
        if (uploadBuffer.bytes <= uploadBuffer.low) for (const paused of [...uploadBuffer.paused]) paused()
        resume()
      }))
    let answered = false
    const answer = (code: StatusCode, details: string) =>
      Effect.sync(() => {
        if (answered) return
        answered = true
        if (code === "OK") respond(null, {})
        else respond(status(code, details))
        call.removeAllListeners("data")
      })

    const first = yield* next
    if (first._tag === "Cancelled") return
    if (first._tag === "End" || first.message._tag !== "Metadata") {
      yield* answer("ABORTED", "The first message of a backup must be METADATA")
      return
    }
    const request = first.message.metadata
    const job = yield* Ref.get(state.job)
    const stage = job === undefined ? "" : yield* Ref.get(job.stage)
    const problem = uploadProblem(job, stage, request)
    const participation = job?.participation.get(request.agentId)
    const fragmentId = request.fragment.fragmentId
    const refuse = (reason: string) =>
      Effect.gen(function*() {
        // The failure is recorded before the agent hears of it, and before the
        // upload stops counting as open: the stage cannot end without it.
        // Whatever the reason, even bad metadata, a refused fragment of a
        // participant fails its stage (an agent may answer success regardless).
        if (participation !== undefined && job?.kind === "CREATE_BACKUP") {
          yield* Ref.set(participation.fragmentFailure, `Fragment ${fragmentId} failed: ${reason}`)
        }
        yield* answer("ABORTED", reason)
        yield* PubSub.publish(state.events, Events.FragmentRefused({ agentId: request.agentId, fragmentId, reason }))
      })
    if (job === undefined || problem !== undefined) {
      yield* refuse(problem ?? "No job")
      return
    }

    yield* Effect.scoped(Effect.gen(function*() {
      yield* trackStream(participation)
      let committed = false
      const folder = yield* Effect.acquireRelease(
        state.storage.makeUploadFolder(job.manager, job.backupName, request.agentId),
        (folder) => (committed ? Effect.void : fs.remove(folder, { recursive: true }).pipe(Effect.ignore))
      )
      let reader: RestoreReader.ReaderState = RestoreReader.initial
      // The file being written and its MD5, from its name to its checksum.
      let file: { readonly handle: FileSystem.File; readonly hash: Md5 } | undefined
      const stored: { backupFile?: StoredFile; customMetadataFile?: StoredFile } = {}
      const subfolder = (part: FilePart) => join(folder, part.file === "BACKUP_FILE" ? "data" : "customMetadata")

      for (;;) {
        const event = yield* next
        if (event._tag === "Cancelled") {
          if (!answered && participation !== undefined) {
            yield* Ref.set(participation.fragmentFailure, `The upload of fragment ${fragmentId} was cancelled`)
          }
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
          yield* fs.writeFileString(join(folder, "Fragment.json"), JSON.stringify(fragment, null, 2))
          yield* state.storage.commitUpload(folder, job.manager, job.backupName, request.agentId, fragmentId)
          committed = true
          // A fragment sent again replaces the earlier attempt.
          yield* Ref.update(job.fragments, (fragments) => new Map(fragments).set(`${request.agentId}/${fragmentId}`, fragment))
          yield* answer("OK", "")
          yield* PubSub.publish(state.events, Events.FragmentStored({
            actionId: job.id,
            agentId: request.agentId,
            fragmentId,
            size: backupFile.size
          }))
          return
        }
        const message = event.message
        if (message._tag === "Metadata") return yield* Effect.fail(new Refused({ reason: "A second METADATA arrived" }))
        const read = RestoreReader.read(reader, message)
        if (Either.isLeft(read)) return yield* Effect.fail(new Refused({ reason: read.left.reason }))
        reader = read.right.state
        const output = read.right.output
        if (output?._tag === "FileStarted" && message._tag === "FileName") {
          yield* fs.makeDirectory(subfolder(message), { recursive: true })
          file = { handle: yield* fs.open(join(subfolder(message), output.fileName), { flag: "w" }), hash: md5() }
        } else if (output?._tag === "Bytes" && file !== undefined) {
          file.hash.update(output.bytes)
          yield* file.handle.writeAll(output.bytes)
        } else if (output?._tag === "FileEnded" && message._tag === "Checksum" && file !== undefined) {
          const checksum = file.hash.digest()
          const mismatch = RestoreReader.checksumProblem(output, checksum)
          if (mismatch !== undefined) return yield* Effect.fail(new Refused({ reason: mismatch.reason }))
          yield* fs.writeFileString(join(subfolder(message), `${output.fileName}.md5`), checksum)
          stored[output.file === "BACKUP_FILE" ? "backupFile" : "customMetadataFile"] = {
            name: output.fileName,
            size: output.size,
            checksum
          }
        }
      }
    }).pipe(
      // Inside the scope: refused while the upload still counts as open.
      Effect.catchAll((error) => refuse(error._tag === "Refused" ? error.reason : `Storage failed: ${error.message}`))
    ))
  }).pipe(Effect.scoped, Effect.annotateLogs({ call: "backup" }))

// ---------------------------------------------------------------------------
// Data channel: downloads
// ---------------------------------------------------------------------------

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
  if (request.backupName !== job.backupName) return `Backup ${request.backupName} is not the one being restored`
  if (participant(job, request.agentId) === undefined) {
    return `Agent ${request.agentId} does not take part in the restore of ${job.backupName}`
  }
  return undefined
}

/**
 * `DataInterface.restore`: one fragment download, streamed from storage with
 * flow control, its checksum verified against the record as it is read.
 *
 * @since 0.1.0
 * @category services
 */
export const download = (
  state: State,
  call: grpc.ServerWritableStream<Wire.Metadata__Output, Wire.RestoreData>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const fs = state.fileSystem
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
        else call.emit("error", status(code, details))
      })
    const job = yield* Ref.get(state.job)
    const problem = downloadProblem(job, request)
    const backup = job?.restoring
    const fragment = backup?.fragments.find(
      (each) => each.agentId === request.agentId && each.fragmentId === request.fragment.fragmentId
    )
    if (problem !== undefined || job === undefined || backup === undefined) {
      return yield* end("ABORTED", problem ?? "No restore job is in progress")
    }
    if (fragment === undefined) {
      return yield* end("ABORTED", `Fragment ${request.fragment.fragmentId} of agent ${request.agentId} is not stored`)
    }
    // Flow control: at most two messages handed to grpc-js and not yet
    // written out (grpc-js alone would take 16, 8 MiB per download), so memory
    // does not grow with the number of agents restoring at once.
    let inFlight = 0
    let wake: (() => void) | undefined
    // Content chunks hold a place of the process-wide budget until written
    // out; what a call still holds when it ends (a cancelled call may never
    // complete its writes) is given back then.
    let held = 0
    let over = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        over = true
        for (; held > 0; held--) giveBackDownloadChunk()
      })
    )
    const written = (budgeted: boolean) => () => {
      inFlight--
      if (budgeted && !over) {
        held--
        giveBackDownloadChunk()
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
    const send = (file: "BACKUP_FILE" | "CUSTOM_METADATA_FILE", storedFile: StoredFile) =>
      Effect.scoped(Effect.gen(function*() {
        yield* write(Wire.restoreToWire(FileParts.FileName({ file, fileName: storedFile.name })))
        const handle = yield* fs.open(state.storage.filePath(job.manager, job.backupName, fragment, file), { flag: "r" })
        const hash = md5()
        // Exactly the recorded size, in chunks no larger than what is left.
        for (let left = storedFile.size; left > 0;) {
          yield* Effect.zipRight(takeDownloadChunk, Effect.sync(() => void held++))
          const chunk = yield* handle.readAlloc(Math.min(state.chunkSize, left))
          if (Option.isNone(chunk)) break
          left -= chunk.value.length
          hash.update(chunk.value)
          yield* write(Wire.restoreToWire(FileParts.Content({ file, content: chunk.value })), true)
        }
        const computed = hash.digest()
        if (computed !== storedFile.checksum) {
          yield* markCorrupted(state, job.manager, job.backupName)
          return yield* Effect.fail(
            new Refused({ reason: `Checksum mismatch: ${storedFile.name} was stored with ${storedFile.checksum}, reads as ${computed}` })
          )
        }
        yield* write(Wire.restoreToWire(FileParts.Checksum({ file, checksum: computed })))
      }))
    yield* Effect.scoped(Effect.gen(function*() {
      yield* trackStream(job.participation.get(request.agentId))
      yield* Effect.raceFirst(
        Effect.gen(function*() {
          yield* send("BACKUP_FILE", fragment.backupFile)
          if (fragment.customMetadataFile !== undefined) yield* send("CUSTOM_METADATA_FILE", fragment.customMetadataFile)
          yield* end("OK", "")
        }),
        Deferred.await(cancelled)
      )
    })).pipe(
      Effect.catchAll((error) => end("ABORTED", error._tag === "Refused" ? error.reason : `Storage failed: ${error.message}`))
    )
  }).pipe(Effect.scoped, Effect.annotateLogs({ call: "restore" }))

const markCorrupted = (state: State, manager: string, backupName: string) =>
  Effect.gen(function*() {
    const key = `${manager}/${backupName}`
    const record = (yield* Ref.get(state.backups)).get(key)
    if (record === undefined) return
    const corrupted = { ...record, status: "CORRUPTED" as const }
    yield* state.storage.writeRecord(corrupted).pipe(Effect.ignore)
    yield* Ref.update(state.backups, (backups) => new Map(backups).set(key, corrupted))
  })
