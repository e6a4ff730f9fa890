// TLS and mutual TLS between our agent (Agent.start over GrpcTransport) and
// the development orchestrator, over real gRPC on 127.0.0.1, with throwaway
// certificate authorities and certificates made for each test and written
// to a temporary folder, as a Kubernetes secret mounts them.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { ConfigProvider, Context, Deferred, Effect, Exit, HashMap, Layer, Logger, Option, Ref, Schedule, Scope, Stream } from "effect"
import { join } from "node:path"
import * as Agent from "../src/Agent.js"
import type { AgentBehavior } from "../src/behavior/AgentBehavior.js"
import * as Fragments from "../src/behavior/Fragments.js"
import { FragmentInformation } from "../src/core/Fragment.js"
import type { AgentMessage, BackupMessage } from "../src/core/Message.js"
import * as GrpcTransport from "../src/transport/GrpcTransport.js"
import { OrchestratorTransport } from "../src/transport/OrchestratorTransport.js"
import * as Orchestrator from "../orchestrator/Orchestrator.js"
import * as Certificates from "./support/Certificates.js"
import { awaitStatus, behaviorWith } from "./support/agentHarness.js"
import { registration, tempFolder } from "./support/orchestratorHarness.js"
import { layerLive } from "./support/layers.js"

/** The name on the orchestrator's certificate that agents expect: the certificate authority name. */
const serverName = "eric-ctrl-bro"

/** Short enough that a rotation is seen at once; nothing waits for it by the clock. */
const checkInterval = "50 millis"

/** Writes a file the way a Kubernetes secret update does: whole, by a rename. */
const writeFile = (path: string, text: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.writeFileString(`${path}.new`, text)
    yield* fs.rename(`${path}.new`, path)
  })

/** A folder of PEM files named as a Kubernetes TLS secret names them. */
const secret = (folder: string, files: { readonly ca?: string; readonly identity?: Certificates.Identity }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(folder, { recursive: true })
    const paths = { caFile: join(folder, "ca.crt"), certificateFile: join(folder, "tls.crt"), keyFile: join(folder, "tls.key") }
    if (files.ca !== undefined) yield* writeFile(paths.caFile, files.ca)
    if (files.identity !== undefined) {
      yield* writeFile(paths.certificateFile, files.identity.certificate)
      yield* writeFile(paths.keyFile, files.identity.key)
    }
    return paths
  })

/**
 * One certificate authority (`root`) that signs the orchestrator's and the
 * agent's certificates, another (`rogue`) that nobody trusts, and the
 * secrets of both sides in a temporary folder.
 */
const pki = Effect.gen(function*() {
  const folder = yield* tempFolder
  const root = yield* Certificates.authority("bro-root-ca")
  const rogue = yield* Certificates.authority("rogue-ca")
  const server = yield* secret(join(folder, "orchestrator"), {
    ca: root.certificate,
    identity: yield* Certificates.server(root, serverName)
  })
  const agent = yield* secret(join(folder, "agent"), {
    ca: root.certificate,
    identity: yield* Certificates.client(root, "tls-agent")
  })
  return { folder, root, rogue, server, agent }
})

type Pki = Effect.Effect.Success<typeof pki>

/** The orchestrator serving TLS; with `requireClientCertificate`, mutual TLS. */
const startOrchestrator = (
  storage: string,
  server: Pki["server"],
  options: { readonly port?: number; readonly requireClientCertificate?: boolean } = {}
) =>
  Orchestrator.make({
    port: options.port ?? 0,
    storage,
    tls: {
      certificateFile: server.certificateFile,
      keyFile: server.keyFile,
      caFile: server.caFile,
      requireClientCertificate: options.requireClientCertificate ?? false,
      checkInterval
    }
  })

const tlsOptions = (agent: Pki["agent"], mutual: boolean): GrpcTransport.TlsOptions => ({
  caFile: agent.caFile,
  serverName,
  checkInterval,
  ...(mutual ? { clientCertificateFile: agent.certificateFile, clientKeyFile: agent.keyFile } : {})
})

