/**
 * TLS material read from PEM files: loaded and checked once, then watched so
 * that rotated certificates (a Kubernetes secret updated in place) are used
 * for the next connection without a restart.
 *
 * A file is checked when it is loaded: it must exist, hold what it should
 * (certificates, or one unencrypted private key), and a key must belong to
 * the certificate it goes with. Anything wrong is an {@link InvalidTlsFile}
 * naming the file. At start that fails whoever loads the files; when a
 * changed file is wrong, the change is logged and ignored, and the material
 * in use stays in use until the files are right again.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import type { Scope } from "effect"
import { Data, Duration, Effect, Either, Ref, Schedule } from "effect"
import { createHash, createPrivateKey, X509Certificate } from "node:crypto"
import type { KeyObject } from "node:crypto"
import { createSecureContext } from "node:tls"

/**
 * A TLS file cannot be used: it is missing, unreadable, holds no usable PEM
 * content, or its key does not match its certificate. (The reference agents
 * call this `InvalidOrchestratorConnectionInformationException`.)
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTlsFile extends Data.TaggedError("InvalidTlsFile")<{
  /** The path of the file, as configured. */
  readonly file: string
  /** Why it cannot be used, e.g. `does not exist`. */
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `TLS file ${this.file} ${this.reason}`
  }
}

/**
 * The files that make up one side's TLS material, all PEM.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsFiles {
  /** The certificate authorities to trust (one or more certificates). */
  readonly caFile?: string | undefined
  /** This side's own certificate (chain, leaf first) and its private key. */
  readonly identity?: {
    readonly certificateFile: string
    /** PKCS#8 (`BEGIN PRIVATE KEY`) as the reference expects; PKCS#1 and SEC1 keys work too. Never encrypted. */
    readonly keyFile: string
  } | undefined
}

/**
 * What the files held, checked.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsMaterial {
  readonly ca: Buffer | undefined
  readonly identity: { readonly certificate: Buffer; readonly key: Buffer } | undefined
  /** Identifies the files' contents, to tell a change. */
  readonly fingerprint: string
}

