/**
 * The development orchestrator: a wire-compatible Backup and Restore
 * Orchestrator for tests and for people, started in-process as a scoped
 * Layer or from the command line. It runs real backups and restores against
 * any agent that speaks the protocol (ours, or the reference agents), stores
 * them in a folder, and offers the subset of BRO's REST v1 API that test
 * scripts use (see `Http.ts`).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as grpc from "@grpc/grpc-js"
import type { Scope, Stream } from "effect"
import { Context, Data, Duration, Effect, FiberSet, Layer, PubSub, Ref } from "effect"
import { join } from "node:path"
import * as Tls from "../src/internal/Tls.js"
import * as Wire from "../src/internal/Wire.js"
import * as Engine from "./Engine.js"
import type {
  ActionName,
  ActionNotFound,
  ActionRecord,
  BackupManager,
  BackupNotFound,
  BackupRecord,
  Health,
  InvalidActionRequest,
  NoActionRunning,
  OrchestratorEvent,
  RegisteredAgent,
  UnknownBackupManager
} from "./Model.js"
import type { AgentConnection } from "./Registry.js"
import * as Services from "./Services.js"
import * as Storage from "./Storage.js"

/**
 * How the orchestrator serves TLS. Files are PEM (a Kubernetes secret mounts
 * them as `tls.crt`, `tls.key` and `ca.crt`). They are checked for changes
 * while the orchestrator runs: a change applies to the connections that come
 * after it; connections already open keep what they were opened with.
 *
 * @since 0.1.0
 * @category models
 */
export interface OrchestratorTlsOptions {
  /** The orchestrator's certificate (chain, leaf first). */
  readonly certificateFile: string
  /** Its private key, unencrypted (PKCS#8, PKCS#1 or SEC1). */
  readonly keyFile: string
  /**
   * The certificate authorities that sign agents' client certificates. With
   * it, agents are asked for a certificate; see `requireClientCertificate`.
   */
  readonly caFile?: string
  /**
   * Refuse a connection without a client certificate signed by `caFile`
   * (mutual TLS), as a TLS-enabled BRO does by default. `false` by default:
   * a client certificate is then asked for but not required. Needs `caFile`.
   */
  readonly requireClientCertificate?: boolean
  /** How often the files are checked for a change; 5 seconds by default. */
  readonly checkInterval?: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category models
 */
export interface OrchestratorOptions {
  /** Where gRPC listens; `127.0.0.1` by default. */
  readonly host?: string
  /** The gRPC port; 3000 (BRO's) by default, 0 for a free one. */
  readonly port?: number
  /** The storage folder; `.bro-dev` under the working directory by default. */
  readonly storage?: string
  /**
   * How long a stage may wait for an agent's answer before the action fails
   * naming the agent and the stage (10 minutes by default). A real BRO has no
   * such limit and would wait for ever.
   */
  readonly stageTimeout?: Duration.DurationInput
  /** Bytes per content chunk of a restore stream; 512 KiB by default. */
  readonly chunkSize?: number
  /** Serve gRPC over TLS (and mutual TLS); plaintext when absent. */
  readonly tls?: OrchestratorTlsOptions
}

/**
 * The running orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class Orchestrator extends Context.Tag("bro-agent/DevOrchestrator")<
  Orchestrator,
  {
    /** The gRPC port it listens on (the real one when 0 was asked). */
    readonly port: number
    readonly host: string
    /** The storage folder, absolute. */
    readonly storage: string
    readonly health: Effect.Effect<Health>
    readonly agents: Effect.Effect<ReadonlyArray<RegisteredAgent>>
    /** DEFAULT, and one per scope element of the registered agents and stored backups. */
    readonly managers: Effect.Effect<ReadonlyArray<BackupManager>>
    readonly manager: (id: string) => Effect.Effect<BackupManager, UnknownBackupManager>
    /**
     * Queues an action and returns its record at once; actions run one at a
     * time in the order they were asked for.
     */
    readonly startAction: (
      backupManagerId: string,
      name: ActionName,
      backupName: string
    ) => Effect.Effect<ActionRecord, UnknownBackupManager | InvalidActionRequest>
    readonly action: (
      backupManagerId: string,
      actionId: string
    ) => Effect.Effect<ActionRecord, UnknownBackupManager | ActionNotFound>
    readonly actions: (backupManagerId: string) => Effect.Effect<ReadonlyArray<ActionRecord>, UnknownBackupManager>
    /** Waits until the action is FINISHED and returns its final record. */
    readonly awaitAction: (actionId: string) => Effect.Effect<ActionRecord, ActionNotFound>
    /**
     * Cancels the running action (only if it is `actionId`, when given): the
     * agents in it are told to cancel, and it ends with FAILURE.
     */
    readonly cancelAction: (actionId?: string) => Effect.Effect<ActionRecord, NoActionRunning>
    readonly backups: (backupManagerId: string) => Effect.Effect<ReadonlyArray<BackupRecord>, UnknownBackupManager>
    readonly backup: (
      backupManagerId: string,
      backupName: string
    ) => Effect.Effect<BackupRecord, UnknownBackupManager | BackupNotFound>
    /** Where a stored fragment's backup file lies on disk (for tests that look at what was stored). */
    readonly fragmentPath: (
      backupManagerId: string,
      backupName: string,
      agentId: string,
      fragmentId: string
    ) => Effect.Effect<string, UnknownBackupManager | BackupNotFound>
    /** What happens, from the moment of subscription. */
    readonly events: Stream.Stream<OrchestratorEvent>
  }