/**
 * Starts our agent over the TLS transport, keeping what it sends on its
 * control streams; the transport lives in the test's scope.
 */
const startAgent = <E, R>(port: number, tls: GrpcTransport.TlsOptions, behavior: AgentBehavior<E, R>) =>
  Effect.gen(function*() {
    const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port, tls })
    const sent = yield* Ref.make<ReadonlyArray<AgentMessage>>([])
    const recording = OrchestratorTransport.of({
      ...transport,
      openControl: Effect.map(transport.openControl, (control) => ({
        ...control,
        send: (message: AgentMessage) => Ref.update(sent, (all) => [...all, message]).pipe(Effect.zipRight(control.send(message)))
      }))
    })
    const agent = yield* Agent.start(behavior, { reconnect: { afterStreamLost: Schedule.spaced("50 millis") } }).pipe(
      Effect.provideService(OrchestratorTransport, recording)
    )
    const features = Effect.map(Ref.get(sent), (all) => all.find((message) => message._tag === "Register")?.features)
    return { agent, transport, features }
  })

/** Waits until the orchestrator lists these agents (and fails the test after 10 s instead of hanging it). */
const awaitAgents = (orchestrator: Orchestrator.Orchestrator["Type"], agentIds: ReadonlyArray<string>) =>
  orchestrator.agents.pipe(
    Effect.map((agents) => agents.map((agent) => agent.agentId).sort()),
    Effect.repeat({ until: (listed) => agentIds.every((id) => listed.includes(id)), schedule: Schedule.spaced("20 millis") }),
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new Error(`the orchestrator never listed ${agentIds.join(", ")}`)
    })
  )

const fragmentMetadata: BackupMessage = {
  _tag: "Metadata",
  metadata: {
    agentId: "tls-agent",
    backupName: "nightly",
    backupType: "DEFAULT",
    fragment: FragmentInformation.make({ fragmentId: "tls-agent-0", version: "1.0", sizeInBytes: "1", customInformation: {} })
  }
}

/**
 * Starts an upload on the transport. An orchestrator that accepted the
 * connection refuses the upload itself with ABORTED (no backup is running);
 * a refused TLS handshake is UNAVAILABLE.
 */
const tryUpload = (transport: OrchestratorTransport["Type"]) =>
  Effect.scoped(Effect.gen(function*() {
    const upload = yield* transport.openUpload()
    yield* upload.write(fragmentMetadata)
    yield* upload.finish
  })).pipe(
    // No idle timeout was asked for: a timeout would be a bug.
    Effect.catchTag("DataChannelTimeout", Effect.die),
    Effect.flip
  )

const backupAndRestore = (orchestrator: Orchestrator.Orchestrator["Type"], target: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
    expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
    const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
    expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")
    expect(yield* fs.readFileString(join(target, "dump.sql"))).toBe("Hello over TLS")
  })

const backingUp = (agentId: string, target: string) =>
  behaviorWith<Fragments.FailedToTransferBackup | Fragments.FailedToDownload>({
    registration: registration(agentId),
    executeBackup: (context) =>
      context.sendFragment({
        fragmentId: `${agentId}-0`,
        version: "1.0",
        backupFile: Fragments.fromBytes("dump.sql", "Hello over TLS")
      }),
    executeRestore: (context) =>
      Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, target), { discard: true })
  })

