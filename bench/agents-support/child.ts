/**
 * What the benchmark's child processes share: their commands from stdin,
 * their answers on stdout, their logs on stderr, and how they run.
 */
import { NodeContext, NodeRuntime, NodeStream } from "@effect/platform-node"
import { Cause, Deferred, Effect, Logger, LogLevel, Queue, Stream } from "effect"
import type { ChildMessage } from "./protocol.js"
import { encodeLine } from "./protocol.js"

/** The lines the driver writes on stdin; the stream ends when stdin closes. */
const commands: Stream.Stream<string> = NodeStream.fromReadable<Error>(() => process.stdin, (error) =>
  error instanceof Error ? error : new Error(String(error))).pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.map((line) => line.trim()),
    Stream.filter((line) => line.length > 0),
    // A broken stdin means the driver is gone: treat it as the end.
    Stream.catchAll(() => Stream.empty)
  )

/**
 * Runs `answer` on each command, one at a time, until `stop` or the end of
 * stdin. Either one also interrupts the command that runs: a driver that is
 * gone is not waiting for its answer.
 */
export const serveCommands = <E, R>(answer: (command: string) => Effect.Effect<void, E, R>): Effect.Effect<void, E, R> =>
  Effect.scoped(Effect.gen(function*() {
    const pending = yield* Queue.unbounded<string>()
    const ended = yield* Deferred.make<void>()
    yield* commands.pipe(
      Stream.takeWhile((command) => command !== "stop"),
      Stream.runForEach((command) => Queue.offer(pending, command)),
      Effect.ensuring(Deferred.succeed(ended, undefined)),
      Effect.forkScoped
    )
    yield* Effect.raceFirst(
      Queue.take(pending).pipe(Effect.flatMap(answer), Effect.forever),
      Deferred.await(ended)
    )
  }))

/** Answers the driver. */
export const say = (message: ChildMessage): Effect.Effect<void> => Effect.sync(() => void process.stdout.write(encodeLine(message)))

// Logs go to stderr (stdout carries the answers), Warning and above only:
// 200 agents logging each transfer would measure the logger.
const stderrLogger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

/**
 * Runs a child's program with Node's services, and ends the process when it
 * ends: open gRPC channels, keepalive timers and the like must not keep a
 * finished child alive. SIGTERM and SIGINT interrupt it, so its scopes close.
 */
export const runChild = <E>(program: Effect.Effect<void, E, NodeContext.NodeContext>): void => {
  // A driver that vanished closed our pipes: writing to them must not crash
  // the process before its scopes close (and its temporary folder goes).
  process.stdout.on("error", () => {})
  process.stderr.on("error", () => {})
  NodeRuntime.runMain(
    program.pipe(
      Effect.tapErrorCause((cause) => Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(cause)),
      Effect.provide(NodeContext.layer),
      Effect.provide(stderrLogger),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    ),
    {
      disableErrorReporting: true,
      disablePrettyLogger: true,
      teardown: (exit, onExit) => {
        onExit(exit._tag === "Success" ? 0 : 1)
        process.exit(exit._tag === "Success" ? 0 : 1)
      }
    }
  )
}
