import { describe, expect, it } from "@effect/vitest"
import { Chunk, ConfigError, ConfigProvider, Context, Duration, Effect, Exit, Fiber, Layer, Scope, Stream, TestClock } from "effect"
import { FragmentInformation } from "../src/core/Fragment.js"
import type { BackupMessage, FragmentRequest, RestoreMessage } from "../src/core/Message.js"
import { AgentMessage, FilePart, OrchestratorMessage } from "../src/core/Message.js"
import * as GrpcTransport from "../src/transport/GrpcTransport.js"
import { ControlStreamEnded, DataChannelError, DataChannelTimeout, OrchestratorTransport } from "../src/transport/OrchestratorTransport.js"
import { softwareVersion } from "./support/agentHarness.js"
import * as TestServer from "./support/TestServer.js"

const registration = AgentMessage.Register({
  action: "REGISTER",
  agentId: "agent-1",
  scope: "alpha;beta",
  apiVersion: "4.0",
  softwareVersion: { ...softwareVersion, commercialVersion: "1.2.3", semanticVersion: "1.2.3" },
  backendType: "BRO",
  features: ["PLAINTEXT", "PREPARE_STAGE"]
})

const fragment = FragmentInformation.make({
  fragmentId: "agent-1_1",
  version: "0.0.0",
  sizeInBytes: "11",
  customInformation: { kind: "database" }
})

const request: FragmentRequest = { agentId: "agent-1", backupName: "nightly", backupType: "DEFAULT", fragment }

const metadata: BackupMessage = { _tag: "Metadata", metadata: request }

const uploadMessages: ReadonlyArray<BackupMessage> = [
  metadata,
  FilePart.FileName({ file: "BACKUP_FILE", fileName: "backup.bin" }),
  FilePart.Content({ file: "BACKUP_FILE", content: Buffer.from("hello ") }),
  FilePart.Content({ file: "BACKUP_FILE", content: Buffer.from("world") }),
  FilePart.Checksum({ file: "BACKUP_FILE", checksum: "5EB63BBBE01EEED093CB22BB8F5ACDC3" })
]

const restoreMessages: ReadonlyArray<RestoreMessage> = [
  FilePart.FileName({ file: "BACKUP_FILE", fileName: "backup.bin" }),
  FilePart.Content({ file: "BACKUP_FILE", content: Buffer.from("hello ") }),
  FilePart.Content({ file: "BACKUP_FILE", content: Buffer.from("world") }),
  FilePart.Checksum({ file: "BACKUP_FILE", checksum: "5EB63BBBE01EEED093CB22BB8F5ACDC3" }),
  FilePart.FileName({ file: "CUSTOM_METADATA_FILE", fileName: "meta.json" }),
  FilePart.Content({ file: "CUSTOM_METADATA_FILE", content: Buffer.from("{}") }),
  FilePart.Checksum({ file: "CUSTOM_METADATA_FILE", checksum: "99914B932BD37A50B983C5E7C90AE93B" })
]

const bigContent = FilePart.Content({ file: "BACKUP_FILE", content: new Uint8Array(2048).fill(1) })

// Content arrives as a Buffer (a Uint8Array); compare parts by their bytes.
const plain = (message: BackupMessage | RestoreMessage) =>
  message._tag === "Content" ? { ...message, content: [...message.content] } : message

const transportOn = (port: number) => GrpcTransport.make({ host: "127.0.0.1", port })

