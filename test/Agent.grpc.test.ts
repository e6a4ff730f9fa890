// The running agent over real gRPC: Agent.start on the gRPC transport
// against a TestServer on 127.0.0.1 that plays the orchestrator, with real
// files in temporary folders.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect, Layer, Ref, Schedule, Stream } from "effect"
import { createHash } from "node:crypto"
import { join } from "node:path"
import * as Agent from "../src/Agent.js"
import type { AgentBehavior } from "../src/behavior/AgentBehavior.js"
import * as Fragments from "../src/behavior/Fragments.js"
import { FragmentInformation } from "../src/core/Fragment.js"
import type { BackupMessage, FragmentFile, RestoreMessage } from "../src/core/Message.js"
import { AgentMessage, FilePart, OrchestratorMessage } from "../src/core/Message.js"
import * as GrpcTransport from "../src/transport/GrpcTransport.js"
import {
  agentId,
  awaitStatus,
  backupPreparation,
  behaviorWith,
  cancel,
  execution,
  placeholder,
  postActions,
  restorePreparation,
  softwareVersion,
  stageComplete
} from "./support/agentHarness.js"
import * as TestServer from "./support/TestServer.js"
import { layerLive } from "./support/layers.js"

const registration = AgentMessage.Register({
  action: "REGISTER",
  agentId,
  scope: "",
  apiVersion: "4.0",
  softwareVersion: { ...softwareVersion, commercialVersion: "0.0.0", semanticVersion: "0.0.0" },
  backendType: "BRO",
  features: ["PLAINTEXT", "PREPARE_STAGE", "POST_STAGE"]
})

const broFeatures = ["PLAINTEXT", "TLS", "MTLS", "PREPARE_STAGE", "POST_STAGE", "MULTIPLE_BACKUP_TYPES", "SELECTIVE_BACKUP"] as const

const acknowledge = OrchestratorMessage.RegisterAcknowledge({ message: "Registered Agent", features: broFeatures })

const isRegistered = (status: Agent.AgentStatus) => status.connection._tag === "Registered"

/**
 * Starts an agent on the gRPC transport to `port`. The transport is built in
 * the test's scope, so that it outlives `Agent.start`, which returns at once.
 */
const startAgent = <E, R>(port: number, behavior: AgentBehavior<E, R>, options: Agent.AgentOptions = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port }), NodeFileSystem.layer)
    )
    return yield* Agent.start(behavior, options).pipe(Effect.provide(context))
  })

/** A server, an agent registered with it and acknowledged, and the agent's control stream as the server sees it. */
const registeredAgent = <E, R>(
  behavior: AgentBehavior<E, R>,
  options: { readonly server?: TestServer.TestServerOptions; readonly agent?: Agent.AgentOptions } = {}
) =>
  Effect.gen(function*() {
    const server = yield* TestServer.make(options.server)
    const agent = yield* startAgent(server.port, behavior, options.agent)
    const connection = yield* server.connections
    expect(yield* connection.next).toEqual(registration)
    yield* connection.send(acknowledge)
    yield* awaitStatus(agent, isRegistered)
    return { server, agent, connection }
  })

const tempFolder = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bro-agent-grpc-" }))

// Content arrives as a Buffer; compare parts by their text.
const readable = (message: BackupMessage | RestoreMessage) =>
  message._tag === "Content" ? { ...message, content: Buffer.from(message.content).toString() } : message

const md5Hex = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex").toUpperCase()

// What an orchestrator streams for a stored file, cut into chunks of `chunk` bytes.
const servedFile = (file: FragmentFile, fileName: string, text: string, chunk: number) => {
  const bytes = Buffer.from(text)
  const parts: Array<RestoreMessage> = [FilePart.FileName({ file, fileName })]
  for (let offset = 0; offset < bytes.length; offset += chunk) {
    parts.push(FilePart.Content({ file, content: bytes.subarray(offset, offset + chunk) }))
  }
  parts.push(FilePart.Checksum({ file, checksum: md5Hex(bytes) }))
  return parts
}