layerLive(NodeFileSystem.layer)("TLS: the agent checks the orchestrator's certificate", (it) => {
  it.scoped("registers over TLS, announces TLS, and takes a backup and restores it", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server)
      const target = yield* tempFolder
      const started = yield* startAgent(orchestrator.port, tlsOptions(agent, false), backingUp("tls-agent", target))
      expect(started.transport.security).toBe("TLS")
      yield* awaitAgents(orchestrator, ["tls-agent"])
      expect(yield* started.features).toEqual(["TLS", "PREPARE_STAGE", "POST_STAGE"])
      yield* backupAndRestore(orchestrator, target)
    }))

  it.scoped("refuses an orchestrator whose certificate another CA signed", () =>
    Effect.gen(function*() {
      const { agent, folder, rogue, server } = yield* pki
      const rogueServer = yield* secret(join(folder, "rogue"), { identity: yield* Certificates.server(rogue, serverName) })
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), { ...rogueServer, caFile: server.caFile })
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: orchestrator.port, tls: tlsOptions(agent, false) })
      const refused = yield* tryUpload(transport)
      expect(refused.status).toBe("UNAVAILABLE")
      expect(refused.details).toMatch(/certificate/)
    }))

  it.scoped("refuses an orchestrator whose certificate does not carry the certificate authority name", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server)
      const transport = yield* GrpcTransport.make({
        host: "127.0.0.1",
        port: orchestrator.port,
        tls: { ...tlsOptions(agent, false), serverName: "eric-ctrl-bro-elsewhere" }
      })
      const refused = yield* tryUpload(transport)
      expect(refused.status).toBe("UNAVAILABLE")
      expect(refused.details).toContain("eric-ctrl-bro-elsewhere")
    }))

  it.scoped("reaches the orchestrator once the certificate authority name is right", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server)
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: orchestrator.port, tls: tlsOptions(agent, false) })
      // The orchestrator itself refuses the upload: the TLS connection was made.
      expect((yield* tryUpload(transport)).status).toBe("ABORTED")
    }))
})

layerLive(NodeFileSystem.layer)("mutual TLS: the orchestrator checks the agent's certificate", (it) => {
  it.scoped("registers over mutual TLS, announces MTLS, and takes a backup and restores it", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server, { requireClientCertificate: true })
      const target = yield* tempFolder
      const started = yield* startAgent(orchestrator.port, tlsOptions(agent, true), backingUp("mtls-agent", target))
      expect(started.transport.security).toBe("MTLS")
      yield* awaitAgents(orchestrator, ["mtls-agent"])
      expect(yield* started.features).toEqual(["MTLS", "PREPARE_STAGE", "POST_STAGE"])
      yield* backupAndRestore(orchestrator, target)
    }))

  it.scoped("refuses an agent without a client certificate", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server, { requireClientCertificate: true })
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: orchestrator.port, tls: tlsOptions(agent, false) })
      const refused = yield* tryUpload(transport)
      expect(refused.status).toBe("UNAVAILABLE")
      expect(refused.details).toMatch(/certificate required/)
    }))

  it.scoped("refuses an agent whose client certificate another CA signed", () =>
    Effect.gen(function*() {
      const { agent, folder, rogue, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server, { requireClientCertificate: true })
      const stranger = yield* Certificates.client(rogue, "tls-agent")
      yield* writeFile(agent.certificateFile, stranger.certificate)
      yield* writeFile(agent.keyFile, stranger.key)
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: orchestrator.port, tls: tlsOptions(agent, true) })
      expect((yield* tryUpload(transport)).status).toBe("UNAVAILABLE")
    }))

  it.scoped("takes an agent whose client certificate another CA signed when client certificates are only asked for", () =>
    Effect.gen(function*() {
      const { agent, folder, rogue, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server, { requireClientCertificate: false })
      const stranger = yield* Certificates.client(rogue, "tls-agent")
      yield* writeFile(agent.certificateFile, stranger.certificate)
      yield* writeFile(agent.keyFile, stranger.key)
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: orchestrator.port, tls: tlsOptions(agent, true) })
      expect((yield* tryUpload(transport)).status).toBe("ABORTED")
    }))
})