describe("GrpcTransport control stream", () => {
  it.scoped("delivers a registration sent over openControl to the server, decoded", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const control = yield* transport.openControl
      yield* control.send(registration)
      const connection = yield* server.connections
      expect(yield* connection.next).toEqual(registration)
    }))

  it.scoped("delivers the server's messages in order", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const control = yield* transport.openControl
      yield* control.send(registration)
      const connection = yield* server.connections
      const sent = [
        OrchestratorMessage.RegisterAcknowledge({ message: "Registered Agent", features: ["PLAINTEXT", "TLS"] }),
        OrchestratorMessage.Preparation({
          action: "BACKUP",
          backupName: "nightly",
          backupType: "DEFAULT",
          softwareVersion: undefined,
          fragments: []
        }),
        OrchestratorMessage.Execution({ action: "BACKUP" }),
        OrchestratorMessage.Cancel({ action: "BACKUP", message: "stop" })
      ]
      for (const message of sent) yield* connection.send(message)
      const received = yield* Stream.runCollect(Stream.take(control.messages, sent.length))
      expect(Chunk.toReadonlyArray(received)).toEqual(sent)
    }))

  it.scoped("ends the messages with ControlStreamEnded OK when the server completes the stream", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const control = yield* transport.openControl
      yield* control.send(registration)
      const connection = yield* server.connections
      const acknowledge = OrchestratorMessage.RegisterAcknowledge({ message: "Registered Agent", features: [] })
      yield* connection.send(acknowledge)
      yield* connection.complete
      const received: Array<OrchestratorMessage> = []
      const ended = yield* Stream.runForEach(control.messages, (message) => Effect.sync(() => received.push(message))).pipe(
        Effect.flip
      )
      expect(received).toEqual([acknowledge])
      expect(ended).toBeInstanceOf(ControlStreamEnded)
      expect(ended.status).toBe("OK")
    }))

  it.scoped("ends the messages with the server's status and description when it fails the stream", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const control = yield* transport.openControl
      yield* control.send(registration)
      const connection = yield* server.connections
      const details = "Invalid api version. Only [2.0, 3.0, 4.0] are supported.\n<> is an invalid id\n"
      yield* connection.fail("INVALID_ARGUMENT", details)
      const ended = yield* Stream.runDrain(control.messages).pipe(Effect.flip)
      expect(ended).toEqual(new ControlStreamEnded({ status: "INVALID_ARGUMENT", details }))
    }))

  it.scoped("ends the messages again when they are pulled after the end", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const control = yield* transport.openControl
      yield* control.send(registration)
      const connection = yield* server.connections
      yield* connection.fail("ALREADY_EXISTS", "Failed to register agent because id agent-1 is already used")
      const first = yield* Stream.runDrain(control.messages).pipe(Effect.flip)
      const second = yield* Stream.runDrain(control.messages).pipe(Effect.flip)
      expect(second).toEqual(first)
      expect(first.status).toBe("ALREADY_EXISTS")
    }))

  it.scoped("does nothing when a message is sent after the stream ended", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const control = yield* transport.openControl
      yield* control.send(registration)
      const connection = yield* server.connections
      yield* connection.complete
      yield* Stream.runDrain(control.messages).pipe(Effect.flip)
      const sent = yield* Effect.exit(control.send(AgentMessage.StageComplete({
        action: "BACKUP",
        success: true,
        agentId: "agent-1",
        message: "late"
      })))
      expect(sent).toEqual(Exit.void)
    }))

  it.scoped("cancels the call when the stream's scope closes", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const scope = yield* Scope.make()
      const control = yield* Scope.extend(transport.openControl, scope)
      yield* control.send(registration)
      const connection = yield* server.connections
      yield* connection.next
      yield* Scope.close(scope, Exit.void)
      // The server never ends this call: only the client's cancel can.
      yield* connection.ended
    }))

  it.scoped("serves a control stream opened while the server is down once a server starts on the port", () =>
    Effect.gen(function*() {
      const port = yield* TestServer.freePort
      const transport = yield* transportOn(port)
      const control = yield* transport.openControl
      yield* control.send(registration)
      // An upload on the same channel fails fast: the channel has seen that
      // nothing listens, and the control call is still waiting.
      const upload = yield* transport.openUpload()
      const refused = yield* upload.finish.pipe(Effect.flip)
      expect(refused.status).toBe("UNAVAILABLE")

      const server = yield* TestServer.make({ port })
      const connection = yield* server.connections
      expect(yield* connection.next).toEqual(registration)
    }))

  it.scoped("reaches a server started again on the same port with a new control stream", () =>
    Effect.gen(function*() {
      const first = yield* TestServer.make()
      const transport = yield* transportOn(first.port)
      const control = yield* transport.openControl
      yield* control.send(registration)
      yield* (yield* first.connections).next
      yield* first.stop
      const ended = yield* Stream.runDrain(control.messages).pipe(Effect.flip)
      expect(ended.status).not.toBe("OK")

      const second = yield* TestServer.make({ port: first.port })
      const again = yield* transport.openControl
      yield* again.send(registration)
      expect(yield* (yield* second.connections).next).toEqual(registration)
    }))
})

