/**
 * A scripted agent that speaks the wire by hand: raw grpc-js calls built
 * from the protos (`Wire.protos()`), with none of bro-agent's transport in
 * between, for tests that play a hostile or broken peer of the development
 * orchestrator. A test opens channels (each its own HTTP/2 connection),
 * registers on a control stream, reads the orchestrator's messages one at a
 * time and answers them as it chooses, and opens uploads on whichever
 * channel it likes, writing whatever messages it likes.
 *
 * Every wait is bounded (10 s by default), so that a defect makes a test
 * fail with `WaitedTooLong` instead of hanging.
 */
import { FileSystem } from "@effect/platform"
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import type { Duration } from "effect"
import { Deferred, Effect, Exit, Queue } from "effect"
import { createHash } from "node:crypto"
import { join } from "node:path"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import * as FaultHygiene from "./FaultHygiene.js"
import type { ControlAction } from "../../src/core/Action.js"
import { FragmentInformation } from "../../src/core/Fragment.js"
import type { BackupMessage, OrchestratorMessage } from "../../src/core/Message.js"
import { AgentMessage, FilePart } from "../../src/core/Message.js"
import * as Wire from "../../src/internal/Wire.js"
import { tree, within } from "./FaultHarness.js"
import { registration } from "./orchestratorHarness.js"

/**
 * A client of its own: grpc-js shares one connection between clients of the
 * same target and options (its global subchannel pool), so each channel here
 * takes a local pool, and so a connection of its own. It closes with the
 * scope.
 */
