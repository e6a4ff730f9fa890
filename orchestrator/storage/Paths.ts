/**
 * Paths inside the storage folder, and the checks that keep them there.
 *
 * Two checks, because a name and the disk can each lead out: a path is
 * built only from plain names (no separator, no `.` or `..`, no NUL), and,
 * before a read, a write or a delete, the real path of what already exists
 * on the way (symbolic links resolved) must lie inside the storage folder's
 * real path.
 *
 * The store's own working names hold a `~` (or start with `.deleting-` /
 * `.upload-`, which recovery tells apart from real names by the record), so
 * that a valid backup name or id (neither may hold `~`) never names them.
 *
 * @since 0.1.0
 */
import { BadArgument, type PlatformError } from "@effect/platform/Error"
import { Effect, Either } from "effect"
import { randomBytes } from "node:crypto"
import { dirname, isAbsolute, join, relative, sep } from "node:path"

/**
 * The file of a backup's record, in its folder.
 *
 * @since 0.1.0
 */
export const recordFile = "backup.json"

/**
 * How a record being written is named beside `backup.json` until it is renamed into place.
 *
 * @since 0.1.0
 */
export const recordTemporaryPrefix = `.${recordFile}~`

/**
 * How a fragment's upload in progress is named beside the agent's fragment folders.
 *
 * @since 0.1.0
 */
export const uploadPrefix = ".upload-"

/**
 * How a backup being deleted is named beside the manager's backup folders:
 * renamed first, so that a stop in the middle leaves a name that start-up
 * recognises and removes, never half a backup under its own name.
 *
 * @since 0.1.0
 */
export const deletingPrefix = ".deleting-"

/**
 * A fresh working name with `prefix`.
 *
 * @since 0.1.0
 */
export const workingName = (prefix: string): string => `${prefix}${randomBytes(6).toString("hex")}`

/**
 * Why `name` cannot be one step of a path inside the storage folder, or
 * `undefined` when it is a plain name.
 *
 * @since 0.1.0
 */
export const plainNameProblem = (name: string): string | undefined => {
  if (name.length === 0) return "is empty"
  if (name === "." || name === "..") return `is "${name}"`
  if (name.includes("/") || name.includes("\\")) return "contains a path separator"
  if (name.includes("\0")) return "contains a NUL character"
  return undefined
}

/**
 * Whether `path` is `root` or lies below it (both absolute and normalised).
 *
 * @since 0.1.0
 */
export const isInside = (root: string, path: string): boolean => {
  const rest = relative(root, path)
  return rest === "" || (!isAbsolute(rest) && rest !== ".." && !rest.startsWith(`..${sep}`))
}

/**
 * `root` joined with `names`, each a plain name; the reason otherwise.
 *
 * @since 0.1.0
 */
export const below = (root: string, names: ReadonlyArray<string>): Either.Either<string, string> => {
  for (const name of names) {
    const problem = plainNameProblem(name)
    if (problem !== undefined) return Either.left(`the name ${JSON.stringify(name.slice(0, 100))} ${problem}`)
  }
  const path = join(root, ...names)
  return isInside(root, path) ? Either.right(path) : Either.left(`${path} is outside ${root}`)
}

/**
 * The failure of a path that would leave the storage folder, as the file
 * system's own error type (so every store operation keeps failing with a
 * `PlatformError`).
 *
 * @since 0.1.0
 */
export const outside = (method: string, reason: string): PlatformError =>
  new BadArgument({ module: "FileSystem", method, description: `Refused a path outside the storage folder: ${reason}` })

/**
 * The checks of a storage folder whose real path is `realRoot`.
 *
 * @since 0.1.0
 */
export interface Confinement {
  /**
   * Fails unless the real path of `path`'s nearest existing ancestor (of
   * `path` itself when `followLast`) lies inside the storage folder. Without
   * `followLast` the last step may be a symbolic link: removing or renaming
   * one touches the link, not what it points to.
   */
  readonly check: (method: string, path: string, followLast: boolean) => Effect.Effect<void, PlatformError>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const confinement = (
  realPath: (path: string) => Effect.Effect<string, PlatformError>,
  root: string,
  realRoot: string
): Confinement => {
  const realOfExisting = (path: string): Effect.Effect<string, PlatformError> =>
    realPath(path).pipe(
      Effect.catchIf(
        (error) => error._tag === "SystemError" && error.reason === "NotFound" && isInside(root, dirname(path)) &&
          dirname(path) !== path,
        () => realOfExisting(dirname(path))
      )
    )
  return {
    check: (method, path, followLast) =>
      Effect.gen(function*() {
        if (!isInside(root, path)) return yield* Effect.fail(outside(method, `${path} is outside ${root}`))
        const real = yield* realOfExisting(followLast ? path : dirname(path))
        if (!isInside(realRoot, real)) {
          return yield* Effect.fail(outside(method, `${path} leads to ${real}, outside ${realRoot}`))
        }
      })
  }
}