>() {}

/**
 * The orchestrator could not start: bad options, a port in use, a storage
 * folder it cannot use.
 *
 * @since 0.1.0
 * @category errors
 */
export class OrchestratorStartError extends Data.TaggedError("OrchestratorStartError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The development orchestrator could not start: ${this.reason}`
  }
}

/**
 * The storage folder used when none is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultStorage = (): string => join(process.cwd(), ".bro-dev")

// What the server's TLS uses, handed to grpc-js as a certificate provider
// (grpc-js's experimental API for credentials that change): grpc-js sets the
// newest material on its HTTP/2 server, which uses it for new connections.
class ServerCertificates implements grpc.experimental.CertificateProvider {
  private readonly caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>()
  private readonly identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>()
  constructor(private material: Tls.TlsMaterial) {}

  private get ca(): grpc.experimental.CaCertificateUpdate | null {
    return this.material.ca === undefined ? null : { caCertificate: this.material.ca }
  }

  private get identity(): grpc.experimental.IdentityCertificateUpdate | null {
    const identity = this.material.identity
    return identity === undefined ? null : { certificate: identity.certificate, privateKey: identity.key }
  }

  update(material: Tls.TlsMaterial): void {
    this.material = material
    for (const listener of this.caListeners) listener(this.ca)
    for (const listener of this.identityListeners) listener(this.identity)
  }

  // grpc-js subscribes while it builds the HTTP/2 server and only listens to
  // the credentials once it has subscribed, so the current material is
  // handed over on the next tick, as grpc-js's own file watcher does.
  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener)
    process.nextTick(() => listener(this.ca))
  }

  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener)
  }

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener)
    process.nextTick(() => listener(this.identity))
  }

  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener)
  }
}

const serverCredentials = (
  tls: OrchestratorTlsOptions | undefined
): Effect.Effect<grpc.ServerCredentials, OrchestratorStartError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    if (tls === undefined) return grpc.ServerCredentials.createInsecure()
    const requireClientCertificate = tls.requireClientCertificate ?? false
    if (requireClientCertificate && tls.caFile === undefined) {
      return yield* new OrchestratorStartError({
        reason: "tls.requireClientCertificate needs tls.caFile, the authorities that sign the agents' certificates"
      })
    }
    const checkInterval = Duration.decodeUnknown(tls.checkInterval ?? Tls.defaultCheckInterval)
    if (checkInterval._tag === "None" || !Duration.greaterThan(checkInterval.value, Duration.zero)) {
      return yield* new OrchestratorStartError({ reason: "tls.checkInterval must be a duration longer than zero" })
    }
    const files: Tls.TlsFiles = {
      caFile: tls.caFile,
      identity: { certificateFile: tls.certificateFile, keyFile: tls.keyFile }
    }
    const loaded = yield* Tls.load(files).pipe(
      Effect.mapError((error) => new OrchestratorStartError({ reason: error.message, cause: error }))
    )
    const certificates = new ServerCertificates(loaded)
    yield* Tls.watch(files, loaded, {
      interval: checkInterval.value,
      onChange: (material) => Effect.sync(() => certificates.update(material))
    })
    // grpc-js names the first parameter `caCertificateProvider`, but uses it
    // for the server's own certificate; the second (optional) is the CA.
    return grpc.experimental.createCertificateProviderServerCredentials(
      certificates,
      tls.caFile === undefined ? null : certificates,
      requireClientCertificate
    )
  })

const bind = (server: grpc.Server, host: string, port: number, credentials: grpc.ServerCredentials) =>
  Effect.async<number, OrchestratorStartError>((resume) => {
    server.bindAsync(`${host}:${port}`, credentials, (error, bound) => {
      resume(
        error === null
          ? Effect.succeed(bound)
          : Effect.fail(new OrchestratorStartError({ reason: `cannot listen on ${host}:${port}: ${error.message}`, cause: error }))
      )
    })
  })

/**
 * Starts the orchestrator in the current scope: loads the stored backups
 * (marking those left INCOMPLETE as CORRUPTED), then serves gRPC. Closing the
 * scope stops it and ends every agent's stream.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: OrchestratorOptions = {}
): Effect.Effect<Orchestrator["Type"], OrchestratorStartError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const port = options.port ?? 3000
    const chunkSize = options.chunkSize ?? 512 * 1024
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* new OrchestratorStartError({ reason: `port must be an integer from 0 to 65535, not ${port}` })
    }
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 4 * 1024 * 1024 - 64 * 1024) {
      return yield* new OrchestratorStartError({ reason: `chunkSize must be from 1 byte to 4032 KiB, not ${chunkSize}` })
    }
    const stageTimeout = Duration.decodeUnknown(options.stageTimeout ?? "10 minutes")
    if (stageTimeout._tag === "None") {
      return yield* new OrchestratorStartError({ reason: "stageTimeout must be a duration" })
    }
    const fileSystem = yield* FileSystem.FileSystem
    const credentials = yield* serverCredentials(options.tls)
    const root = options.storage ?? defaultStorage()
    const failedStorage = (error: { readonly message: string }) =>
      new OrchestratorStartError({ reason: `cannot use the storage folder ${root}: ${error.message}`, cause: error })
    const storage = yield* Storage.make(root).pipe(Effect.mapError(failedStorage))
    const records = yield* storage.loadRecords.pipe(Effect.mapError(failedStorage))
    const state: Engine.State = {
      storage,
      fileSystem,
      events: yield* PubSub.unbounded<OrchestratorEvent>(),
      agents: yield* Ref.make<ReadonlyMap<string, AgentConnection>>(new Map()),
      registrations: yield* Ref.make(0),
      backups: yield* Ref.make<ReadonlyMap<string, BackupRecord>>(
        new Map(records.map((record) => [`${record.backupManagerId}/${record.name}`, record]))
      ),
      job: yield* Ref.make<Engine.Job | undefined>(undefined),
      stageTimeout: stageTimeout.value,
      chunkSize
    }
    // Every call's fiber lives in this set and is interrupted when the orchestrator stops.
    const calls = yield* FiberSet.make<void>()
    const run = yield* FiberSet.runtime(calls)<never>()
    const server = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const server = new grpc.Server()
        server.addService(Wire.protos().controlService, {
          establishControlChannel: (call: grpc.ServerDuplexStream<Wire.AgentControl__Output, Wire.OrchestratorControl>) =>
            void run(Services.control(state, call))
        })
        server.addService(Wire.protos().dataService, {
          backup: (call: grpc.ServerReadableStream<Wire.BackupData__Output, object>, respond: grpc.sendUnaryData<object>) =>
            void run(Services.upload(state, call, respond)),
          restore: (call: grpc.ServerWritableStream<Wire.Metadata__Output, Wire.RestoreData>) =>
            void run(Services.download(state, call))
        })
        return server
      }),
      (server) => Effect.sync(() => server.forceShutdown())
    )
    const bound = yield* bind(server, host, port, credentials)
    return yield* Engine.make(state, { host, port: bound })
  })

/**
 * The orchestrator as a Layer (with Node's file system).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: OrchestratorOptions = {}): Layer.Layer<Orchestrator, OrchestratorStartError> =>
  Layer.scoped(Orchestrator, make(options)).pipe(Layer.provide(NodeFileSystem.layer))
