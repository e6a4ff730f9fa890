/**
 * The process's limit on open files (`RLIMIT_NOFILE`). Every agent holds a
 * socket on the orchestrator, and every upload or download a file while it
 * is written or read, so 1 000 agents need more than the usual default soft
 * limit of 1 024. Node has no `setrlimit`; on Linux the soft limit is read
 * from `/proc/self/limits` and raised to the hard one with util-linux's
 * `prlimit --pid`, which any process may do for itself. Elsewhere, or
 * without `prlimit`, nothing changes and the reason says why.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"

/**
 * What `raiseSoftLimit` found and did.
 *
 * @since 0.1.0
 * @category models
 */
export type OpenFilesOutcome =
  | { readonly _tag: "Raised"; readonly from: number; readonly to: number }
  | { readonly _tag: "Unchanged"; readonly soft: number | undefined; readonly reason: string }

const limits = (text: string): { readonly soft: number; readonly hard: number } | undefined => {
  const line = text.split("\n").find((each) => each.startsWith("Max open files"))
  const fields = line?.replace("Max open files", "").trim().split(/\s+/)
  const parse = (field: string | undefined) => (field === "unlimited" ? Number.POSITIVE_INFINITY : Number(field))
  const soft = parse(fields?.[0])
  const hard = parse(fields?.[1])
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard }
}

const currentLimits = Effect.tryPromise(() => readFile("/proc/self/limits", "utf8")).pipe(
  Effect.map(limits),
  Effect.orElseSucceed(() => undefined)
)

/**
 * Raises the soft limit on open files to the hard limit (at most `atMost`,
 * 1 048 576 by default), where the hard limit allows; never lowers it.
 *
 * @since 0.1.0
 * @category running
 */
export const raiseSoftLimit = (atMost = 1_048_576): Effect.Effect<OpenFilesOutcome> =>
  Effect.gen(function*() {
    const before = yield* currentLimits
    if (before === undefined) return { _tag: "Unchanged", soft: undefined, reason: "the limits cannot be read here" } as const
    const target = Math.min(before.hard, atMost)
    if (before.soft >= target) {
      return { _tag: "Unchanged", soft: before.soft, reason: "the soft limit is already as high as allowed" } as const
    }
    const ran = yield* Effect.async<string | undefined>((resume) => {
      execFile("prlimit", ["--pid", String(process.pid), `--nofile=${target}:${before.hard === Number.POSITIVE_INFINITY ? "unlimited" : before.hard}`], (error) =>
        resume(Effect.succeed(error === null ? undefined : error.message.split("\n")[0])))
    })
    const after = yield* currentLimits
    if (ran !== undefined || after === undefined || after.soft <= before.soft) {
      return { _tag: "Unchanged", soft: before.soft, reason: `prlimit could not raise it (${ran ?? "no change"})` } as const
    }
    return { _tag: "Raised", from: before.soft, to: after.soft } as const
  })

/**
 * One line for the outcome, as `bro-agent orchestrator` prints it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (outcome: OpenFilesOutcome): string =>
  outcome._tag === "Raised"
    ? `Open files: raised the soft limit from ${outcome.from} to ${outcome.to} (the hard limit)`
    : `Open files: soft limit ${outcome.soft ?? "unknown"}, unchanged: ${outcome.reason}`
