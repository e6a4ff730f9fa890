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

// The reasons NodeFileSystem gives the same codes.
const reasons: Record<string, SystemError["reason"]> = {
  ENOENT: "NotFound",
  EACCES: "PermissionDenied",
  EEXIST: "AlreadyExists",
  EISDIR: "BadResource",
  ENOTDIR: "BadResource",
  EBUSY: "Busy",
  ELOOP: "BadResource"
}

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
          reason: reasons[error.code ?? ""] ?? "Unknown",
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
