// What the issue-19 suites share: a Logger that keeps every line, and an
// agent on the gRPC transport to any host and port.
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel } from "effect"
import * as Agent from "../../src/Agent.js"
import type { AgentBehavior } from "../../src/behavior/AgentBehavior.js"
import * as GrpcTransport from "../../src/transport/GrpcTransport.js"

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A Logger that keeps the lines (instead of printing them) in `lines`. */
export const captureLogs = () => {
  const lines: Array<LogLine> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    const kept: Record<string, unknown> = {}
    for (const [key, value] of annotations) kept[key] = value
    lines.push({ level: logLevel.label, message: text, annotations: kept })
  })
  return {
    lines,
    layer: Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All)),
    matching: (pattern: RegExp) => lines.filter((line) => pattern.test(line.message))
  }
}

/** Starts an agent on the gRPC transport to `host:port`; the transport lives as long as the test's scope. */
export const startGrpcAgent = <E, R>(
  host: string,
  port: number,
  behavior: AgentBehavior<E, R>,
  options: Agent.AgentOptions = {}
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.merge(GrpcTransport.layer({ host, port }), NodeFileSystem.layer))
    return yield* Agent.start(behavior, options).pipe(Effect.provide(context))
  })
