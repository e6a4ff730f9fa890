// Issue 14, item 3, beyond the uploads of ForeignDataCalls.test.ts: whose a
// data call is (the rule of orchestrator/grpc/CallIdentity.ts, on its own),
// downloads from a stranger, and mutual TLS, where a client certificate
// that names the agent's names is the agent's on any connection (as after a
// rotation) and one that names another is not.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import { Deferred, Effect, Exit } from "effect"
import type { PeerCertificate } from "node:tls"
import { join } from "node:path"
import { mismatch } from "../../orchestrator/grpc/CallIdentity.js"
import type { CallPeer } from "../../orchestrator/grpc/Peer.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import * as Wire from "../../src/internal/Wire.js"
import * as Certificates from "../support/Certificates.js"
import { within } from "../support/FaultHarness.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import type { CallStatus, FragmentSpec, RawControl } from "../support/rawAgent.js"
import {
  backupInExecution,
  channel,
  codeName,
  expectNext,
  metadataOf,
  openControl,
  registerAgent,
  uploadFragment, devOrchestrator } from "../support/rawAgent.js"

const live = Effect.provide(NodeFileSystem.layer)

// Only the fields the rule reads; grpc-js hands over Node's whole PeerCertificate.
const withCertificate = (address: string, subject: Record<string, string>, subjectaltname?: string): CallPeer => ({
  address,
  authContext: {
    transportSecurityType: "ssl",
    sslPeerCertificate: { subject, ...(subjectaltname === undefined ? {} : { subjectaltname }) } as unknown as PeerCertificate
  }
})
const plain = (address: string): CallPeer => ({ address, authContext: {} })

describe("whose a data call is (CallIdentity)", () => {
  it("takes a call on the control stream's connection, and none on another, without a client certificate", () => {
    expect(mismatch(plain("127.0.0.1:40001"), plain("127.0.0.1:40001"))).toBeUndefined()
    expect(mismatch(plain("127.0.0.1:40001"), plain("127.0.0.1:40002"))).toBe("connection")
    expect(mismatch(plain("127.0.0.1:40001"), plain("127.0.0.2:40001"))).toBe("connection")
  })

  it("takes no call when grpc-js no longer knows the control stream's connection", () => {
    expect(mismatch(plain("unknown"), plain("unknown"))).toBe("connection")
  })

  it("takes a call whose client certificate names the same subject and alternative names, on any connection", () => {
    const control = withCertificate("127.0.0.1:40001", { CN: "db-agent", O: "Ericsson" }, "DNS:db-0")
    expect(mismatch(control, withCertificate("127.0.0.1:40002", { O: "Ericsson", CN: "db-agent" }, "DNS:db-0"))).toBeUndefined()
    expect(mismatch(control, withCertificate("127.0.0.1:40002", { CN: "db-agent", O: "Ericsson" }, "DNS:db-1"))).toBe("certificate")
    expect(mismatch(control, withCertificate("127.0.0.1:40001", { CN: "other-agent", O: "Ericsson" }, "DNS:db-0"))).toBe("certificate")
  })

  it("takes no call without a client certificate when the control stream came with one, even on its connection", () => {
    expect(mismatch(withCertificate("127.0.0.1:40001", { CN: "db-agent" }), plain("127.0.0.1:40001"))).toBe("certificate")
  })

  it("goes by the connection for a certificate that names nothing", () => {
    expect(mismatch(withCertificate("127.0.0.1:40001", {}), withCertificate("127.0.0.1:40002", {}))).toBe("connection")
    expect(mismatch(withCertificate("127.0.0.1:40001", {}), withCertificate("127.0.0.1:40001", {}))).toBeUndefined()
  })
})

/** Downloads a fragment on `client` and counts the messages until the call's status. */
const download = (client: grpc.Client, spec: FragmentSpec) =>
  Effect.gen(function*() {
    const outcome = yield* Deferred.make<CallStatus>()
    let messages = 0
    const protos = Wire.protos()
    const metadata = metadataOf(spec)
    if (metadata._tag !== "Metadata") return yield* Effect.dieMessage("metadataOf made no METADATA")
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const stream = client.makeServerStreamRequest(
          protos.restoreMethod.path,
          protos.codecs.Metadata.encode,
          protos.codecs.RestoreData.decode,
          Wire.requestToWire(metadata.metadata)
        )
        stream.on("data", () => void messages++)
        stream.on("status", (status: grpc.StatusObject) =>
          Deferred.unsafeDone(outcome, Exit.succeed({ code: status.code, details: status.details })))
        stream.on("error", () => {})
        return stream
      }),
      (stream) => Effect.sync(() => stream.cancel())
    )
    const status = yield* Deferred.await(outcome).pipe(within("the download's status"))
    return { status, messages }
  }).pipe(Effect.scoped)

