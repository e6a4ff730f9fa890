// Issue 18, "1 000 agents": the orchestrator raises its soft limit on open
// files to the hard limit where it may, and says so.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as OpenFiles from "../../orchestrator/OpenFiles.js"

const limits = () => {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((each) => each.startsWith("Max open files")) ?? ""
  const [soft, hard] = line.replace("Max open files", "").trim().split(/\s+/)
  return { soft: Number(soft), hard: Number(hard) }
}

describe("the open-files limit (issue 18)", () => {
  it.effect("raises a soft limit of 1 024 to the hard limit, and says from what to what", () =>
    Effect.gen(function*() {
      const { hard } = limits()
      expect(hard).toBeGreaterThan(1024)
      // This worker plays a process started under `ulimit -n 1024`.
      yield* Effect.acquireRelease(
        Effect.sync(() => execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=1024:${hard}`])),
        () => Effect.sync(() => void execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${hard}:${hard}`]))
      )
      expect(limits().soft).toBe(1024)
      const outcome = yield* OpenFiles.raiseSoftLimit()
      expect(outcome).toEqual({ _tag: "Raised", from: 1024, to: hard })
      expect(limits().soft).toBe(hard)
      expect(OpenFiles.describe(outcome)).toBe(`Open files: raised the soft limit from 1024 to ${hard} (the hard limit)`)
      // Already as high as allowed: nothing to do.
      expect(yield* OpenFiles.raiseSoftLimit()).toEqual({
        _tag: "Unchanged",
        soft: hard,
        reason: "the soft limit is already as high as allowed"
      })
    }).pipe(Effect.scoped))
})