layerLive(NodeFileSystem.layer)("TLS files and options", (it) => {
  it.scoped("fails to start with InvalidTlsFile naming a CA file that does not exist", () =>
    Effect.gen(function*() {
      const { agent, folder } = yield* pki
      const missing = join(folder, "nowhere", "ca.crt")
      const failure = yield* Layer.build(GrpcTransport.layer({
        host: "127.0.0.1",
        port: 3000,
        tls: { ...tlsOptions(agent, true), caFile: missing }
      })).pipe(Effect.flip)
      expect(failure).toBeInstanceOf(GrpcTransport.InvalidTlsFile)
      expect(failure).toMatchObject({ file: missing, reason: "does not exist" })
    }))

  it.scoped("fails to start with InvalidTlsFile naming a key that is not the client certificate's", () =>
    Effect.gen(function*() {
      const { agent, root } = yield* pki
      yield* writeFile(agent.keyFile, (yield* Certificates.client(root, "someone-else")).key)
      const failure = yield* GrpcTransport.make({ host: "127.0.0.1", port: 3000, tls: tlsOptions(agent, true) }).pipe(
        Effect.flip
      )
      expect(failure).toMatchObject({
        _tag: "InvalidTlsFile",
        file: agent.keyFile,
        reason: `is not the private key of the certificate in ${agent.certificateFile}`
      })
    }))

  it.scoped("fails to start with InvalidTlsFile naming a certificate file that holds no certificate", () =>
    Effect.gen(function*() {
      const { agent } = yield* pki
      yield* writeFile(agent.caFile, "not a certificate\n")
      const failure = yield* GrpcTransport.make({ host: "127.0.0.1", port: 3000, tls: tlsOptions(agent, false) }).pipe(
        Effect.flip
      )
      expect(failure).toMatchObject({ _tag: "InvalidTlsFile", file: agent.caFile })
      expect(failure.message).toBe(
        `TLS file ${agent.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`
      )
    }))

  it.scoped("fails to start with InvalidTlsFile naming a CA bundle whose certificates are glued on one line", () =>
    Effect.gen(function*() {
      const { agent, root, rogue } = yield* pki
      yield* writeFile(agent.caFile, `${root.certificate.trimEnd()}${rogue.certificate}`)
      const failure = yield* GrpcTransport.make({ host: "127.0.0.1", port: 3000, tls: tlsOptions(agent, false) }).pipe(
        Effect.flip
      )
      expect(failure.message).toBe(`TLS file ${agent.caFile} holds a broken PEM certificate: its certificate cannot be parsed`)
    }))

  it.effect("refuses a client certificate without its key, naming both fields", () =>
    Effect.gen(function*() {
      const failure = yield* GrpcTransport.make({
        host: "127.0.0.1",
        port: 3000,
        tls: { caFile: "/run/secrets/bro-ca/ca.crt", clientCertificateFile: "/run/secrets/agent/tls.crt" }
      }).pipe(Effect.scoped, Effect.flip)
      expect(failure).toBeInstanceOf(GrpcTransport.InvalidTransportOptions)
      expect(failure).toMatchObject({
        problems: [{
          field: "tls.clientKeyFile",
          reason: "is missing: tls.clientCertificateFile and tls.clientKeyFile go together (mutual TLS needs both)"
        }]
      })
    }))

  it.scoped("reads mutual TLS from the environment", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server, { requireClientCertificate: true })
      const environment = ConfigProvider.fromMap(
        new Map([
          ["ORCHESTRATOR_PORT", String(orchestrator.port)],
          ["ORCHESTRATOR_TLS_CA_FILE", agent.caFile],
          ["ORCHESTRATOR_TLS_SERVER_NAME", serverName],
          ["AGENT_TLS_CERT_FILE", agent.certificateFile],
          ["AGENT_TLS_KEY_FILE", agent.keyFile],
          ["AGENT_TLS_CHECK_INTERVAL_SECS", "1"]
        ])
      )
      const transport = yield* Layer.build(GrpcTransport.layerConfig()).pipe(
        Effect.map(Context.get(OrchestratorTransport)),
        Effect.withConfigProvider(environment)
      )
      expect(transport.security).toBe("MTLS")
      expect((yield* tryUpload(transport)).status).toBe("ABORTED")
    }))

  it.effect("refuses AGENT_TLS_CERT_FILE in the environment without ORCHESTRATOR_TLS_CA_FILE", () =>
    Effect.gen(function*() {
      const environment = ConfigProvider.fromMap(
        new Map([["AGENT_TLS_CERT_FILE", "/run/secrets/agent/tls.crt"], ["AGENT_TLS_KEY_FILE", "/run/secrets/agent/tls.key"]])
      )
      const failure = yield* Effect.flip(Effect.withConfigProvider(GrpcTransport.config, environment))
      expect(String(failure)).toContain(
        "Expected ORCHESTRATOR_TLS_CA_FILE to be set, because AGENT_TLS_CERT_FILE and AGENT_TLS_KEY_FILE are set"
      )
    }))

  it.scoped("does not start an orchestrator that requires client certificates without a CA file", () =>
    Effect.gen(function*() {
      const { folder, server } = yield* pki
      const failure = yield* Orchestrator.make({
        port: 0,
        storage: join(folder, "storage"),
        tls: { certificateFile: server.certificateFile, keyFile: server.keyFile, requireClientCertificate: true }
      }).pipe(Effect.flip)
      expect(failure.reason).toContain("tls.requireClientCertificate needs tls.caFile")
    }))

  it.scoped("does not start an orchestrator whose key file is missing, naming it", () =>
    Effect.gen(function*() {
      const { folder, server } = yield* pki
      const missing = join(folder, "orchestrator", "missing.key")
      const failure = yield* startOrchestrator(join(folder, "storage"), { ...server, keyFile: missing }).pipe(Effect.flip)
      expect(failure.reason).toBe(`TLS file ${missing} does not exist`)
    }))
})

