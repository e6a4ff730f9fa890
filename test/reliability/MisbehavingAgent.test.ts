// The development orchestrator fed bad input by a misbehaving agent: a peer
// that speaks the protocol by hand through the gRPC transport (openControl,
// openUpload) and uploads its fragment wrongly, next to a well-behaved agent
// of ours in the same backup. Whatever the bad upload, nothing of it is
// stored, the backup is CORRUPTED, and the other agent is told to cancel.
import type { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Deferred, Effect, Either, Ref, Stream } from "effect"
import type { Action } from "../../src/core/Action.js"
import { FragmentInformation } from "../../src/core/Fragment.js"
import type { BackupMessage } from "../../src/core/Message.js"
import { AgentMessage, FilePart } from "../../src/core/Message.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import type { CancelContext } from "../../src/behavior/AgentBehavior.js"
import type { DataChannelError, FragmentUpload, OrchestratorTransport } from "../../src/transport/OrchestratorTransport.js"
import * as GrpcTransport from "../../src/transport/GrpcTransport.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { behaviorWith } from "../support/agentHarness.js"
import { pollUntil, startAgentOn, tree, uploadFolders, within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { layerLive } from "../support/layers.js"
import { registration } from "../support/orchestratorHarness.js"

const rogueId = "rogue-agent"
const content = Buffer.from("Hello World!")
const contentChecksum = "ED076287532E86365E841E92BFC50D8C"

const metadata = (fragmentId: string): BackupMessage => ({
  _tag: "Metadata",
  metadata: {
    agentId: rogueId,
    backupName: "nightly",
    backupType: "",
    fragment: FragmentInformation.make({ fragmentId, version: "1.0", sizeInBytes: String(content.length), customInformation: {} })
  }
})

const backupFile = (checksum: string): ReadonlyArray<BackupMessage> => [
  FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }),
  FilePart.Content({ file: "BACKUP_FILE", content }),
  FilePart.Checksum({ file: "BACKUP_FILE", checksum })
]

/** Writes `messages` one after another, then half-closes and awaits the orchestrator's status. */
const sendAll = (upload: FragmentUpload, messages: ReadonlyArray<BackupMessage>) =>
  Effect.forEach(messages, upload.write, { discard: true }).pipe(Effect.zipRight(upload.finish))

/** What the rogue does with its upload, given its transport and the orchestrator's storage folder. */
interface BadUpload {
  readonly name: string
  readonly upload: (
    transport: OrchestratorTransport["Type"],
    storage: string
  ) => Effect.Effect<void, DataChannelError | Error, FileSystem.FileSystem>
  /** How the orchestrator refuses it, when it answers the upload at all. */
  readonly refusal: RegExp | undefined
  /**
   * Whether the rogue then answers its stage with success, as the reference agent does (it never reads an
   * upload's status), so that only the orchestrator's own checks can fail the backup.
   */
  readonly claimsSuccess: boolean
}

const badUploads: ReadonlyArray<BadUpload> = [
  {
    name: "an upload whose first message is not METADATA",
    upload: (transport) =>
      Effect.scoped(Effect.flatMap(transport.openUpload(), (upload) => sendAll(upload, backupFile(contentChecksum)))),
    refusal: /^The first message of a backup must be METADATA$/,
    // Nothing ties an upload without metadata to an agent: this rogue reports the failure it saw.
    claimsSuccess: false
  },
  {
    name: "an upload with an invalid fragment id",
    upload: (transport) =>
      Effect.scoped(
        Effect.flatMap(transport.openUpload(), (upload) => sendAll(upload, [metadata("../escape"), ...backupFile(contentChecksum)]))
      ),
    refusal: /^<\.\.\/escape> is an invalid fragment id$/,
    claimsSuccess: true
  },
  {
    name: "an upload whose checksum differs from its bytes",
    upload: (transport) =>
      Effect.scoped(
        Effect.flatMap(transport.openUpload(), (upload) => sendAll(upload, [metadata(`${rogueId}_0`), ...backupFile("0".repeat(32))]))
      ),
    refusal: /^checksum mismatch: received 0{32}, computed ED076287532E86365E841E92BFC50D8C$/,
    claimsSuccess: true
  },
  {
    name: "an upload cut in the middle of its backup file",
    upload: (transport, storage) =>
      Effect.scoped(Effect.gen(function*() {
        const upload = yield* transport.openUpload()
        yield* upload.write(metadata(`${rogueId}_0`))
        yield* upload.write(FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }))
        yield* upload.write(FilePart.Content({ file: "BACKUP_FILE", content }))
        // Cut once the orchestrator is writing the fragment, by closing the upload's scope: a cancel.
        yield* pollUntil("the orchestrator to start storing the fragment", uploadFolders(storage), (folders) => folders.length > 0)
      })),
    refusal: undefined,
    claimsSuccess: true
  }
]

