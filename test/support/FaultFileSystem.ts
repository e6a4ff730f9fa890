/**
 * A `FileSystem` for fault injection: the real one (whatever FileSystem the
 * Effect is given, NodeFileSystem in our tests), except that writes into
 * chosen files can be made to fail as on a full disk (ENOSPC), or to wait
 * until the test lets them go on.
 *
 * Only files opened for writing (`open` with a `w`, `a` or `+` flag, and
 * `writeFile`/`writeFileString`) whose path `appliesTo` accepts are
 * affected. The bytes written into them are counted from the moment the
 * fault system is made; a budget set with `failWritesAfter` or
 * `holdWritesAfter` counts from the moment it is set. A write that crosses a
 * budget writes what fits first, as a real disk does.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { SystemError } from "@effect/platform/Error"
import { Deferred, Effect, Layer } from "effect"

export interface FaultFileSystemOptions {
  /** Which files the faults apply to, by the path they were opened with; every file by default. */
  readonly appliesTo?: (path: string) => boolean
}

export interface FaultFileSystem {
  /** The file system with the faults, as a service. */
  readonly fileSystem: FileSystem.FileSystem
  /** The same, as a Layer. */
  readonly layer: Layer.Layer<FileSystem.FileSystem>
  /** Writes fail with ENOSPC once `bytes` more bytes have been written into the files concerned. */
  readonly failWritesAfter: (bytes: number) => Effect.Effect<void>
  /** A write waits, once `bytes` more bytes have been written, until `release`. */
  readonly holdWritesAfter: (bytes: number) => Effect.Effect<void>
  /** Waits until a write is held. */
  readonly held: Effect.Effect<void>
  /** Lets the held writes go on, and holds none after (until the next `holdWritesAfter`). */
  readonly release: Effect.Effect<void>
  /** Removes every fault: writes succeed again. */
  readonly heal: Effect.Effect<void>
  /** Bytes written into the files concerned so far. */
  readonly bytesWritten: Effect.Effect<number>
}

const writes = (flag: FileSystem.OpenFlag | undefined): boolean =>
  flag !== undefined && (flag.includes("w") || flag.includes("a") || flag.includes("+"))

/** What Node says when the disk is full, as NodeFileSystem reports it. */
export const noSpaceLeft = (method: string, pathOrDescriptor: string | number): SystemError => {
  const cause = Object.assign(new Error("ENOSPC: no space left on device, write"), {
    code: "ENOSPC",
    errno: -28,
    syscall: "write"
  })
  return new SystemError({
    reason: "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor,
    syscall: "write",
    description: cause.message,
    cause
  })
}