layerLive(NodeFileSystem.layer)("agent over gRPC: registration", (it) => {
  it.scoped("registers with API 4.0 and the features PLAINTEXT, PREPARE_STAGE, POST_STAGE, and is Registered once acknowledged", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const agent = yield* startAgent(server.port, behaviorWith())
      const connection = yield* server.connections
      expect(yield* connection.next).toEqual(registration)
      // API 4.0: registered only once the orchestrator acknowledged.
      expect((yield* agent.status).connection).toEqual({ _tag: "Connecting", apiVersion: "4.0" })

      yield* connection.send(acknowledge)
      const status = yield* awaitStatus(agent, isRegistered)
      expect(status).toEqual({
        agentId,
        connection: { _tag: "Registered", apiVersion: "4.0", acknowledged: true, orchestratorFeatures: broFeatures },
        action: undefined
      })
    }))

  it.scoped("registers again by itself on a new server started on the same port after the first one stopped", () =>
    Effect.gen(function*() {
      const { agent, server: first } = yield* registeredAgent(behaviorWith(), {
        agent: { reconnect: { afterStreamLost: Schedule.spaced("50 millis") } }
      })
      yield* first.stop

      const second = yield* TestServer.make({ port: first.port })
      const connection = yield* second.connections
      expect(yield* connection.next).toEqual(registration)
      yield* connection.send(acknowledge)
      const status = yield* awaitStatus(agent, isRegistered)
      expect(status.connection).toEqual({
        _tag: "Registered",
        apiVersion: "4.0",
        acknowledged: true,
        orchestratorFeatures: broFeatures
      })
    }))

  it.scoped("stops with RegistrationRejected carrying every reason when the server refuses the registration with INVALID_ARGUMENT", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const agent = yield* startAgent(server.port, behaviorWith())
      const connection = yield* server.connections
      yield* connection.next
      yield* connection.fail(
        "INVALID_ARGUMENT",
        "Invalid api version. Only [2.0, 3.0, 4.0] are supported.\nSoftware version information is invalid.\n"
      )

      const error = yield* Effect.flip(agent.join)
      expect(error).toEqual(
        new Agent.RegistrationRejected({
          agentId,
          status: "INVALID_ARGUMENT",
          reasons: ["Invalid api version. Only [2.0, 3.0, 4.0] are supported.", "Software version information is invalid."]
        })
      )
      expect((yield* agent.status).connection).toEqual({ _tag: "Stopped", error })
    }))
})

layerLive(NodeFileSystem.layer)("agent over gRPC: backup", (it) => {
  it.scoped("runs a full backup, sending each fragment from real files over the data channel and answering each stage once", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "dump.sql"), "Hello World!")
      yield* fs.writeFileString(join(folder, "tables.csv"), "users,orders,items")
      yield* fs.writeFileString(join(folder, "tables-meta.json"), "{\"pod\":\"db-0\"}")
      const behavior = behaviorWith({
        executeBackup: (context) =>
          context.sendFragments([
            {
              fragmentId: "my-agent_1",
              version: "1.0",
              customInformation: { pod: "db-0" },
              backupFile: Fragments.fromPath(join(folder, "dump.sql"))
            },
            {
              fragmentId: "my-agent_2",
              version: "2.0",
              backupFile: Fragments.fromPath(join(folder, "tables.csv")),
              customMetadataFile: Fragments.fromPath(join(folder, "tables-meta.json"))
            }
          ]).pipe(Effect.asVoid)
      })
      const { connection, server } = yield* registeredAgent(behavior, { agent: { chunkSize: 5 } })

      yield* connection.send(backupPreparation)
      expect(yield* connection.next).toEqual(stageComplete("BACKUP", true, "Preparation for backup is successful"))
      yield* connection.send(execution("BACKUP"))
      expect(yield* connection.next).toEqual(stageComplete("BACKUP", true, "Backup completed"))

      const first = yield* (yield* server.uploads).outcome
      expect(first._tag).toBe("Completed")
      expect(first.messages.map(readable)).toEqual([
        {
          _tag: "Metadata",
          metadata: {
            agentId,
            backupName: "nightly",
            backupType: "",
            fragment: { fragmentId: "my-agent_1", version: "1.0", sizeInBytes: "12", customInformation: { pod: "db-0" } }
          }
        },
        FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }),
        { _tag: "Content", file: "BACKUP_FILE", content: "Hello" },
        { _tag: "Content", file: "BACKUP_FILE", content: " Worl" },
        { _tag: "Content", file: "BACKUP_FILE", content: "d!" },
        FilePart.Checksum({ file: "BACKUP_FILE", checksum: "ED076287532E86365E841E92BFC50D8C" })
      ])
      const second = yield* (yield* server.uploads).outcome
      expect(second._tag).toBe("Completed")
      expect(second.messages.map(readable)).toEqual([
        {
          _tag: "Metadata",
          metadata: {
            agentId,
            backupName: "nightly",
            backupType: "",
            fragment: { fragmentId: "my-agent_2", version: "2.0", sizeInBytes: "18", customInformation: {} }
          }
        },
        FilePart.FileName({ file: "BACKUP_FILE", fileName: "tables.csv" }),
        { _tag: "Content", file: "BACKUP_FILE", content: "users" },
        { _tag: "Content", file: "BACKUP_FILE", content: ",orde" },
        { _tag: "Content", file: "BACKUP_FILE", content: "rs,it" },
        { _tag: "Content", file: "BACKUP_FILE", content: "ems" },
        FilePart.Checksum({ file: "BACKUP_FILE", checksum: "116112370998DE9E62A25AD9E379A38C" }),
        FilePart.FileName({ file: "CUSTOM_METADATA_FILE", fileName: "tables-meta.json" }),
        { _tag: "Content", file: "CUSTOM_METADATA_FILE", content: "{\"pod" },
        { _tag: "Content", file: "CUSTOM_METADATA_FILE", content: "\":\"db" },
        { _tag: "Content", file: "CUSTOM_METADATA_FILE", content: "-0\"}" },
        FilePart.Checksum({ file: "CUSTOM_METADATA_FILE", checksum: "B466ED69EBA11EEBC836107B533B5F0D" })
      ])

      yield* connection.send(postActions("BACKUP"))
      expect(yield* connection.next).toEqual(stageComplete("BACKUP", true, "Post backup actions completed"))
      // The agent answers in order: the cancel's answer coming next proves no stage was answered twice.
      yield* connection.send(cancel("BACKUP"))
      expect(yield* connection.next).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
    }))

  it.scoped("interrupts an upload when the server cancels the backup: the call is cancelled and the cancel answered once", () =>
    Effect.gen(function*() {
      const cancelled = yield* Ref.make(0)
      // A 64 MiB dump, produced as it is sent; the server reads none of it, so flow control holds the upload.
      const dump = Stream.repeatValue(Buffer.alloc(64 * 1024, 7)).pipe(Stream.take(1024))
      const behavior = behaviorWith({
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: "my-agent_dump",
            version: "1.0",
            backupFile: Fragments.fromStream("dump.sql", dump)
          }).pipe(Effect.asVoid),
        cancel: () => Ref.update(cancelled, (count) => count + 1)
      })
      const { connection, server } = yield* registeredAgent(behavior, { server: { pauseUploads: true } })

      yield* connection.send(backupPreparation)
      yield* connection.next
      yield* connection.send(execution("BACKUP"))
      const upload = yield* server.uploads
      yield* connection.send(cancel("BACKUP"))
      expect(yield* connection.next).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
      const outcome = yield* upload.outcome
      expect(outcome._tag).toBe("Cancelled")
      expect(yield* Ref.get(cancelled)).toBe(1)

      // The interrupted execution is never answered: the next answer is that of a second cancel.
      yield* connection.send(cancel("BACKUP"))
      expect(yield* connection.next).toEqual(stageComplete("BACKUP", true, "Cancel actions completed"))
    }))
})