/**
 * A hand-written API 4.0 agent: it registers, answers every stage with
 * success, does `execute` in its execution stage, and answers cancels. It
 * lives as long as the scope.
 */
const startRogue = (port: number, execute: Effect.Effect<{ readonly success: boolean; readonly message: string }>) =>
  Effect.gen(function*() {
    const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port })
    const control = yield* transport.openControl
    const cancels = yield* Ref.make<ReadonlyArray<Action>>([])
    const answer = (action: Action, success: boolean, message: string) =>
      control.send(AgentMessage.StageComplete({ action, success, agentId: rogueId, message }))
    yield* control.send(AgentMessage.Register({
      action: "REGISTER",
      agentId: rogueId,
      scope: "",
      apiVersion: "4.0",
      softwareVersion: registration(rogueId).softwareVersion,
      backendType: "BRO",
      features: []
    }))
    yield* control.messages.pipe(
      Stream.runForEach((message) => {
        switch (message._tag) {
          case "Preparation":
          case "PostActions":
            return answer("BACKUP", true, `${message._tag} done`)
          case "Execution":
            return Effect.flatMap(execute, ({ message, success }) => answer("BACKUP", success, message))
          case "Cancel":
            return Ref.update(cancels, (all) => [...all, "BACKUP" as const]).pipe(Effect.zipRight(answer("BACKUP", true, "Cancelled")))
          default:
            return Effect.void
        }
      }),
      Effect.ignore,
      Effect.forkScoped
    )
    return { transport, cancels }
  })

layerLive(NodeFileSystem.layer)("the development orchestrator with a misbehaving agent", (it) => {
  for (const bad of badUploads) {
    const claim = bad.claimsSuccess ? ", even though the agent answers success" : ""
    it.scoped(`stores nothing of ${bad.name}, marks the backup CORRUPTED and tells the other agent to cancel${claim}`, () =>
      Effect.gen(function*() {
        const storage = yield* FaultHygiene.tempFolder
        const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout: "20 seconds" })
        const cancels = yield* Ref.make<ReadonlyArray<CancelContext>>([])
        yield* startAgentOn(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup>({
          registration: registration("good-agent"),
          executeBackup: (context) =>
            context.sendFragment({ fragmentId: "good-agent_0", version: "1.0", backupFile: Fragments.fromBytes("dump.sql", content) }),
          cancel: (context) => Ref.update(cancels, (all) => [...all, context])
        }))
        yield* pollUntil("the good agent to register", orchestrator.agents, (agents) => agents.length === 1)

        const refused = yield* Deferred.make<Either.Either<void, DataChannelError | Error>>()
        const rogue: { transport?: OrchestratorTransport["Type"] } = {}
        const execute = Effect.suspend(() =>
          rogue.transport === undefined ? Effect.dieMessage("the rogue has no transport") : bad.upload(rogue.transport, storage)
        ).pipe(
          Effect.provide(NodeFileSystem.layer),
          Effect.either,
          Effect.tap((outcome) => Deferred.succeed(refused, outcome)),
          Effect.map((outcome) =>
            bad.claimsSuccess || Either.isRight(outcome)
              ? { success: true, message: "Backup completed" }
              : { success: false, message: `Failed to send the fragment: ${outcome.left.message}` }
          )
        )
        const started = yield* startRogue(orchestrator.port, execute)
        rogue.transport = started.transport
        yield* pollUntil("the rogue to register", orchestrator.agents, (agents) => agents.length === 2)

        const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
        const finished = yield* within("the backup")(orchestrator.awaitAction(backup.id))

        const outcome = yield* within("the rogue's upload to end")(Deferred.await(refused))
        if (bad.refusal !== undefined) {
          expect(outcome).toMatchObject(Either.left({ _tag: "DataChannelError", status: "ABORTED", details: expect.stringMatching(bad.refusal) }))
        }
        expect(finished).toMatchObject({
          result: "FAILURE",
          progressInfo: expect.stringMatching(new RegExp(`^Agent ${rogueId} failed at stage EXECUTION: `))
        })
        const record = yield* orchestrator.backup("DEFAULT", "nightly")
        expect(record.status).toBe("CORRUPTED")
        expect(record.fragments.map((fragment) => `${fragment.agentId}/${fragment.fragmentId}`)).toEqual(["good-agent/good-agent_0"])
        // Nothing of the rogue's upload is left in storage, finished or not.
        expect(yield* uploadFolders(storage)).toEqual([])
        expect((yield* tree(storage)).filter((path) => path.includes(`/${rogueId}/`))).toEqual([])
        // Both agents were told to cancel.
        expect(yield* Ref.get(cancels)).toMatchObject([{ action: "BACKUP", backupName: "nightly" }])
        expect(yield* Ref.get(started.cancels)).toEqual(["BACKUP"])
      }))
  }
})

FaultHygiene.checkNothingLeftOpen()