/** Answers the restore's preparation (its list included), and waits for its execution. */
const restoreInExecution = (orchestrator: Orchestrator.Orchestrator["Type"], control: RawControl) =>
  Effect.gen(function*() {
    const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
    yield* expectNext(control, "Preparation")
    yield* expectNext(control, "FragmentListEntry")
    yield* control.answer("RESTORE", true, "Prepared")
    yield* expectNext(control, "Execution")
    return restore
  })

/** Answers the execution and the post-actions of a backup or restore, and awaits its end. */
const finish = (
  orchestrator: Orchestrator.Orchestrator["Type"],
  control: RawControl,
  action: "BACKUP" | "RESTORE",
  actionId: string
) =>
  Effect.gen(function*() {
    yield* control.answer(action, true, "Done")
    yield* expectNext(control, "PostActions")
    yield* control.answer(action, true, "Post actions completed")
    return yield* within("the action to end")(orchestrator.awaitAction(actionId))
  })

const fragment = { agentId: "victim", backupName: "nightly", fragmentId: "victim_0" }

describe("downloads from a client that is not the agent (issue 14, item 3)", () => {
  it.live("refuses a stranger's download of an agent's fragment during its restore, which still succeeds", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* devOrchestrator
      const agentChannel = yield* channel(orchestrator.port)
      const intruderChannel = yield* channel(orchestrator.port)
      const control = yield* registerAgent(agentChannel, "victim")
      const backup = yield* backupInExecution(orchestrator, control)
      expect(codeName(yield* uploadFragment(agentChannel, fragment))).toBe("OK")
      expect((yield* finish(orchestrator, control, "BACKUP", backup.id)).result).toBe("SUCCESS")

      const restore = yield* restoreInExecution(orchestrator, control)
      const stolen = yield* download(intruderChannel, fragment)
      const own = yield* download(agentChannel, fragment)
      const finished = yield* finish(orchestrator, control, "RESTORE", restore.id)

      expect(codeName(stolen.status)).toBe("PERMISSION_DENIED")
      expect(stolen.messages).toBe(0)
      // The file's name, its content, its checksum.
      expect([codeName(own.status), own.messages]).toEqual(["OK", 3])
      expect(finished.result).toBe("SUCCESS")
    }).pipe(Effect.scoped, live))
})

const serverName = "eric-ctrl-bro"

/** A channel of its own over mutual TLS, showing `identity`. */
const tlsChannel = (port: number, ca: string, identity: Certificates.Identity): Effect.Effect<grpc.Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new grpc.Client(
        `127.0.0.1:${port}`,
        grpc.credentials.createSsl(Buffer.from(ca), Buffer.from(identity.key), Buffer.from(identity.certificate)),
        {
          "grpc.use_local_subchannel_pool": 1,
          "grpc.ssl_target_name_override": serverName,
          "grpc.default_authority": serverName
        }
      )
    ),
    (client) => Effect.sync(() => client.close())
  )

describe("data calls under mutual TLS (issue 14, item 3)", () => {
  it.live("takes an upload on another connection whose certificate names the agent's names, and refuses one naming another", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* FaultHygiene.tempFolder
      const root = yield* Certificates.authority("bro-root-ca")
      const next = yield* Certificates.authority("bro-next-ca")
      const server = yield* Certificates.server(root, serverName)
      const files = { certificateFile: join(folder, "tls.crt"), keyFile: join(folder, "tls.key"), caFile: join(folder, "ca.crt") }
      yield* fs.writeFileString(files.certificateFile, server.certificate)
      yield* fs.writeFileString(files.keyFile, server.key)
      yield* fs.writeFileString(files.caFile, `${root.certificate}${next.certificate}`)
      const orchestrator = yield* Orchestrator.make({
        port: 0,
        storage: join(folder, "storage"),
        stageTimeout: "20 seconds",
        tls: { ...files, requireClientCertificate: true }
      })

      const original = yield* Certificates.client(root, "victim")
      const control = yield* openControl(yield* tlsChannel(orchestrator.port, root.certificate, original))
      yield* control.register("victim")
      yield* expectNext(control, "RegisterAcknowledge")
      const backup = yield* backupInExecution(orchestrator, control)

      // Trusted, but issued to another agent; then the victim's renewed certificate, from the other authority.
      const intruder = yield* tlsChannel(orchestrator.port, root.certificate, yield* Certificates.client(root, "intruder"))
      const renewed = yield* tlsChannel(orchestrator.port, root.certificate, yield* Certificates.client(next, "victim"))
      const intrusion = yield* uploadFragment(intruder, { ...fragment, fragmentId: "victim_injected", fileName: "injected.sh" })
      const own = yield* uploadFragment(renewed, fragment)
      const finished = yield* finish(orchestrator, control, "BACKUP", backup.id)

      expect(codeName(intrusion)).toBe("PERMISSION_DENIED")
      expect(codeName(own)).toBe("OK")
      expect(finished.result).toBe("SUCCESS")
      const record = yield* orchestrator.backup("DEFAULT", "nightly")
      expect(record.fragments.map((each) => each.fragmentId)).toEqual(["victim_0"])
    }).pipe(Effect.scoped, live))
})