/** Wraps the FileSystem in the context. */
export const make = (
  options: FaultFileSystemOptions = {}
): Effect.Effect<FaultFileSystem, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const real = yield* FileSystem.FileSystem
    const appliesTo = options.appliesTo ?? (() => true)
    let written = 0
    let failAt: number | undefined
    let holdAt: number | undefined
    // Replaced at each release and each new hold, so that both can be used again.
    let gate = yield* Deferred.make<void>()
    let heldSignal = yield* Deferred.make<void>()

    // How many of `length` bytes may be written before a fault, and which fault.
    const budget = (length: number): { readonly allowed: number; readonly fault: "fail" | "hold" | undefined } => {
      const limits: Array<[number, "fail" | "hold"]> = []
      if (failAt !== undefined) limits.push([failAt, "fail"])
      if (holdAt !== undefined) limits.push([holdAt, "hold"])
      const first = limits
        .filter(([limit]) => written + length > limit)
        .sort(([a], [b]) => a - b)[0]
      if (first === undefined) return { allowed: length, fault: undefined }
      return { allowed: Math.max(0, first[0] - written), fault: first[1] }
    }

    const waitForRelease = Effect.suspend(() => {
      holdAt = undefined
      const released = gate
      return Deferred.succeed(heldSignal, undefined).pipe(Effect.zipRight(Deferred.await(released)))
    })

    const openGate = Effect.gen(function*() {
      const released = gate
      gate = yield* Deferred.make<void>()
      yield* Deferred.succeed(released, undefined)
    })

    // A whole file written at once: what fits, then ENOSPC; or, when held, all of it after the release.
    const guardedWriteFile = (path: string, data: Uint8Array, write: (bytes: Uint8Array) => Effect.Effect<void, PlatformError>) =>
      Effect.suspend((): Effect.Effect<void, PlatformError> => {
        const { allowed, fault } = budget(data.length)
        const count = (bytes: number) => Effect.sync(() => void (written += bytes))
        if (fault === undefined) return Effect.zipRight(write(data), count(data.length))
        if (fault === "hold") return Effect.zipRight(waitForRelease, guardedWriteFile(path, data, write))
        return write(data.subarray(0, allowed)).pipe(
          Effect.zipRight(count(allowed)),
          Effect.zipRight(Effect.fail(noSpaceLeft("writeFile", path)))
        )
      })

    // Writes `buffer` with `writeOnce` (which writes all of what it is given), honouring the faults.
    const guarded = (
      buffer: Uint8Array,
      writeOnce: (bytes: Uint8Array) => Effect.Effect<void, PlatformError>,
      onNoSpace: () => SystemError
    ): Effect.Effect<void, PlatformError> =>
      Effect.suspend(() => {
        const { allowed, fault } = budget(buffer.length)
        const head = allowed === buffer.length ? buffer : buffer.subarray(0, allowed)
        const writeHead = head.length === 0
          ? Effect.void
          : Effect.zipRight(writeOnce(head), Effect.sync(() => void (written += head.length)))
        if (fault === undefined) return writeHead
        const rest = buffer.subarray(allowed)
        return fault === "fail"
          ? Effect.zipRight(writeHead, Effect.fail(onNoSpace()))
          : writeHead.pipe(Effect.zipRight(waitForRelease), Effect.zipRight(guarded(rest, writeOnce, onNoSpace)))
      })

    const wrap = (path: string, file: FileSystem.File): FileSystem.File => ({
      [FileSystem.FileTypeId]: FileSystem.FileTypeId,
      fd: file.fd,
      get stat() {
        return file.stat
      },
      get sync() {
        return file.sync
      },
      seek: (offset, from) => file.seek(offset, from),
      read: (buffer) => file.read(buffer),
      readAlloc: (size) => file.readAlloc(size),
      truncate: (length) => file.truncate(length),
      writeAll: (buffer) => guarded(buffer, (bytes) => file.writeAll(bytes), () => noSpaceLeft("writeAll", path)),
      write: (buffer) => guardedWrite(path, file, buffer)
    })

    // One write, which may write less than it is given: what fits, or ENOSPC when nothing does.
    const guardedWrite = (path: string, file: FileSystem.File, buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError> =>
      Effect.suspend(() => {
        if (buffer.length === 0) return file.write(buffer)
        const { allowed, fault } = budget(buffer.length)
        if (fault === "fail" && allowed === 0) return Effect.fail(noSpaceLeft("write", path))
        if (fault === "hold" && allowed === 0) return Effect.zipRight(waitForRelease, guardedWrite(path, file, buffer))
        return Effect.tap(file.write(allowed === buffer.length ? buffer : buffer.subarray(0, allowed)), (size) =>
          Effect.sync(() => void (written += Number(size))))
      })

    const fileSystem: FileSystem.FileSystem = {
      ...real,
      open: (path, openOptions) =>
        writes(openOptions?.flag) && appliesTo(path)
          ? Effect.map(real.open(path, openOptions), (file) => wrap(path, file))
          : real.open(path, openOptions),
      writeFile: (path, data, writeOptions) =>
        appliesTo(path)
          ? guardedWriteFile(path, data, (bytes) => real.writeFile(path, bytes, writeOptions))
          : real.writeFile(path, data, writeOptions),
      writeFileString: (path, data, writeOptions) =>
        appliesTo(path)
          ? guardedWriteFile(path, new TextEncoder().encode(data), (bytes) => real.writeFile(path, bytes, writeOptions))
          : real.writeFileString(path, data, writeOptions)
    }

    return {
      fileSystem,
      layer: Layer.succeed(FileSystem.FileSystem, fileSystem),
      failWritesAfter: (bytes) => Effect.sync(() => void (failAt = written + bytes)),
      holdWritesAfter: (bytes) =>
        Effect.gen(function*() {
          heldSignal = yield* Deferred.make<void>()
          holdAt = written + bytes
        }),
      held: Effect.suspend(() => Deferred.await(heldSignal)),
      release: Effect.suspend(() => {
        holdAt = undefined
        return openGate
      }),
      heal: Effect.suspend(() => {
        failAt = undefined
        holdAt = undefined
        return openGate
      }),
      bytesWritten: Effect.sync(() => written)
    }
  })