describe("GrpcTransport upload", () => {
  it.scoped("delivers an upload's messages in order and finishes when the server answers OK", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const upload = yield* transport.openUpload()
      for (const message of uploadMessages) yield* upload.write(message)
      yield* upload.finish
      const outcome = yield* (yield* server.uploads).outcome
      expect(outcome._tag).toBe("Completed")
      expect(outcome.messages.map(plain)).toEqual(uploadMessages.map(plain))
    }))

  it.scoped("waits for the server to take messages before writing more", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ pauseUploads: true })
      const transport = yield* transportOn(server.port)
      const upload = yield* transport.openUpload()
      const chunk = FilePart.Content({ file: "BACKUP_FILE", content: new Uint8Array(64 * 1024).fill(7) })
      const total = 400
      let written = 0
      const writing = yield* Effect.fork(
        Effect.forEach(Array.from({ length: total }), () => Effect.tap(upload.write(chunk), () => written++), {
          discard: true
        })
      )
      const call = yield* server.uploads
      // The server reads nothing, so the writer must come to wait before the end.
      let status = yield* Fiber.status(writing)
      while (status._tag === "Running") {
        yield* Effect.yieldNow()
        status = yield* Fiber.status(writing)
      }
      expect(status._tag).toBe("Suspended")
      expect(written).toBeLessThan(total)
      yield* call.resume
      yield* Fiber.join(writing)
      yield* upload.finish
      const outcome = yield* call.outcome
      expect(outcome._tag).toBe("Completed")
      expect(outcome.messages.length).toBe(total)
    }))

  it.scoped("fails a write that waited the idle timeout for the server to read what was sent with DataChannelTimeout", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ pauseUploads: true })
      const transport = yield* transportOn(server.port)
      const upload = yield* transport.openUpload({ idleTimeout: Duration.seconds(30) })
      const chunk = FilePart.Content({ file: "BACKUP_FILE", content: new Uint8Array(64 * 1024).fill(7) })
      const writing = yield* Effect.fork(Effect.forever(upload.write(chunk)))
      yield* server.uploads
      while ((yield* Fiber.status(writing))._tag === "Running") yield* Effect.yieldNow()
      yield* TestClock.adjust("29 seconds")
      expect((yield* Fiber.status(writing))._tag).toBe("Suspended")
      yield* TestClock.adjust("1 second")
      const failure = yield* Fiber.join(writing).pipe(Effect.flip)
      expect(failure).toEqual(new DataChannelTimeout({ waitingFor: "the orchestrator to read the chunks already sent", after: Duration.seconds(30) }))
    }))

  it.scoped("cancels an upload with an idle timeout opened in an uninterruptible region when its scope closes", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const transport = yield* transportOn(server.port)
      const upload = yield* Effect.uninterruptible(Effect.scoped(Effect.gen(function*() {
        const upload = yield* transport.openUpload({ idleTimeout: Duration.seconds(30) })
        yield* upload.write(FilePart.FileName({ file: "BACKUP_FILE", fileName: "dump.sql" }))
        return upload
      })))
      const failure = yield* upload.finish.pipe(Effect.flip)
      expect(failure).toMatchObject({ _tag: "DataChannelError", status: "CANCELLED" })
    }))

  it.scoped("fails finish with the server's status and description when it answers ABORTED", () =>
    Effect.gen(function*() {
      const details = "Orchestrator not expecting backup. No create-backup job is in progress."
      const server = yield* TestServer.make({ answerUpload: () => ({ status: "ABORTED", details }) })
      const transport = yield* transportOn(server.port)
      const upload = yield* transport.openUpload()
      for (const message of uploadMessages) yield* upload.write(message)
      const failure = yield* upload.finish.pipe(Effect.flip)
      expect(failure).toEqual(new DataChannelError({ status: "ABORTED", details }))
    }))

  // The server holds every half-closed upload unanswered, so that only the
  // client's cancel can end the call (see TestServer about half-closes).
  it.scoped("cancels an upload whose scope closes before finish, instead of completing it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ answerUpload: () => "hold" })
      const transport = yield* transportOn(server.port)
      const scope = yield* Scope.make()
      const upload = yield* Scope.extend(transport.openUpload(), scope)
      for (const message of uploadMessages.slice(0, 3)) yield* upload.write(message)
      const call = yield* server.uploads
      yield* Scope.close(scope, Exit.void)
      const outcome = yield* call.outcome
      expect(outcome._tag).toBe("Cancelled")
    }))

  it.scoped("cancels an upload whose writer is interrupted, instead of completing it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ answerUpload: () => "hold" })
      const transport = yield* transportOn(server.port)
      const writing = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        const upload = yield* transport.openUpload()
        yield* upload.write(metadata)
        yield* Effect.never
      })))
      const call = yield* server.uploads
      yield* Fiber.interrupt(writing)
      const outcome = yield* call.outcome
      expect(outcome._tag).toBe("Cancelled")
    }))

  it.scoped("fails an upload to a port where nothing listens with UNAVAILABLE", () =>
    Effect.gen(function*() {
      const port = yield* TestServer.freePort
      const transport = yield* transportOn(port)
      const upload = yield* transport.openUpload()
      const failure = yield* Effect.gen(function*() {
        for (const message of uploadMessages) yield* upload.write(message)
        yield* upload.finish
      }).pipe(Effect.flip)
      expect(failure).toBeInstanceOf(DataChannelError)
      expect(failure).toMatchObject({ status: "UNAVAILABLE" })
    }))
})

