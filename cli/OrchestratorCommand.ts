/**
 * `bro-agent orchestrator`: the development orchestrator and its REST API,
 * with one readable line per thing that happens. Exported so that tests can
 * start it in-process the way the command line does.
 *
 * @since 0.1.0
 */
import { Clock, Console, Effect, Fiber, Layer, Stream } from "effect"
import { formatEvent } from "../orchestrator/Events.js"
import * as Http from "../orchestrator/Http.js"
import * as OpenFiles from "../orchestrator/OpenFiles.js"
import type { OrchestratorOptions, OrchestratorStartError } from "../orchestrator/Orchestrator.js"
import { layer as orchestratorLayer, Orchestrator } from "../orchestrator/Orchestrator.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface OrchestratorCommandOptions {
  readonly orchestrator: OrchestratorOptions
  readonly http: Http.HttpOptions
}

/**
 * How to build the orchestrator from its options (`Orchestrator.layer`, or a
 * stand-in in tests).
 *
 * @since 0.1.0
 * @category models
 */
export type OrchestratorLayer<E = unknown> = (options: OrchestratorOptions) => Layer.Layer<Orchestrator, E>

/**
 * The orchestrator could not start (its own start error, or the REST API's).
 *
 * @since 0.1.0
 * @category errors
 */
export type StartError<E> = E | Http.HttpStartError

/**
 * The development orchestrator's own Layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const defaultOrchestratorLayer: OrchestratorLayer<OrchestratorStartError> = orchestratorLayer

/**
 * The orchestrator and its REST API in one Layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E>(
  options: OrchestratorCommandOptions,
  makeOrchestrator: OrchestratorLayer<E>
): Layer.Layer<Orchestrator | Http.OrchestratorHttp, StartError<E>> =>
  Http.layer(options.http).pipe(Layer.provideMerge(makeOrchestrator(options.orchestrator)))

/**
 * The lines printed once the orchestrator listens.
 *
 * @since 0.1.0
 * @category formatting
 */
export const readyLines = (
  orchestrator: { readonly host: string; readonly port: number; readonly storage: string },
  http: { readonly host: string; readonly port: number }
): ReadonlyArray<string> => [
  `Development orchestrator listening for agents (gRPC) on ${orchestrator.host}:${orchestrator.port}`,
  `REST API on http://${http.host}:${http.port}`,
  `Storage folder: ${orchestrator.storage}`
]

/**
 * Logs every event of the orchestrator in context, one timestamped line each,
 * until interrupted.
 *
 * @since 0.1.0
 * @category running
 */
export const logEvents: Effect.Effect<void, never, Orchestrator> = Effect.flatMap(
  Orchestrator,
  (orchestrator) =>
    Stream.runForEach(orchestrator.events, (event) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Console.log(`${new Date(now).toISOString()} ${formatEvent(event)}`)))
)

/**
 * Starts the orchestrator and its REST API, prints where they listen, then
 * logs events until interrupted (which stops both).
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E>(
  options: OrchestratorCommandOptions,
  makeOrchestrator: OrchestratorLayer<E>
): Effect.Effect<never, StartError<E>> =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const http = yield* Http.OrchestratorHttp
    // Start logging before saying we are ready, so that what happens right
    // after the ready lines is shown (best effort: the stream subscribes when
    // the fiber first runs, which yielding lets it do).
    const logging = yield* Effect.forkScoped(logEvents)
    yield* Effect.yieldNow()
    for (const line of readyLines(orchestrator, http)) yield* Console.log(line)
    // Each agent holds a socket: 1 000 of them need more than the usual soft limit of 1 024.
    yield* Console.log(OpenFiles.describe(yield* OpenFiles.raiseSoftLimit()))
    yield* Fiber.join(logging)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(layer(options, makeOrchestrator)))
