/**
 * The drivers' side of the child processes that speak `protocol.ts` (the
 * many-agents benchmark's and the soak's): started with the benchmarks'
 * one way of managing processes (`support/processes.ts`), each message
 * decoded, a `Failed` answer turned into the driver's failure.
 */
import type { CommandExecutor } from "@effect/platform"
import type { Duration, Scope } from "effect"
import { Effect } from "effect"
import type { BenchFailure } from "../support/processes.js"
import { BenchFailure as Failure, startChild } from "../support/processes.js"
import type { ChildMessage } from "./protocol.js"
import { decodeLine } from "./protocol.js"

export type Stopped = Extract<ChildMessage, { _tag: "Stopped" }>

/** A child process spoken to through its stdin and stdout (see `agents-support/protocol.ts`). */
export interface Child {
  readonly name: string
  readonly pid: number
  readonly send: (command: string) => Effect.Effect<void>
  /** The child's next message with this tag (others are skipped); fails if it reports a failure or ends. */
  readonly expect: <Tag extends ChildMessage["_tag"]>(
    tag: Tag,
    within: Duration.DurationInput
  ) => Effect.Effect<Extract<ChildMessage, { _tag: Tag }>, BenchFailure>
  /** Asks the child to stop and waits (bounded) for its last report; kills it if it does not exit. */
  readonly stop: Effect.Effect<Stopped | undefined>
}

/**
 * Starts `node [nodeArgs] script <args>` in the current scope (see
 * `support/processes.ts`): its stdout lines are decoded as messages,
 * anything else is shown on stderr, as are its logs.
 */
export const startProtocolChild = (
  name: string,
  script: string,
  args: ReadonlyArray<string>,
  nodeArgs: ReadonlyArray<string> = []
): Effect.Effect<Child, BenchFailure, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.map(
    startChild(name, script, args, { nodeArgs, isStray: (line) => decodeLine(line) === undefined }),
    (child) => {
      const expect = <Tag extends ChildMessage["_tag"]>(tag: Tag, within: Duration.DurationInput) =>
        child.next(`a ${tag}`, (line) => {
          const message = decodeLine(line)
          return message?._tag === tag || message?._tag === "Failed" ? message : undefined
        }, within).pipe(
          Effect.flatMap((message) =>
            message._tag === "Failed" && tag !== "Failed"
              ? Effect.fail(new Failure({ reason: `${name}: ${message.reason}` }))
              : Effect.succeed(message as Extract<ChildMessage, { _tag: Tag }>)
          )
        )
      const stop = Effect.gen(function*() {
        yield* child.send("stop")
        const stopped = yield* expect("Stopped", "20 seconds").pipe(Effect.option)
        yield* child.stop
        return stopped._tag === "Some" ? stopped.value : undefined
      })
      return { name, pid: child.pid, send: child.send, expect, stop }
    }
  )