export const channel = (port: number, host = "127.0.0.1"): Effect.Effect<grpc.Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new grpc.Client(`${host}:${port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 })),
    (client) => Effect.sync(() => client.close())
  )

/** A call's final status, as grpc-js reports it. */
export interface CallStatus {
  readonly code: grpc.status
  readonly details: string
}

const statusOf = (status: grpc.StatusObject): CallStatus => ({ code: status.code, details: status.details })

/** The status code's name (`ABORTED`), for readable expectations. */
export const codeName = (status: CallStatus): string => grpc.status[status.code] ?? String(status.code)

// ---------------------------------------------------------------------------
// Control stream
// ---------------------------------------------------------------------------

/** One open `establishControlChannel` call. */
export interface RawControl {
  /** Writes one agent message as it is (no checks). */
  readonly send: (message: AgentMessage) => Effect.Effect<void>
  /** Writes a registration with the harness's valid software version. */
  readonly register: (agentId: string, options?: RegisterOptions) => Effect.Effect<void>
  /** Writes a STAGE_COMPLETE. */
  readonly answer: (action: ControlAction, success: boolean, message: string, agentId?: string) => Effect.Effect<void>
  /** The next message the orchestrator wrote, within `after` (10 s by default). */
  readonly next: (after?: Duration.DurationInput) => Effect.Effect<OrchestratorMessage, Error>
  /** The call's status, once it ended, within `after` (10 s by default). */
  readonly ended: (after?: Duration.DurationInput) => Effect.Effect<CallStatus, Error>
  /** Whether the call has ended. */
  readonly isEnded: Effect.Effect<boolean>
  /** Half-closes the call, as an agent that stops does. */
  readonly halfClose: Effect.Effect<void>
}

export interface RegisterOptions {
  readonly apiVersion?: string
  readonly scope?: string
  /** The message's `action`; REGISTER unless a test says otherwise. */
  readonly action?: ControlAction
}

/**
 * Opens a control stream on `client` (cancelled with the scope). `answer`
 * signs with the last agent id it registered with, unless told another.
 */
export const openControl = (client: grpc.Client): Effect.Effect<RawControl, never, Scope.Scope> =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<OrchestratorMessage>()
    const status = yield* Deferred.make<CallStatus>()
    const protos = Wire.protos()
    const call = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const stream = client.makeBidiStreamRequest(
          protos.controlMethod.path,
          protos.codecs.AgentControl.encode,
          protos.codecs.OrchestratorControl.decode,
          new grpc.Metadata({ waitForReady: true })
        )
        stream.on("data", (wire: Wire.OrchestratorControl__Output) => inbox.unsafeOffer(Wire.orchestratorFromWire(wire)))
        stream.on("status", (ended: grpc.StatusObject) => Deferred.unsafeDone(status, Exit.succeed(statusOf(ended))))
        // grpc-js also emits 'error' for a status other than OK; 'status' carries it.
        stream.on("error", () => {})
        return stream
      }),
      (stream) => Effect.sync(() => stream.cancel())
    )
    let registeredId = ""
    const send = (message: AgentMessage) => Effect.sync(() => void call.write(Wire.agentToWire(message)))
    return {
      send,
      register: (agentId, options = {}) =>
        Effect.suspend(() => {
          registeredId = agentId
          return send(AgentMessage.Register({
            action: options.action ?? "REGISTER",
            agentId,
            scope: options.scope ?? "",
            apiVersion: options.apiVersion ?? "4.0",
            softwareVersion: registration(agentId).softwareVersion,
            backendType: "BRO",
            features: []
          }))
        }),
      answer: (action, success, message, agentId) =>
        Effect.suspend(() => send(AgentMessage.StageComplete({ action, success, agentId: agentId ?? registeredId, message }))),
      next: (after: Duration.DurationInput = "10 seconds") => Queue.take(inbox).pipe(within("the orchestrator's next control message", after)),
      ended: (after: Duration.DurationInput = "10 seconds") => Deferred.await(status).pipe(within("the control stream to end", after)),
      isEnded: Deferred.isDone(status),
      halfClose: Effect.sync(() => void call.end())
    }
  })

/**
 * Opens a control stream on `client` and registers as `agentId`; an API 4.0
 * registration is awaited until acknowledged.
 */
export const registerAgent = (
  client: grpc.Client,
  agentId: string,
  options: RegisterOptions = {}
): Effect.Effect<RawControl, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const control = yield* openControl(client)
    yield* control.register(agentId, options)
    if ((options.apiVersion ?? "4.0") === "4.0") {
      const first = yield* control.next()
      if (first._tag !== "RegisterAcknowledge") {
        return yield* Effect.fail(new Error(`expected REGISTER_ACKNOWLEDGE, got ${first._tag}`))
      }
    }
    return control
  })

/** Takes the next message and fails unless it is a `tag` (the test's script went off the rails). */
export const expectNext = <Tag extends OrchestratorMessage["_tag"]>(control: RawControl, tag: Tag, after?: Duration.DurationInput) =>
  Effect.flatMap(control.next(after), (message) =>
    message._tag === tag
      ? Effect.succeed(message as Extract<OrchestratorMessage, { _tag: Tag }>)
      : Effect.fail(new Error(`expected ${tag}, got ${JSON.stringify(message)}`)))

/**
 * A sync point on an API 4.0 stream: the orchestrator reads a stream's
 * messages in order and acknowledges a repeated registration, so once that
 * acknowledgement is back, everything written before it has been handled.
 */
export const roundTrip = (control: RawControl, agentId: string) =>
  Effect.zipRight(control.register(agentId), expectNext(control, "RegisterAcknowledge"))

/**
 * Starts a backup named `backupName` in DEFAULT, answers its preparation with
 * success, and waits for its execution; the action's record.
 */
export const backupInExecution = (
  orchestrator: Orchestrator.Orchestrator["Type"],
  control: RawControl,
  backupName = "nightly"
) =>
  Effect.gen(function*() {
    const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", backupName)
    yield* expectNext(control, "Preparation")
    yield* control.answer("BACKUP", true, "Prepared")
    yield* expectNext(control, "Execution")
    return backup
  })

// ---------------------------------------------------------------------------
// Data channel: uploads
// ---------------------------------------------------------------------------

/** One open `backup` call. */
export interface RawUpload {
  /** Writes one message as it is; never fails (a call that ended drops it). */
  readonly write: (message: BackupMessage) => Effect.Effect<void>
  /** Half-closes and awaits the status within `after` (10 s by default). */
  readonly finish: (after?: Duration.DurationInput) => Effect.Effect<CallStatus, Error>
  /** Awaits the status without half-closing, within `after` (10 s by default). */
  readonly status: (after?: Duration.DurationInput) => Effect.Effect<CallStatus, Error>
  readonly isEnded: Effect.Effect<boolean>
}

/** Opens an upload on `client`; it is cancelled with the scope if still open. */
export const openUpload = (client: grpc.Client): Effect.Effect<RawUpload, never, Scope.Scope> =>
  Effect.gen(function*() {
    const protos = Wire.protos()
    const outcome = yield* Deferred.make<CallStatus>()
    const call = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const stream = client.makeClientStreamRequest(
          protos.backupMethod.path,
          protos.codecs.BackupData.encode,
          protos.backupMethod.responseDeserialize,
          () => {}
        )
        stream.on("status", (ended: grpc.StatusObject) => Deferred.unsafeDone(outcome, Exit.succeed(statusOf(ended))))
        stream.on("error", () => {})
        return stream
      }),
      (stream) => Effect.flatMap(Deferred.isDone(outcome), (done) => (done ? Effect.void : Effect.sync(() => stream.cancel())))
    )
    const status = (after: Duration.DurationInput = "10 seconds") => Deferred.await(outcome).pipe(within("the upload's status", after))
    return {
      write: (message) =>
        Effect.flatMap(Deferred.isDone(outcome), (done) =>
          done ? Effect.void : Effect.sync(() => void call.write(Wire.backupToWire(message)))),
      finish: (after) =>
        Effect.zipRight(
          Effect.flatMap(Deferred.isDone(outcome), (done) => (done ? Effect.void : Effect.sync(() => void call.end()))),
          status(after)
        ),
      status,
      isEnded: Deferred.isDone(outcome)
    }
  })

/** 32 upper-case hex digits, as BRO wants them. */
export const md5 = (content: Uint8Array): string => createHash("md5").update(content).digest("hex").toUpperCase()

export interface FragmentSpec {
  readonly agentId: string
  readonly backupName: string
  readonly fragmentId: string
  readonly fileName?: string
  readonly content?: Uint8Array
  /** The checksum sent; the content's MD5 by default. */
  readonly checksum?: string
}

export const defaultContent = Buffer.from("Hello World!")

/** The METADATA message of a fragment. */
export const metadataOf = (spec: FragmentSpec): BackupMessage => ({
  _tag: "Metadata",
  metadata: {
    agentId: spec.agentId,
    backupName: spec.backupName,
    backupType: "",
    fragment: FragmentInformation.make({
      fragmentId: spec.fragmentId,
      version: "1.0",
      sizeInBytes: String((spec.content ?? defaultContent).length),
      customInformation: {}
    })
  }
})

/** The backup file's three parts: its name, its content in one chunk, its checksum. */
export const backupFileOf = (spec: FragmentSpec): ReadonlyArray<BackupMessage> => {
  const content = spec.content ?? defaultContent
  return [
    FilePart.FileName({ file: "BACKUP_FILE", fileName: spec.fileName ?? "dump.sql" }),
    FilePart.Content({ file: "BACKUP_FILE", content }),
    FilePart.Checksum({ file: "BACKUP_FILE", checksum: spec.checksum ?? md5(content) })
  ]
}

/** Uploads a whole fragment on `client` (metadata, then the backup file), half-closes, and returns the status. */
export const uploadFragment = (client: grpc.Client, spec: FragmentSpec): Effect.Effect<CallStatus, Error> =>
  Effect.scoped(Effect.gen(function*() {
    const upload = yield* openUpload(client)
    for (const message of [metadataOf(spec), ...backupFileOf(spec)]) yield* upload.write(message)
    return yield* upload.finish()
  }))

/**
 * Answers every stage of every action with success, and every cancel, until
 * the scope closes; for a bystander agent whose answers do not matter.
 */
export const answerEverything = (control: RawControl): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    for (;;) {
      const message = yield* Effect.orDie(control.next("1 hour"))
      switch (message._tag) {
        case "Preparation":
        case "Execution":
        case "PostActions":
        case "Cancel":
          yield* control.answer(message.action, true, `${message._tag} done`)
          break
        default:
          break
      }
    }
  }).pipe(Effect.forkScoped, Effect.asVoid)

/**
 * A development orchestrator on a free port, its storage in a temporary
 * folder removed with the scope, with a stage timeout long enough never to
 * decide a test by itself.
 */
export const devOrchestrator = Effect.gen(function*() {
  const storage = yield* FaultHygiene.tempFolder
  const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "20 seconds" })
  return { orchestrator, storage }
})

// ---------------------------------------------------------------------------
// What the orchestrator stored
// ---------------------------------------------------------------------------

/** The files (not folders) under `folder`, relative to it, with their sizes: `path (n bytes)`. */
export const filesUnder = (folder: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const files: Array<string> = []
    for (const path of yield* tree(folder)) {
      const info = yield* Effect.option(fs.stat(join(folder, path)))
      if (info._tag === "Some" && info.value.type === "File") files.push(`${path} (${info.value.size} bytes)`)
    }
    return files
  })
