// How a benchmark script starts: as the driver, or as one of its child
// roles (`node script.js <role> ...`), and how its driver ends the process.
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type { Effect } from "effect"
import { Effect as E } from "effect"

/**
 * Runs the driver's program with the Node context, and exits with 1 when it
 * failed or set `process.exitCode` to 1, else 0: the children it started
 * must not keep the process alive.
 */
export const runDriver = <A, Err>(
  program: Effect.Effect<A, Err, NodeContext.NodeContext>,
  options: { readonly disablePrettyLogger?: boolean } = {}
): void =>
  NodeRuntime.runMain(program.pipe(E.provide(NodeContext.layer)), {
    ...options,
    teardown: (exit, onExit) => {
      const code = exit._tag === "Success" ? (process.exitCode === 1 ? 1 : 0) : 1
      onExit(code)
      process.exit(code)
    }
  })

/**
 * Starts the role named by the first argument (its module's `main` gets the
 * other arguments), or the driver with all of them when it names none.
 */
export const dispatch = async (
  roles: Record<string, () => Promise<{ readonly main: (args: ReadonlyArray<string>) => void }>>,
  drive: (args: ReadonlyArray<string>) => void
): Promise<void> => {
  const [role, ...rest] = process.argv.slice(2)
  const load = role === undefined ? undefined : roles[role]
  if (load === undefined) return drive(process.argv.slice(2))
  ;(await load()).main(rest)
}