/**
 * How often the files are checked for a change by default: every 5 seconds,
 * as the reference does.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultCheckInterval: Duration.Duration = Duration.seconds(5)

// ---------------------------------------------------------------------------
// Reading and checking
// ---------------------------------------------------------------------------

type Contents = Either.Either<Uint8Array, PlatformError>

interface Snapshot {
  readonly ca: Contents | undefined
  readonly certificate: Contents | undefined
  readonly key: Contents | undefined
  readonly fingerprint: string
}

const fingerprintOf = (contents: ReadonlyArray<Contents | undefined>): string =>
  contents
    .map((content) =>
      content === undefined
        ? "-"
        : Either.isRight(content)
        ? createHash("sha256").update(content.right).digest("hex")
        : `!${content.left.message}`
    )
    .join(",")

const read = (files: TlsFiles): Effect.Effect<Snapshot, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const readFile = (path: string | undefined) =>
      path === undefined ? Effect.succeed(undefined) : Effect.either(fs.readFile(path))
    const ca = yield* readFile(files.caFile)
    const certificate = yield* readFile(files.identity?.certificateFile)
    const key = yield* readFile(files.identity?.keyFile)
    return { ca, certificate, key, fingerprint: fingerprintOf([ca, certificate, key]) }
  })

const unreadable = (file: string, error: PlatformError): InvalidTlsFile =>
  new InvalidTlsFile({
    file,
    reason: error._tag === "SystemError" && error.reason === "NotFound"
      ? "does not exist"
      : error._tag === "SystemError" && error.reason === "PermissionDenied"
      ? "cannot be read: permission denied"
      : `cannot be read: ${error.message}`,
    cause: error
  })

const textOf = (file: string, contents: Contents): Either.Either<string, InvalidTlsFile> =>
  Either.isLeft(contents)
    ? Either.left(unreadable(file, contents.left))
    : Either.right(Buffer.from(contents.right).toString("utf8"))

// Each marker alone on its line, as OpenSSL reads them: two certificates
// glued on one line make one broken block, not two good ones.
const pemCertificates = /^-----BEGIN CERTIFICATE-----[ \t\r]*$[\s\S]*?^-----END CERTIFICATE-----[ \t\r]*$/gm

const certificatesIn = (file: string, text: string): Either.Either<ReadonlyArray<X509Certificate>, InvalidTlsFile> => {
  const blocks = text.match(pemCertificates) ?? []
  if (blocks.length === 0) {
    return Either.left(new InvalidTlsFile({ file, reason: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)" }))
  }
  const certificates: Array<X509Certificate> = []
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block))
    } catch (cause) {
      const which = blocks.length === 1 ? "its certificate" : `certificate ${index + 1}`
      return Either.left(
        new InvalidTlsFile({ file, reason: `holds a broken PEM certificate: ${which} cannot be parsed`, cause })
      )
    }
  }
  return Either.right(certificates)
}

const privateKeyIn = (file: string, text: string): Either.Either<KeyObject, InvalidTlsFile> => {
  if (text.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.includes("Proc-Type: 4,ENCRYPTED")) {
    return Either.left(
      new InvalidTlsFile({ file, reason: "holds an encrypted private key; give it unencrypted (PKCS#8, -----BEGIN PRIVATE KEY-----)" })
    )
  }
  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(text)) {
    return Either.left(new InvalidTlsFile({ file, reason: "holds no PEM private key (-----BEGIN PRIVATE KEY-----)" }))
  }
  try {
    return Either.right(createPrivateKey(text))
  } catch (cause) {
    return Either.left(new InvalidTlsFile({ file, reason: "holds a private key that cannot be parsed", cause }))
  }
}

const check = (files: TlsFiles, snapshot: Snapshot): Either.Either<TlsMaterial, InvalidTlsFile> =>
  Either.gen(function*() {
    let ca: Buffer | undefined
    if (files.caFile !== undefined && snapshot.ca !== undefined) {
      const text = yield* textOf(files.caFile, snapshot.ca)
      yield* certificatesIn(files.caFile, text)
      ca = Buffer.from(text)
    }
    let identity: TlsMaterial["identity"]
    if (files.identity !== undefined && snapshot.certificate !== undefined && snapshot.key !== undefined) {
      const { certificateFile, keyFile } = files.identity
      const certificateText = yield* textOf(certificateFile, snapshot.certificate)
      const keyText = yield* textOf(keyFile, snapshot.key)
      const [leaf] = yield* certificatesIn(certificateFile, certificateText)
      const key = yield* privateKeyIn(keyFile, keyText)
      if (leaf !== undefined && !leaf.checkPrivateKey(key)) {
        return yield* Either.left(
          new InvalidTlsFile({ file: keyFile, reason: `is not the private key of the certificate in ${certificateFile}` })
        )
      }
      identity = { certificate: Buffer.from(certificateText), key: Buffer.from(keyText) }
    }
    // What the TLS stack itself would refuse (an unsupported key type, ...).
    try {
      createSecureContext({ ca, cert: identity?.certificate, key: identity?.key })
    } catch (cause) {
      const file = files.identity?.certificateFile ?? files.caFile ?? "(none)"
      const reason = cause instanceof Error ? cause.message : String(cause)
      return yield* Either.left(new InvalidTlsFile({ file, reason: `cannot be used for TLS: ${reason}`, cause }))
    }
    return { ca, identity, fingerprint: snapshot.fingerprint }
  })

/**
 * Reads and checks the files.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (files: TlsFiles): Effect.Effect<TlsMaterial, InvalidTlsFile, FileSystem.FileSystem> =>
  Effect.flatMap(read(files), (snapshot) => check(files, snapshot))

/**
 * Checks the files every `interval` (the first check after one interval)
 * for as long as the scope is open, and hands each change whose files are
 * all valid to `onChange`. `loaded` is what the caller uses now, as
 * {@link load} gave it: a change is a difference from it.
 *
 * A change whose files are wrong (a missing file, a key that is not the new
 * certificate's because only one of the two was replaced yet) is logged as
 * a warning once, and `onChange` is not called: the caller keeps what it
 * has until the files are right.
 *
 * @since 0.1.0
 * @category constructors
 */
export const watch = (
  files: TlsFiles,
  loaded: TlsMaterial,
  options: {
    readonly interval: Duration.DurationInput
    readonly onChange: (material: TlsMaterial) => Effect.Effect<void>
  }
): Effect.Effect<void, never, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const seen = yield* Ref.make(loaded.fingerprint)
    const checkOnce = Effect.gen(function*() {
      const snapshot = yield* read(files)
      if (snapshot.fingerprint === (yield* Ref.get(seen))) return
      yield* Ref.set(seen, snapshot.fingerprint)
      yield* Either.match(check(files, snapshot), {
        onLeft: (error) =>
          Effect.logWarning(`${error.message}; new connections keep the TLS files loaded before`).pipe(
            Effect.annotateLogs({ file: error.file, reason: error.reason })
          ),
        onRight: (material) =>
          options.onChange(material).pipe(
            Effect.zipRight(Effect.logInfo("TLS files changed; new connections use them"))
          )
      })
    })
    yield* Effect.forkScoped(Effect.schedule(checkOnce, Schedule.spaced(options.interval)))
  }).pipe(
    Effect.annotateLogs({
      caFile: files.caFile ?? "",
      certificateFile: files.identity?.certificateFile ?? "",
      keyFile: files.identity?.keyFile ?? ""
    })
  )