/** Keeps every log line (its message and its `file` annotation), to wait for one. */
const capturedLogs = Effect.sync(() => {
  const lines: Array<{ readonly message: string; readonly file: unknown }> = []
  const logger = Logger.make(({ annotations, message }) => {
    lines.push({
      message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      file: Option.getOrUndefined(HashMap.get(annotations, "file"))
    })
  })
  const awaitLine = (matches: (line: { readonly message: string; readonly file: unknown }) => boolean) =>
    Effect.sync(() => lines.find(matches)).pipe(
      Effect.repeat({ until: (line) => line !== undefined, schedule: Schedule.spaced("20 millis") }),
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the awaited log line never came") }),
      Effect.zipRight(Effect.sync(() => lines.find(matches)))
    )
  return { layer: Logger.replace(Logger.defaultLogger, logger), awaitLine }
})

layerLive(NodeFileSystem.layer)("certificates rotated on disk", (it) => {
  it.scoped("uses the agent's rotated client certificate for its next connection, without a restart", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const storage = join(folder, "storage")
      const first = yield* Scope.make()
      const orchestrator = yield* startOrchestrator(storage, server, { requireClientCertificate: true }).pipe(
        Scope.extend(first)
      )
      const port = orchestrator.port
      yield* startAgent(port, tlsOptions(agent, true), behaviorWith({ registration: registration("rotating-agent") }))
      yield* awaitAgents(orchestrator, ["rotating-agent"])
      yield* Scope.close(first, Exit.void)

      // The client certificates now come from a new authority, and the
      // orchestrator starts again trusting that one only.
      const next = yield* Certificates.authority("bro-next-ca")
      const rotated = yield* Certificates.client(next, "rotating-agent")
      yield* writeFile(agent.certificateFile, rotated.certificate)
      yield* writeFile(agent.keyFile, rotated.key)
      const nextServer = { ...server, caFile: join(folder, "next-ca.crt") }
      yield* writeFile(nextServer.caFile, next.certificate)
      const second = yield* startOrchestrator(storage, nextServer, { port, requireClientCertificate: true })
      yield* awaitAgents(second, ["rotating-agent"])
    }))

  it.scoped("keeps the agent's open control stream when its certificates rotate, and backs up after", () =>
    Effect.gen(function*() {
      const { agent, folder, root, server } = yield* pki
      const next = yield* Certificates.authority("bro-next-ca")
      // The orchestrator trusts client certificates of both authorities.
      yield* writeFile(server.caFile, `${root.certificate}${next.certificate}`)
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server, { requireClientCertificate: true })
      const logs = yield* capturedLogs
      const target = yield* tempFolder
      const { agent: running } = yield* startAgent(orchestrator.port, tlsOptions(agent, true), backingUp("steady-agent", target))
        .pipe(Effect.provide(logs.layer))
      yield* awaitAgents(orchestrator, ["steady-agent"])
      // The orchestrator lists the agent before the agent reads its acknowledgement.
      yield* awaitStatus(running, (status) => status.connection._tag === "Registered")
      const connections: Array<string> = []
      const watching = yield* Deferred.make<void>()
      yield* Effect.forkScoped(Stream.runForEach(running.statusChanges, (status) =>
        Effect.sync(() => connections.push(status.connection._tag)).pipe(Effect.zipRight(Deferred.succeed(watching, undefined)))))
      yield* Deferred.await(watching)

      // Renewed: the same name as before, from the new authority. The data
      // calls come on the new channel, which is the agent's by that name.
      const rotated = yield* Certificates.client(next, "tls-agent")
      yield* writeFile(agent.certificateFile, rotated.certificate)
      yield* writeFile(agent.keyFile, rotated.key)
      yield* logs.awaitLine((line) => line.message === "TLS files changed; new connections use them")
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "after-rotation")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      expect(connections.length).toBeGreaterThan(0)
      expect(connections.filter((connection) => connection !== "Registered")).toEqual([])
    }))

  it.scoped("serves the orchestrator's rotated certificate to new connections while open streams go on", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server)
      const target = yield* tempFolder
      yield* startAgent(orchestrator.port, tlsOptions(agent, false), backingUp("early-agent", target))
      yield* awaitAgents(orchestrator, ["early-agent"])

      // The orchestrator's certificate now comes from a new authority; an
      // agent that trusts only that one can connect once it is served.
      const next = yield* Certificates.authority("bro-next-ca")
      const rotated = yield* Certificates.server(next, serverName)
      yield* writeFile(server.certificateFile, rotated.certificate)
      yield* writeFile(server.keyFile, rotated.key)
      const late = yield* secret(join(folder, "late-agent"), { ca: next.certificate })
      yield* startAgent(orchestrator.port, tlsOptions(late, false), backingUp("late-agent", target))
      yield* awaitAgents(orchestrator, ["early-agent", "late-agent"])

      // The early agent, which trusts the old authority only, kept its stream.
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "after-rotation")
      const finished = yield* orchestrator.awaitAction(backup.id)
      expect(finished.result).toBe("SUCCESS")
      const record = yield* orchestrator.backup("DEFAULT", "after-rotation")
      expect(record.fragments.map((fragment) => fragment.agentId).sort()).toEqual(["early-agent", "late-agent"])
    }))

  it.scoped("keeps serving the certificate in use while a changed file is broken, and logs it naming the file", () =>
    Effect.gen(function*() {
      const { agent, folder, server } = yield* pki
      const logs = yield* capturedLogs
      const orchestrator = yield* startOrchestrator(join(folder, "storage"), server).pipe(Effect.provide(logs.layer))
      yield* writeFile(server.certificateFile, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
      const warning = yield* logs.awaitLine((line) => line.file === server.certificateFile)
      expect(warning?.message).toContain(`TLS file ${server.certificateFile} holds a broken PEM certificate`)
      const transport = yield* GrpcTransport.make({ host: "127.0.0.1", port: orchestrator.port, tls: tlsOptions(agent, false) })
      expect((yield* tryUpload(transport)).status).toBe("ABORTED")
    }))
})
