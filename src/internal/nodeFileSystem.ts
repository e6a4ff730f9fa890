/**
 * What the library does differently on Node's own file system (not one a
 * test or a user made): see its users.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect } from "effect"
import { realpath } from "node:fs"

/**
 * Whether `fs` is Node's own file system, `NodeFileSystem.layer`'s.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isNodeFileSystem = (fs: FileSystem.FileSystem): Effect.Effect<boolean> =>
  Effect.map(Effect.provide(FileSystem.FileSystem, NodeFileSystem.layer), (node) => node.open === fs.open)

// NodeFileSystem's reasons for these codes, and three it leaves Unknown.
const reasons: Record<string, SystemError["reason"]> = {
  ENOENT: "NotFound",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EEXIST: "AlreadyExists",
  EISDIR: "BadResource",
  ENOTDIR: "BadResource",
  ELOOP: "BadResource",
  EBADF: "BadResource",
  EBUSY: "Busy",
  ETIMEDOUT: "TimedOut"
}

/**
 * The `SystemError` reason of an error code from Node's file-system calls,
 * for failures the library reports as NodeFileSystem does.
 *
 * @since 0.1.0
 * @category errors
 */
export const reasonOf = (code: string | undefined): SystemError["reason"] => reasons[code ?? ""] ?? "Unknown"

/**
 * `FileSystem.realPath` in one call of the operating system's `realpath`,
 * failing as NodeFileSystem fails. NodeFileSystem's goes through Node's
 * `fs.realpath`, written in JavaScript, which asks for every step of the
 * path with an `lstat` of its own on libuv's four threads.
 *
 * @since 0.1.0
 * @category constructors
 */
export const nativeRealPath = (path: string): Effect.Effect<string, PlatformError> =>
  Effect.async<string, PlatformError>((resume) => {
    realpath.native(path, (error, resolved) => {
      if (error === null) return resume(Effect.succeed(resolved))
      resume(Effect.fail(
        new SystemError({
          reason: reasonOf(error.code),
          module: "FileSystem",
          method: "realPath",
          pathOrDescriptor: path,
          syscall: error.syscall,
          description: error.message,
          cause: error
        })
      ))
    })
  })