describe("GrpcTransport download", () => {
  it.scoped("streams the server's messages in order and ends", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ serveDownload: () => ({ messages: restoreMessages }) })
      const transport = yield* transportOn(server.port)
      const received = yield* Stream.runCollect(transport.openDownload(request))
      expect(Chunk.toReadonlyArray(received).map(plain)).toEqual(restoreMessages.map(plain))
      const call = yield* server.downloads
      expect(call.request).toEqual(request)
    }))

  it.scoped("fails with the server's status when the server fails the download mid-way", () =>
    Effect.gen(function*() {
      const details = "Checksum mismatch: stored file changed"
      const server = yield* TestServer.make({
        serveDownload: () => ({ messages: restoreMessages.slice(0, 3), end: { status: "ABORTED", details } })
      })
      const transport = yield* transportOn(server.port)
      const failure = yield* Stream.runDrain(transport.openDownload(request)).pipe(Effect.flip)
      expect(failure).toEqual(new DataChannelError({ status: "ABORTED", details }))
    }))

  it.scoped("cancels the call when the consumer stops early", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ serveDownload: () => ({ messages: restoreMessages, end: "hold" }) })
      const transport = yield* transportOn(server.port)
      const received = yield* Stream.runCollect(Stream.take(transport.openDownload(request), 2))
      expect(Chunk.toReadonlyArray(received).map(plain)).toEqual(restoreMessages.slice(0, 2).map(plain))
      const call = yield* server.downloads
      expect(yield* call.outcome).toBe("Cancelled")
    }))

  it.scoped("fails with DataChannelTimeout when the server sends nothing for the idle timeout", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ serveDownload: () => ({ messages: restoreMessages.slice(0, 2), end: "hold" }) })
      const transport = yield* transportOn(server.port)
      const downloading = yield* Effect.fork(
        Stream.runDrain(transport.openDownload(request, { idleTimeout: Duration.seconds(30) }))
      )
      const call = yield* server.downloads
      // The timer is armed only once the download waits with nothing buffered.
      yield* TestClock.sleeps().pipe(
        Effect.zipLeft(Effect.yieldNow()),
        Effect.repeat({ until: (sleeps) => Chunk.isNonEmpty(sleeps) })
      )
      yield* TestClock.adjust(Duration.seconds(29))
      expect(downloading.unsafePoll()).toBeNull()
      yield* TestClock.adjust(Duration.seconds(1))
      const failure = yield* Fiber.join(downloading).pipe(Effect.flip)
      expect(failure).toMatchObject({ _tag: "DataChannelTimeout", after: Duration.seconds(30) })
      expect(yield* call.outcome).toBe("Cancelled")
    }))

  it.scoped("cancels the call when the download is interrupted", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ serveDownload: () => ({ messages: [], end: "hold" }) })
      const transport = yield* transportOn(server.port)
      const downloading = yield* Effect.fork(Stream.runDrain(transport.openDownload(request)))
      const call = yield* server.downloads
      yield* Fiber.interrupt(downloading)
      expect(yield* call.outcome).toBe("Cancelled")
    }))
})

