/**
 * The agent's health server, opt-in: an HTTP server (`@effect/platform`'s,
 * on Node's `http`) for Kubernetes probes and Prometheus.
 *
 * - `GET /healthz`: 200 while the agent runs; 503 once it stopped for good.
 * - `GET /readyz`: 200 while it is registered with the orchestrator; 503
 *   while it connects, waits to reconnect, or stopped, with the reason.
 * - `GET /metrics`: Effect's metrics (the agent's, see `AgentMetrics`) in
 *   the Prometheus text format.
 *
 * Each probe answers JSON: `{ agentId, connection, reason? }`.
 *
 * @example
 * ```ts
 * const AgentLive = Agent.layer(behavior).pipe(
 *   Layer.provide(Layer.merge(GrpcTransport.layerConfig(), NodeFileSystem.layer))
 * )
 * const HealthLive = Health.layer({ port: 8080 }).pipe(Layer.provide(AgentLive))
 * Layer.launch(HealthLive).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { ConfigError } from "effect"
import { Config, Context, Effect, Layer, Option, Schema } from "effect"
import * as Http from "node:http"
import * as AgentMetrics from "./AgentMetrics.js"
import { RunningAgent } from "./Agent.js"
import * as Probes from "./internal/health/probes.js"
import { Port } from "./internal/grpc/settings.js"

/**
 * Where the health server listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface HealthOptions {
  /** The TCP port; 0 picks a free one (read it off {@link HealthServer}). */
  readonly port: number
  /** The address to listen on. Default: every interface, as a probe from the kubelet needs. */
  readonly host?: string
}

/**
 * The running health server: the address it listens on.
 *
 * @since 0.1.0
 * @category tags
 */
export class HealthServer extends Context.Tag("bro-agent/HealthServer")<HealthServer, {
  readonly address: HttpServer.Address
}>() {}

/**
 * The port of the health server is not a TCP port.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidHealthOptions extends Schema.TaggedError<InvalidHealthOptions>()("InvalidHealthOptions", {
  message: Schema.String
}) {}

const probe = (answer: (status: Parameters<typeof Probes.readiness>[0]) => Probes.ProbeAnswer) =>
  Effect.gen(function*() {
    const agent = yield* RunningAgent
    const { body, status } = answer(yield* agent.status)
    return HttpServerResponse.unsafeJson(body, { status })
  })

/**
 * The routes, for an app that serves them on its own HTTP server.
 *
 * @since 0.1.0
 * @category routes
 */
export const router: HttpRouter.HttpRouter<never, RunningAgent> = HttpRouter.empty.pipe(
  HttpRouter.get("/healthz", probe(Probes.liveness)),
  HttpRouter.get("/readyz", probe(Probes.readiness)),
  HttpRouter.get(
    "/metrics",
    Effect.map(AgentMetrics.prometheusText, (text) =>
      HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
  )
)

/**
 * Serves {@link router} on `options.port` for the life of the Layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: HealthOptions
): Layer.Layer<HealthServer, InvalidHealthOptions | HttpServerError.ServeError, RunningAgent> =>
  Layer.unwrapEffect(
    Effect.map(
      Schema.decodeUnknown(Port)(options.port).pipe(
        Effect.mapError((error) => new InvalidHealthOptions({ message: `Health.layer: port ${error.message}` }))
      ),
      (port) =>
        Layer.scoped(
          HealthServer,
          Effect.gen(function*() {
            const server = yield* HttpServer.HttpServer
            yield* server.serve(router)
            return { address: server.address }
          })
        ).pipe(
          Layer.provide(NodeHttpServer.layer(() => Http.createServer(), {
            port,
            ...(options.host === undefined ? {} : { host: options.host })
          }))
        )
    )
  )

/**
 * The health server's settings from the environment: `AGENT_HEALTH_PORT`
 * (none: no server) and `AGENT_HEALTH_HOST` (default: every interface).
 *
 * @since 0.1.0
 * @category configuration
 */
export const optionsConfig: Config.Config<Option.Option<HealthOptions>> = Config.all({
  port: Config.option(Config.integer("AGENT_HEALTH_PORT")),
  host: Config.option(Config.string("AGENT_HEALTH_HOST"))
}).pipe(Config.map(({ host, port }) =>
  Option.map(port, (port): HealthOptions => ({ port, ...(Option.isSome(host) ? { host: host.value } : {}) }))
))

/**
 * {@link layer} with the settings of {@link optionsConfig}; with no
 * `AGENT_HEALTH_PORT`, no server and an empty Layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (): Layer.Layer<
  never,
  InvalidHealthOptions | HttpServerError.ServeError | ConfigError.ConfigError,
  RunningAgent
> =>
  Layer.unwrapEffect(Effect.map(optionsConfig, Option.match({
    onNone: () => Layer.empty,
    onSome: (options) => Layer.discard(layer(options))
  })))
