/**
 * The test kit's probe: a `FileSystem` that delegates to the real one and
 * counts open files and every path written, and an `OrchestratorTransport`
 * over the in-memory one that counts open calls and can hold, stall or
 * abort an upload or a download at a given byte, as a test asks.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Ref, Sink, Stream } from "effect"
import { resolve } from "node:path"
import type { BackupMessage, RestoreMessage } from "../../core/Message.js"
import { FilePart } from "../../core/Message.js"
import type { FragmentUpload } from "../../transport/OrchestratorTransport.js"
import { DataChannelError, DataChannelTimeout, OrchestratorTransport } from "../../transport/OrchestratorTransport.js"

/**
 * What a test wants done to the first transfer that reaches `bytes` bytes
 * of file content: `hold` it there until the run ends (a cancel is sent
 * meanwhile), `stall` it (the agent's data-channel timeout must fire), or
 * `abort` it with ABORTED.
 *
 * @since 0.1.0
 */
export interface TransferFault {
  readonly kind: "hold" | "stall" | "abort"
  readonly bytes: number
  /** Completed once the transfer reached `bytes`, with the bytes it had then. */
  readonly reached: Deferred.Deferred<number>
}

/**
 * @since 0.1.0
 */
export interface Probe {
  readonly fileSystem: FileSystem.FileSystem
  readonly transport: (inner: OrchestratorTransport["Type"]) => OrchestratorTransport["Type"]
  readonly openFiles: Effect.Effect<ReadonlyArray<string>>
  readonly openCalls: Effect.Effect<ReadonlyArray<string>>
  /** Every path written (absolute), in order, with whether the write was inside a temporary folder the agent made. */
  readonly writes: Effect.Effect<ReadonlyArray<{ readonly path: string; readonly temporary: boolean }>>
  readonly setUploadFault: (fault: TransferFault | undefined) => Effect.Effect<void>
  readonly setDownloadFault: (fault: TransferFault | undefined) => Effect.Effect<void>
  /** The downloads asked for, each with the bytes served and its end. */
  readonly downloads: Effect.Effect<ReadonlyArray<DownloadRecord>>
  /** The uploads opened, each with what the agent wrote and how it ended. */
  readonly uploads: Effect.Effect<ReadonlyArray<UploadRecord>>
  /** What BRO would abort a half-closed upload for (nothing by default). */
  readonly setUploadCheck: (check: (messages: ReadonlyArray<BackupMessage>) => ReadonlyArray<string>) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 */
export interface UploadRecord {
  readonly messages: ReadonlyArray<BackupMessage>
  readonly outcome: "open" | "finished" | "refused" | "cancelled"
  readonly problems: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 */
export interface DownloadRecord {
  readonly fragmentId: string
  readonly bytesServed: number
  readonly outcome: "open" | "completed" | "failed" | "interrupted"
}

const writingFlags = new Set(["r+", "w", "wx", "w+", "wx+", "a", "ax", "a+", "ax+"])

const isInside = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`)

/**
 * Builds a probe over the `FileSystem` in the context.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Probe, never, FileSystem.FileSystem> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  let nextId = 0
  const openFiles = new Map<number, string>()
  const openCalls = new Map<number, string>()
  const writes: Array<{ path: string; temporary: boolean }> = []
  const temporaryFolders: Array<string> = []
  const downloads: Array<{ fragmentId: string; bytesServed: number; outcome: DownloadRecord["outcome"] }> = []
  const uploadFault = yield* Ref.make<TransferFault | undefined>(undefined)
  const downloadFault = yield* Ref.make<TransferFault | undefined>(undefined)
  const uploads: Array<{ messages: Array<BackupMessage>; outcome: UploadRecord["outcome"]; problems: ReadonlyArray<string> }> = []
  let uploadCheck: (messages: ReadonlyArray<BackupMessage>) => ReadonlyArray<string> = () => []

  const wrote = (...paths: ReadonlyArray<string>) =>
    Effect.sync(() => {
      for (const path of paths) {
        const absolute = resolve(path)
        writes.push({ path: absolute, temporary: temporaryFolders.some((folder) => isInside(absolute, folder)) })
      }
    })
  const temporary = (path: string) => Effect.sync(() => void temporaryFolders.push(resolve(path)))

  // Open while the scope that holds it is open.
  const tracked = <A, E>(
    registry: Map<number, string>,
    what: string,
    acquire: Effect.Effect<A, E, Scope.Scope>
  ): Effect.Effect<A, E, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.flatMap(acquire, (value) =>
        Effect.sync(() => {
          const id = nextId++
          registry.set(id, what)
          return { id, value }
        })),
      ({ id }) => Effect.sync(() => void registry.delete(id))
    ).pipe(Effect.map(({ value }) => value))

  const fileSystem: FileSystem.FileSystem = {
    ...fs,
    copy: (from, to, options) => Effect.zipRight(fs.copy(from, to, options), wrote(to)),
    copyFile: (from, to) => Effect.zipRight(fs.copyFile(from, to), wrote(to)),
    chmod: (path, mode) => Effect.zipRight(fs.chmod(path, mode), wrote(path)),
    chown: (path, uid, gid) => Effect.zipRight(fs.chown(path, uid, gid), wrote(path)),
    link: (from, to) => Effect.zipRight(fs.link(from, to), wrote(to)),
    makeDirectory: (path, options) => Effect.zipRight(fs.makeDirectory(path, options), wrote(path)),
    makeTempDirectory: (options) => Effect.tap(fs.makeTempDirectory(options), temporary),
    makeTempDirectoryScoped: (options) => Effect.tap(fs.makeTempDirectoryScoped(options), temporary),
    makeTempFile: (options) => Effect.tap(fs.makeTempFile(options), temporary),
    makeTempFileScoped: (options) => Effect.tap(fs.makeTempFileScoped(options), temporary),
    open: (path, options) =>
      tracked(openFiles, resolve(path), fs.open(path, options)).pipe(
        Effect.tap(() => writingFlags.has(options?.flag ?? "r") ? wrote(path) : Effect.void)
      ),
    remove: (path, options) => Effect.zipRight(fs.remove(path, options), wrote(path)),
    rename: (from, to) => Effect.zipRight(fs.rename(from, to), wrote(from, to)),
    sink: (path, options) => Sink.unwrap(Effect.as(wrote(path), fs.sink(path, options))),
    symlink: (from, to) => Effect.zipRight(fs.symlink(from, to), wrote(to)),
    truncate: (path, length) => Effect.zipRight(fs.truncate(path, length), wrote(path)),
    utimes: (path, atime, mtime) => Effect.zipRight(fs.utimes(path, atime, mtime), wrote(path)),
    writeFile: (path, data, options) => Effect.zipRight(fs.writeFile(path, data, options), wrote(path)),
    writeFileString: (path, data, options) => Effect.zipRight(fs.writeFileString(path, data, options), wrote(path))
  }

  const transport = (inner: OrchestratorTransport["Type"]): OrchestratorTransport["Type"] =>
    OrchestratorTransport.of({
      security: inner.security,
      openControl: inner.openControl,
      openUpload: (options) =>
        Effect.gen(function*() {
          const upload = yield* tracked(openCalls, "an upload", inner.openUpload(options))
          const record = { messages: [] as Array<BackupMessage>, outcome: "open" as UploadRecord["outcome"], problems: [] as ReadonlyArray<string> }
          uploads.push(record)
          yield* Effect.addFinalizer(() => Effect.sync(() => {
            if (record.outcome === "open") record.outcome = "cancelled"
          }))
          const copied = (message: BackupMessage): BackupMessage =>
            message._tag === "Content" ? FilePart.Content({ file: message.file, content: Uint8Array.from(message.content) }) : message
          const pass = (message: BackupMessage) =>
            Effect.zipRight(Effect.sync(() => void record.messages.push(copied(message))), upload.write(message))
          const sent = yield* Ref.make(0)
          const fault = yield* Ref.get(uploadFault)
          const write: FragmentUpload["write"] = (message: BackupMessage) =>
            Effect.gen(function*() {
              if (message._tag !== "Content" || fault === undefined) return yield* pass(message)
              const before = yield* Ref.get(sent)
              const after = before + message.content.length
              yield* Ref.set(sent, after)
              if (after < fault.bytes || (yield* Deferred.isDone(fault.reached))) return yield* pass(message)
              yield* Deferred.succeed(fault.reached, after)
              switch (fault.kind) {
                case "abort":
                  record.outcome = "refused"
                  record.problems = [`aborted by the test after ${before} bytes`]
                  return yield* new DataChannelError({
                    status: "ABORTED",
                    details: `The test aborted the upload after ${before} bytes`
                  })
                case "hold":
                  yield* pass(message)
                  return yield* Effect.never
                case "stall":
                  return yield* stalled(options?.idleTimeout)
              }
            })
          const finish: FragmentUpload["finish"] = Effect.suspend(() => {
            const problems = uploadCheck(record.messages)
            record.problems = problems
            if (problems.length === 0) {
              record.outcome = "finished"
              return upload.finish
            }
            record.outcome = "refused"
            return Effect.fail(new DataChannelError({ status: "ABORTED", details: problems.join("; ") }))
          })
          return { write, finish }
        }),
      openDownload: (request, options) =>
        Stream.unwrapScoped(Effect.gen(function*() {
          const record = { fragmentId: request.fragment.fragmentId, bytesServed: 0, outcome: "open" as DownloadRecord["outcome"] }
          downloads.push(record)
          yield* tracked(openCalls, `the download of ${request.fragment.fragmentId}`, Effect.void)
          yield* Effect.addFinalizer((exit) =>
            Effect.sync(() => {
              if (record.outcome === "open") record.outcome = exit._tag === "Success" ? "completed" : "interrupted"
            })
          )
          const fault = yield* Ref.get(downloadFault)
          // The idle timeout goes after the fault, so that a stall is timed as the gRPC transport times it.
          const served = applyDownloadFault(inner.openDownload(request), fault, record)
          const idleTimeout = options?.idleTimeout
          return (idleTimeout === undefined ? served : Stream.timeoutFail(
            served,
            () => new DataChannelTimeout({ waitingFor: "the orchestrator's next chunk", after: idleTimeout }),
            idleTimeout
          )).pipe(Stream.tapError(() => Effect.sync(() => void (record.outcome = "failed"))))
        })),
    })

  return {
    fileSystem,
    transport,
    openFiles: Effect.sync(() => [...openFiles.values()]),
    openCalls: Effect.sync(() => [...openCalls.values()]),
    writes: Effect.sync(() => writes.map((write) => ({ ...write }))),
    uploads: Effect.sync(() => uploads.map((record) => ({ ...record, messages: [...record.messages] }))),
    setUploadCheck: (check) => Effect.sync(() => void (uploadCheck = check)),
    setUploadFault: (fault) => Ref.set(uploadFault, fault),
    setDownloadFault: (fault) => Ref.set(downloadFault, fault),
    downloads: Effect.sync(() => downloads.map((record) => ({ ...record })))
  }
})

// A write that never gets room to send: it fails after the agent's idle
// timeout, as the gRPC transport's does.
const stalled = (idleTimeout: Duration.Duration | undefined) =>
  idleTimeout === undefined
    ? Effect.never
    : Effect.sleep(idleTimeout).pipe(
      Effect.zipRight(Effect.fail(new DataChannelTimeout({ waitingFor: "room to send (flow control)", after: idleTimeout })))
    )

// Counts the content served, and applies the fault at its byte: the chunk
// that crosses it is cut there. Hold and stall both send nothing more (the
// agent's own idle timeout ends a stall); abort fails the call.
const applyDownloadFault = <E>(
  served: Stream.Stream<RestoreMessage, E>,
  fault: TransferFault | undefined,
  record: { bytesServed: number }
): Stream.Stream<RestoreMessage, E | DataChannelError> =>
  Stream.flatMap(served, (message) =>
    Stream.unwrap(Effect.gen(function*() {
      if (message._tag !== "Content" || message.file !== "BACKUP_FILE") return Stream.succeed(message)
      const before = record.bytesServed
      if (fault === undefined || before + message.content.length < fault.bytes || (yield* Deferred.isDone(fault.reached))) {
        record.bytesServed += message.content.length
        return Stream.succeed(message)
      }
      const keep = Math.max(0, fault.bytes - before)
      record.bytesServed += keep
      yield* Deferred.succeed(fault.reached, record.bytesServed)
      const head: Stream.Stream<RestoreMessage> = keep === 0
        ? Stream.empty
        : Stream.succeed(FilePart.Content({ file: message.file, content: message.content.subarray(0, keep) }))
      return Stream.concat(
        head,
        fault.kind === "abort"
          ? Stream.fail(
            new DataChannelError({
              status: "ABORTED",
              details: `The test aborted the download after ${record.bytesServed} bytes`
            })
          )
          : Stream.never
      )
    })))

/**
 * Whether a path lies in a folder (both absolute).
 *
 * @since 0.1.0
 */
export const inside = isInside