describe("GrpcTransport options", () => {
  it.effect("refuses a port out of range and an empty host, naming each field", () =>
    Effect.gen(function*() {
      const failure = yield* Layer.build(GrpcTransport.layer({ host: "", port: 70000 })).pipe(Effect.scoped, Effect.flip)
      expect(failure).toBeInstanceOf(GrpcTransport.InvalidTransportOptions)
      expect(failure.problems.map((problem) => problem.field).sort()).toEqual(["host", "port"])
    }))

  it.effect("refuses a port that is not an integer", () =>
    Effect.gen(function*() {
      const failure = yield* GrpcTransport.make({ host: "localhost", port: 3000.5 }).pipe(Effect.scoped, Effect.flip)
      expect(failure.problems).toEqual([{ field: "port", reason: "must be an integer from 0 to 65535, not 3000.5" }])
    }))

  it.effect("refuses a keepalive interval that is not a duration, naming the nested field", () =>
    Effect.gen(function*() {
      const failure = yield* GrpcTransport.make({ host: "localhost", port: 3000, keepalive: { interval: "soon" as never } })
        .pipe(Effect.scoped, Effect.flip)
      expect(failure.problems.map((problem) => problem.field)).toEqual(["keepalive.interval"])
    }))

  it.effect("refuses a flow-control window smaller than HTTP/2 allows", () =>
    Effect.gen(function*() {
      const failure = yield* GrpcTransport.make({ host: "localhost", port: 3000, flowControlWindow: 1000 })
        .pipe(Effect.scoped, Effect.flip)
      expect(failure.problems).toEqual([{
        field: "flowControlWindow",
        reason: "must be a number of bytes from 65535 (HTTP/2's smallest window) to 2147483647, not 1000"
      }])
    }))

  it.scoped("refuses an inbound message larger than maxInboundMessageSize with RESOURCE_EXHAUSTED", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ serveDownload: () => ({ messages: [bigContent] }) })
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: server.port, maxInboundMessageSize: 1024 })
      const failure = yield* Stream.runDrain(transport.openDownload(request)).pipe(Effect.flip)
      expect(failure).toMatchObject({ _tag: "DataChannelError", status: "RESOURCE_EXHAUSTED" })
    }))

  it.effect("reads the flow-control window from the environment, 1 MiB when unset", () =>
    Effect.gen(function*() {
      const read = (entries: ReadonlyArray<readonly [string, string]>) =>
        Effect.withConfigProvider(GrpcTransport.config, ConfigProvider.fromMap(new Map(entries)))
      expect((yield* read([])).flowControlWindow).toBe(1024 * 1024)
      expect((yield* read([["AGENT_FLOW_CONTROL_WINDOW", "4194304"]])).flowControlWindow).toBe(4194304)
    }))

  // Each variable is refused with the rule of the same option in code, and
  // the error says which variable holds what.
  const badVariables: ReadonlyArray<readonly [name: string, value: string, reason: string]> = [
    ["ORCHESTRATOR_PORT", "abc", "must be a whole number"],
    ["ORCHESTRATOR_PORT", "70000", "must be an integer from 0 to 65535, not 70000"],
    ["AGENT_MAX_INBOUND_MESSAGE_SIZE", "0", "must be a positive number of bytes, not 0"],
    [
      "AGENT_FLOW_CONTROL_WINDOW",
      "10",
      "must be a number of bytes from 65535 (HTTP/2's smallest window) to 2147483647, not 10"
    ],
    ["AGENT_TLS_CHECK_INTERVAL_SECS", "0", "must be longer than zero"]
  ]
  for (const [name, value, reason] of badVariables) {
    it.effect(`refuses ${name}=${value} in the environment, naming the variable and its value`, () =>
      Effect.gen(function*() {
        const environment = ConfigProvider.fromMap(
          new Map([["ORCHESTRATOR_TLS_CA_FILE", "/run/secrets/bro-ca/ca.crt"], [name, value]])
        )
        const failure = yield* Layer.build(GrpcTransport.layerConfig()).pipe(
          Effect.withConfigProvider(environment),
          Effect.scoped,
          Effect.flip
        )
        expect(ConfigError.isConfigError(failure)).toBe(true)
        expect(String(failure)).toContain(`Invalid data at ${name}: "${reason}; it is set to ${value}"`)
      }))
  }

  it.effect("reads a blank ORCHESTRATOR_HOST as unset", () =>
    Effect.gen(function*() {
      const environment = ConfigProvider.fromMap(new Map([["ORCHESTRATOR_HOST", " "]]))
      const options = yield* Effect.withConfigProvider(GrpcTransport.config, environment)
      expect(options.host).toBe("127.0.0.1")
    }))

  it.effect("reads the TLS check interval from the environment in seconds", () =>
    Effect.gen(function*() {
      const environment = ConfigProvider.fromMap(
        new Map([["ORCHESTRATOR_TLS_CA_FILE", "/run/secrets/bro-ca/ca.crt"], ["AGENT_TLS_CHECK_INTERVAL_SECS", "7"]])
      )
      const options = yield* Effect.withConfigProvider(GrpcTransport.config, environment)
      expect(options.tls).toEqual({
        caFile: "/run/secrets/bro-ca/ca.crt",
        serverName: undefined,
        clientCertificateFile: undefined,
        clientKeyFile: undefined,
        checkInterval: Duration.seconds(7)
      })
    }))

  it.scoped("reads the port and the inbound message limit from the environment", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ serveDownload: () => ({ messages: [bigContent] }) })
      const provider = ConfigProvider.fromMap(
        new Map([["ORCHESTRATOR_PORT", String(server.port)], ["AGENT_MAX_INBOUND_MESSAGE_SIZE", "1024"]])
      )
      const transport = yield* Layer.build(GrpcTransport.layerConfig()).pipe(
        Effect.map(Context.get(OrchestratorTransport)),
        Effect.withConfigProvider(provider)
      )
      expect(transport.security).toBe("PLAINTEXT")
      const control = yield* transport.openControl
      yield* control.send(registration)
      expect(yield* (yield* server.connections).next).toEqual(registration)
      const failure = yield* Stream.runDrain(transport.openDownload(request)).pipe(Effect.flip)
      expect(failure).toMatchObject({ _tag: "DataChannelError", status: "RESOURCE_EXHAUSTED" })
    }))
})
