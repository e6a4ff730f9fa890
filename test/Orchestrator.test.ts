import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Deferred, Effect, Exit, Option, Ref, Schedule, Scope, Stream } from "effect"
import { join } from "node:path"
import { StageFailure } from "../src/behavior/AgentBehavior.js"
import * as Fragments from "../src/behavior/Fragments.js"
import { FragmentInformation } from "../src/core/Fragment.js"
import { AgentMessage, FilePart } from "../src/core/Message.js"
import * as GrpcTransport from "../src/transport/GrpcTransport.js"
import { behaviorWith } from "./support/agentHarness.js"
import { awaitAgents, registration, startAgent, startOrchestrator, tempFolder } from "./support/orchestratorHarness.js"
import { layerLive } from "./support/layers.js"

layerLive(NodeFileSystem.layer)("the development orchestrator with our agent", (it) => {
  it.scoped("takes a backup through every stage and restores it byte for byte", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const storage = yield* tempFolder
      const source = yield* tempFolder
      const target = yield* tempFolder
      yield* fs.writeFileString(join(source, "dump.sql"), "Hello World!")
      const orchestrator = yield* startOrchestrator(storage)
      const stages = yield* Ref.make<Array<string>>([])
      const note = (stage: string) => Ref.update(stages, (all) => [...all, stage])
      yield* startAgent(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup | Fragments.FailedToDownload>({
        registration: registration("db-agent"),
        prepareBackup: () => note("prepareBackup"),
        executeBackup: (context) =>
          note("executeBackup").pipe(
            Effect.zipRight(context.sendFragment({
              fragmentId: "db-agent-0",
              version: "1.0",
              customInformation: { pod: "db-0" },
              backupFile: Fragments.fromPath(join(source, "dump.sql")),
              customMetadataFile: Fragments.fromBytes("meta.json", "{\"tables\":3}")
            }))
          ),
        postBackup: () => note("postBackup"),
        prepareRestore: (context) => note(`prepareRestore ${context.fragments.map((f) => f.fragmentId).join(",")}`),
        executeRestore: (context) =>
          note("executeRestore").pipe(
            Effect.zipRight(Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, target)))
          ),
        postRestore: () => note("postRestore")
      }))
      yield* awaitAgents(orchestrator, 1)

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      const backedUp = yield* orchestrator.awaitAction(backup.id)
      expect(backedUp).toMatchObject({ state: "FINISHED", result: "SUCCESS", progressPercentage: 100 })
      const record = yield* orchestrator.backup("DEFAULT", "nightly")
      expect(record.status).toBe("COMPLETE")
      expect(record.softwareVersions.map((version) => [version.agentId, version.semanticVersion])).toEqual([["db-agent", "1.2.3"]])
      expect(record.fragments).toEqual([{
        agentId: "db-agent",
        fragmentId: "db-agent-0",
        version: "1.0",
        sizeInBytes: "12",
        customInformation: { pod: "db-0" },
        backupFile: { name: "dump.sql", size: 12, checksum: "ED076287532E86365E841E92BFC50D8C" },
        customMetadataFile: { name: "meta.json", size: 12, checksum: expect.any(String) }
      }])
      const stored = yield* orchestrator.fragmentPath("DEFAULT", "nightly", "db-agent", "db-agent-0")
      expect(yield* fs.readFileString(stored)).toBe("Hello World!")

      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      expect(yield* fs.readFileString(join(target, "dump.sql"))).toBe("Hello World!")
      expect(yield* fs.readFileString(join(target, "meta.json"))).toBe("{\"tables\":3}")
      expect(yield* Ref.get(stages)).toEqual([
        "prepareBackup",
        "executeBackup",
        "postBackup",
        "prepareRestore db-agent-0",
        "executeRestore",
        "postRestore"
      ])
    }))
})

