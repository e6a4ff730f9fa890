/**
 * The orchestrator's gRPC server: the control and data services of BRO's
 * protos, each call handled by its handler in a fiber of the server's
 * scope, over plaintext or TLS (whose files are watched for changes).
 * Closing the scope ends every call.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import { Context, Duration, Effect, FiberSet, Layer } from "effect"
import * as Tls from "../../src/internal/Tls.js"
import * as Wire from "../../src/internal/Wire.js"
import { OrchestratorStartError } from "../Model.js"
import type { ControlCall } from "./ControlHandler.js"
import { ControlHandler } from "./ControlHandler.js"
import type { Keepalive } from "./Keepalive.js"
import { serverOptions } from "./Keepalive.js"
import * as Window from "./Window.js"
import type { DownloadCall } from "./DownloadHandler.js"
import { DownloadHandler } from "./DownloadHandler.js"
import type { UploadCall } from "./UploadHandler.js"
import { UploadHandler } from "./UploadHandler.js"

/**
 * How the orchestrator serves TLS. Files are PEM (a Kubernetes secret mounts
 * them as `tls.crt`, `tls.key` and `ca.crt`). They are checked for changes
 * while the orchestrator runs: a change applies to the connections that come
 * after it; connections already open keep what they were opened with.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
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
export interface ServerOptions {
  readonly host: string
  /** 0 for a free port. */
  readonly port: number
  /** Serve over TLS (and mutual TLS); plaintext when absent. */
  readonly tls?: TlsOptions | undefined
  /** How silent connections are found and closed (`Keepalive.ts`). */
  readonly keepalive: Keepalive
}

/**
 * The running gRPC server.
 *
 * @since 0.1.0
 * @category tags
 */
export class GrpcServer extends Context.Tag("bro-agent/orchestrator/GrpcServer")<
  GrpcServer,
  {
    readonly host: string
    /** The port it listens on (the real one when 0 was asked). */
    readonly port: number
  }
>() {}

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
  tls: TlsOptions | undefined
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
 * Serves gRPC on `host:port` with the handlers in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: ServerOptions
): Layer.Layer<
  GrpcServer,
  OrchestratorStartError,
  ControlHandler | UploadHandler | DownloadHandler | FileSystem.FileSystem
> =>
  Layer.scoped(
    GrpcServer,
    Effect.gen(function*() {
      const control = yield* ControlHandler
      const upload = yield* UploadHandler
      const download = yield* DownloadHandler
      const credentials = yield* serverCredentials(options.tls)
      // Every call's fiber lives in this set and is interrupted when the server stops.
      const calls = yield* FiberSet.make<void>()
      const run = yield* FiberSet.runtime(calls)<never>()
      const server = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const server = new grpc.Server(serverOptions(options.keepalive))
          server.addService(Wire.protos().controlService, {
            establishControlChannel: (call: ControlCall) => void run(control.handle(call))
          })
          server.addService(Wire.protos().dataService, {
            backup: (call: UploadCall, respond: grpc.sendUnaryData<object>) => void run(upload.handle(call, respond)),
            restore: (call: DownloadCall) => void run(download.handle(call))
          })
          Window.widenStreamWindows(server)
          return server
        }),
        (server) => Effect.sync(() => server.forceShutdown())
      )
      const port = yield* bind(server, options.host, options.port, credentials)
      Window.widenConnectionWindows(server)
      return { host: options.host, port }
    })
  )
