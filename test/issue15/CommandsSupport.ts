// What the child-process tests check after a run: that no process is left,
// and that no error went unhandled (vitest reports those too, but a test
// that counts them fails where it happened).
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { readFileSync } from "node:fs"

/** Whether a process with this id (or, negative, a process of this group) exists. */
export const exists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false
    throw error
  }
}

/**
 * Whether the process has ended: it does not exist, or it is a zombie. An
 * orphan (a shell's background job) is reaped by the system's init, and
 * some containers' init never reaps: its zombie is dead all the same.
 */
export const gone = (pid: number): boolean => {
  if (!exists(pid)) return true
  try {
    // "pid (comm) S ...": the state follows the last parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z"
  } catch {
    return !exists(pid)
  }
}

/** The errors the process reports as uncaught or unhandled while the scope is open. */
export const unhandledErrors = Effect.acquireRelease(
  Effect.sync(() => {
    const errors: Array<unknown> = []
    const count = (error: unknown) => void errors.push(error)
    process.on("uncaughtException", count)
    process.on("unhandledRejection", count)
    return { errors, count }
  }),
  ({ count }) =>
    Effect.sync(() => {
      process.off("uncaughtException", count)
      process.off("unhandledRejection", count)
    })
).pipe(Effect.map(({ errors }) => errors))

/**
 * The pids written to `file` one a line (by `echo $$ >> file`); none while
 * no process wrote one (a run interrupted before its shell started).
 */
export const pidsIn = (file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(file)).pipe(
    Effect.catchIf((error) => error._tag === "SystemError" && error.reason === "NotFound", () => Effect.succeed("")),
    Effect.map((text) => text.split("\n").filter((line) => line !== "").map(Number))
  )