layerLive(NodeFileSystem.layer)("the development orchestrator when things go wrong", (it) => {
  it.scoped("cancels a running backup: the agent's stage is interrupted, the backup is CORRUPTED", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const started = yield* Deferred.make<void>()
      const cancelled = yield* Deferred.make<void>()
      yield* startAgent(orchestrator.port, behaviorWith({
        registration: registration("slow-agent"),
        executeBackup: () => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never)),
        cancel: () => Deferred.succeed(cancelled, undefined)
      }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* Deferred.await(started)
      yield* orchestrator.cancelAction(backup.id)
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe("Cancelled by the user")
      yield* Deferred.await(cancelled)
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).status).toBe("CORRUPTED")
      expect(yield* Effect.flip(orchestrator.cancelAction())).toMatchObject({ _tag: "NoActionRunning" })
    }))

  it.scoped("fails a backup whose agent fails a stage, naming it, and tells the other agents to cancel", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const cancels = yield* Ref.make<Array<string>>([])
      const cancelStep = (agentId: string) => () => Ref.update(cancels, (all) => [...all, agentId])
      yield* startAgent(orchestrator.port, behaviorWith({
        registration: registration("good-agent"),
        cancel: cancelStep("good-agent")
      }))
      yield* awaitAgents(orchestrator, 1)
      yield* startAgent(orchestrator.port, behaviorWith({
        registration: registration("bad-agent"),
        executeBackup: () => Effect.fail(new StageFailure({ message: "Disk is full" })),
        cancel: cancelStep("bad-agent")
      }))
      yield* awaitAgents(orchestrator, 2)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe("Agent bad-agent failed at stage EXECUTION: Disk is full")
      expect([...(yield* Ref.get(cancels))].sort()).toEqual(["bad-agent", "good-agent"])
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).status).toBe("CORRUPTED")
    }))

  it.scoped("fails a backup whose agent disconnects in the middle", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const started = yield* Deferred.make<void>()
      const agentScope = yield* Scope.make()
      yield* startAgent(orchestrator.port, behaviorWith({
        registration: registration("leaving-agent"),
        executeBackup: () => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never))
      })).pipe(Scope.extend(agentScope))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      yield* Deferred.await(started)
      yield* Scope.close(agentScope, Exit.void)
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe("Agent leaving-agent failed at stage EXECUTION: Agent Disconnected")
      expect(yield* orchestrator.agents).toEqual([])
    }))

  it.scoped("rejects an invalid registration with every reason, in BRO's order and words", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      // Our agent refuses such information before connecting; this peer does not.
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: orchestrator.port })
      const control = yield* transport.openControl
      yield* control.send(AgentMessage.Register({
        action: "REGISTER",
        agentId: "",
        scope: "",
        apiVersion: "5.0",
        softwareVersion: { ...registration("x").softwareVersion, productName: "" },
        backendType: "BRO",
        features: []
      }))
      const ended = yield* Effect.flip(Stream.runDrain(control.messages))
      expect(ended).toMatchObject({
        status: "INVALID_ARGUMENT",
        details: "Invalid api version. Only [2.0, 3.0, 4.0] are supported.\n<> is an invalid id\nSoftware version information is invalid.\n"
      })
      expect(yield* orchestrator.agents).toEqual([])
    }))

  it.scoped("acknowledges an API 4.0 registration with BRO's features", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const agent = yield* startAgent(orchestrator.port, behaviorWith({
        registration: registration("ok-agent", { scope: "alpha;beta" })
      }))
      const status = yield* agent.statusChanges.pipe(
        Stream.filter((status) => status.connection._tag === "Registered"),
        Stream.runHead
      )
      expect(Option.getOrThrow(status).connection).toEqual({
        _tag: "Registered",
        apiVersion: "4.0",
        acknowledged: true,
        orchestratorFeatures: ["PLAINTEXT", "TLS", "MTLS", "PREPARE_STAGE", "POST_STAGE", "MULTIPLE_BACKUP_TYPES", "SELECTIVE_BACKUP"]
      })
      expect(yield* orchestrator.agents).toMatchObject([{ agentId: "ok-agent", scope: ["alpha", "beta"], apiVersion: "4.0" }])
      expect((yield* orchestrator.managers).map((manager) => manager.id)).toEqual(["DEFAULT", "DEFAULT-ok-agent", "alpha", "alpha-ok-agent", "beta", "beta-ok-agent"])
    }))

  it.scoped("refuses a second agent with an id already in use", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      yield* startAgent(orchestrator.port, behaviorWith({ registration: registration("twin") }))
      yield* awaitAgents(orchestrator, 1)
      const second = yield* startAgent(orchestrator.port, behaviorWith({ registration: registration("twin") }), {
        reconnect: { whileIdInUse: Schedule.recurs(0) }
      })
      const error = yield* Effect.flip(second.join)
      expect(error).toMatchObject({
        _tag: "RegistrationRejected",
        status: "ALREADY_EXISTS",
        reasons: ["Failed to register agent because id twin is already used"]
      })
      expect((yield* orchestrator.agents).map((agent) => agent.agentId)).toEqual(["twin"])
    }))

  it.scoped("aborts a fragment whose checksum differs, and fails the backup", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: orchestrator.port })
      const refused = yield* Deferred.make<unknown>()
      yield* startAgent(orchestrator.port, behaviorWith({
        registration: registration("liar"),
        // A misbehaving agent: the right bytes with a wrong checksum, sent by hand.
        executeBackup: () =>
          Effect.scoped(Effect.gen(function*() {
            const upload = yield* transport.openUpload()
            yield* upload.write({
              _tag: "Metadata",
              metadata: {
                agentId: "liar",
                backupName: "nightly",
                backupType: "",
                fragment: FragmentInformation.make({ fragmentId: "liar-0", version: "1.0", sizeInBytes: "12", customInformation: {} })
              }
            })
            yield* upload.write(FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }))
            yield* upload.write(FilePart.Content({ file: "BACKUP_FILE", content: Buffer.from("Hello World!") }))
            yield* upload.write(FilePart.Checksum({ file: "BACKUP_FILE", checksum: "00000000000000000000000000000000" }))
            yield* upload.finish
          })).pipe(Effect.catchAll((error) => Deferred.succeed(refused, error)))
      }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(yield* Deferred.await(refused)).toMatchObject({ _tag: "DataChannelError", status: "ABORTED" })
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toContain("Agent liar failed at stage EXECUTION: Fragment liar-0 failed: checksum mismatch")
      expect((yield* orchestrator.backup("DEFAULT", "nightly")).fragments).toEqual([])
    }))

  it.scoped("refuses to restore a backup whose agent is not registered, before sending anything", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const agentScope = yield* Scope.make()
      yield* startAgent(orchestrator.port, behaviorWith({ registration: registration("gone-agent") })).pipe(
        Scope.extend(agentScope)
      )
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      yield* Scope.close(agentScope, Exit.void)
      yield* orchestrator.agents.pipe(Effect.repeat({ until: (agents) => agents.length === 0, schedule: Schedule.spaced("20 millis") }))
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      const finished = yield* orchestrator.awaitAction(restore.id)
      expect(finished.result).toBe("FAILURE")
      expect(finished.progressInfo).toBe("The agents of backup nightly must be registered; missing: gone-agent")
    }))

  it.scoped("keeps its backups across a restart, and marks one left INCOMPLETE as CORRUPTED", () =>
    Effect.gen(function*() {
      const storage = yield* tempFolder
      const first = yield* Scope.make()
      const orchestrator = yield* startOrchestrator(storage).pipe(Scope.extend(first))
      yield* startAgent(orchestrator.port, behaviorWith({ registration: registration("db-agent") })).pipe(Scope.extend(first))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "kept")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      yield* Scope.close(first, Exit.void)
      const fs = yield* FileSystem.FileSystem
      // What a stop in the middle of a backup leaves behind.
      const interrupted = join(storage, "DEFAULT", "interrupted")
      yield* fs.makeDirectory(interrupted, { recursive: true })
      yield* fs.writeFileString(join(interrupted, "backup.json"), JSON.stringify({
        name: "interrupted",
        backupManagerId: "DEFAULT",
        status: "INCOMPLETE",
        creationTime: new Date().toISOString(),
        softwareVersions: [],
        fragments: []
      }))
      const restarted = yield* startOrchestrator(storage)
      const backups = yield* restarted.backups("DEFAULT")
      expect(backups.map((each) => [each.name, each.status]).sort()).toEqual([["interrupted", "CORRUPTED"], ["kept", "COMPLETE"]])
    }))

  it.scoped("is rejoined by our agent by itself after it stops and starts again on the same port", () =>
    Effect.gen(function*() {
      const storage = yield* tempFolder
      const first = yield* Scope.make()
      const orchestrator = yield* startOrchestrator(storage).pipe(Scope.extend(first))
      const port = orchestrator.port
      const agent = yield* startAgent(port, behaviorWith({ registration: registration("faithful") }))
      yield* awaitAgents(orchestrator, 1)
      yield* Scope.close(first, Exit.void)
      yield* agent.statusChanges.pipe(Stream.filter((status) => status.connection._tag !== "Registered"), Stream.runHead)
      const second = yield* startOrchestrator(storage, { port })
      expect((yield* awaitAgents(second, 1)).map((each) => each.agentId)).toEqual(["faithful"])
      const backup = yield* second.startAction("DEFAULT", "CREATE_BACKUP", "after-restart")
      expect((yield* second.awaitAction(backup.id)).result).toBe("SUCCESS")
    }))

  it.scoped("runs actions one at a time, in the order they were asked for", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      yield* startAgent(orchestrator.port, behaviorWith({ registration: registration("db-agent") }))
      yield* awaitAgents(orchestrator, 1)
      const first = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "one")
      const second = yield* orchestrator.startAction("DEFAULT", "DELETE_BACKUP", "one")
      expect((yield* orchestrator.awaitAction(first.id)).result).toBe("SUCCESS")
      expect((yield* orchestrator.awaitAction(second.id)).result).toBe("SUCCESS")
      expect(yield* orchestrator.backups("DEFAULT")).toEqual([])
      expect(yield* Effect.flip(orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "../x"))).toMatchObject({
        _tag: "InvalidActionRequest"
      })
      expect(yield* Effect.flip(orchestrator.startAction("nowhere", "CREATE_BACKUP", "x"))).toMatchObject({
        _tag: "UnknownBackupManager"
      })
    }))

  it.scoped("restores a 3.0 agent with the whole fragment list in the preparation", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      yield* startAgent(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup>({
        registration: registration("old-agent", { apiVersion: "3.0" }),
        executeBackup: (context) =>
          context.sendFragments([
            { fragmentId: "a", version: "1", backupFile: Fragments.fromBytes("a.bin", "aaa") },
            { fragmentId: "b", version: "1", backupFile: Fragments.fromBytes("b.bin", "bbb") }
          ]),
        prepareRestore: (context) => Ref.set(seen, context.fragments.map((f) => f.fragmentId).sort())
      }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "old")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "old")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
      expect(yield* Ref.get(seen)).toEqual(["a", "b"])
    }))
})