layerLive(NodeFileSystem.layer)("agent over gRPC: restore", (it) => {
  it.scoped("runs a full restore, taking the fragment list entries and downloading each fragment into a folder", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      const restoreFolder = join(folder, "restored")
      const first = FragmentInformation.make({
        fragmentId: "my-agent_1",
        version: "1.0",
        sizeInBytes: "12",
        customInformation: { pod: "db-0" }
      })
      const second = FragmentInformation.make({
        fragmentId: "my-agent_2",
        version: "2.0",
        sizeInBytes: "24",
        customInformation: {}
      })
      const stored: Record<string, ReadonlyArray<RestoreMessage>> = {
        "my-agent_1": servedFile("BACKUP_FILE", "dump.sql", "Hello World!", 5),
        "my-agent_2": [
          ...servedFile("BACKUP_FILE", "schema.sql", "CREATE TABLE t (id int);", 10),
          ...servedFile("CUSTOM_METADATA_FILE", "schema-meta.json", "{\"pod\":\"db-0\"}", 10)
        ]
      }
      const prepared = yield* Ref.make<ReadonlyArray<FragmentInformation>>([])
      const behavior = behaviorWith({
        prepareRestore: (context) => Ref.set(prepared, context.fragments),
        executeRestore: (context) =>
          Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, restoreFolder)).pipe(
            Effect.asVoid
          )
      })
      const { connection, server } = yield* registeredAgent(behavior, {
        server: { serveDownload: (request) => ({ messages: stored[request.fragment.fragmentId] ?? [] }) }
      })

      yield* connection.send(restorePreparation([placeholder]))
      yield* connection.send(OrchestratorMessage.FragmentListEntry({ action: "RESTORE", fragment: first, last: false }))
      yield* connection.send(OrchestratorMessage.FragmentListEntry({ action: "RESTORE", fragment: second, last: true }))
      expect(yield* connection.next).toEqual(stageComplete("RESTORE", true, "Preparation for restore is successful"))
      expect(yield* Ref.get(prepared)).toEqual([first, second])

      yield* connection.send(execution("RESTORE"))
      expect(yield* connection.next).toEqual(stageComplete("RESTORE", true, "Restore completed"))
      expect((yield* server.downloads).request).toEqual({ agentId, backupName: "nightly", backupType: "DEFAULT", fragment: first })
      expect((yield* server.downloads).request).toEqual({ agentId, backupName: "nightly", backupType: "DEFAULT", fragment: second })
      expect([...(yield* fs.readDirectory(restoreFolder))].sort()).toEqual(["dump.sql", "schema-meta.json", "schema.sql"])
      expect(yield* fs.readFileString(join(restoreFolder, "dump.sql"))).toBe("Hello World!")
      expect(yield* fs.readFileString(join(restoreFolder, "schema.sql"))).toBe("CREATE TABLE t (id int);")
      expect(yield* fs.readFileString(join(restoreFolder, "schema-meta.json"))).toBe("{\"pod\":\"db-0\"}")

      yield* connection.send(postActions("RESTORE"))
      expect(yield* connection.next).toEqual(stageComplete("RESTORE", true, "Post restore actions completed"))
      // The agent answers in order: the cancel's answer coming next proves no stage was answered twice.
      yield* connection.send(cancel("RESTORE"))
      expect(yield* connection.next).toEqual(stageComplete("RESTORE", true, "Cancel actions completed"))
    }))
})
