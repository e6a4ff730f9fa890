/**
 * Runs the example folder agent (`FolderAgent.ts`) with its metrics and
 * spans exported through OpenTelemetry (`@effect/opentelemetry`), and the
 * health server (`/healthz`, `/readyz`, `/metrics`) when
 * `AGENT_HEALTH_PORT` is set. This example prints both to the console
 * every 10 s; put an OTLP exporter (`@opentelemetry/exporter-metrics-otlp-http`,
 * `@opentelemetry/exporter-trace-otlp-http`) in their place to send them to
 * a collector.
 *
 * Environment: `AGENT_ID`, `AGENT_FOLDER`, `ORCHESTRATOR_HOST`,
 * `ORCHESTRATOR_PORT`, `AGENT_LOG_LEVEL`, `AGENT_HEALTH_PORT` (see the
 * README's configuration table).
 *
 * @since 0.1.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor, ConsoleSpanExporter } from "@opentelemetry/sdk-trace-base"
import { Agent, GrpcTransport, Health } from "bro-agent"
import { Config, Effect, Layer } from "effect"
import { folderAgent } from "./FolderAgent.js"

// Effect's metrics (the agent's `bro_agent_*` among them) and spans (one per
// stage step, `bro-agent.executeBackup` and so on) go to OpenTelemetry.
const TelemetryLive = NodeSdk.layer(() => ({
  resource: { serviceName: "bro-folder-agent" },
  metricReader: new PeriodicExportingMetricReader({
    exporter: new ConsoleMetricExporter(),
    exportIntervalMillis: 10_000
  }),
  spanProcessor: new BatchSpanProcessor(new ConsoleSpanExporter())
}))

const AgentLive = Layer.unwrapEffect(Effect.gen(function*() {
  const agentId = yield* Config.string("AGENT_ID").pipe(Config.withDefault("folder-agent"))
  const folder = yield* Config.string("AGENT_FOLDER")
  const scope = yield* Config.string("AGENT_SCOPE").pipe(Config.withDefault(""))
  return Agent.layer(yield* folderAgent({ agentId, folder, scope }))
})).pipe(Layer.provide(Layer.merge(GrpcTransport.layerConfig(), NodeFileSystem.layer)))

// The agent, its health server, and its telemetry, until interrupted (Ctrl-C).
Health.layerConfig().pipe(
  Layer.provideMerge(AgentLive),
  Layer.provide(TelemetryLive),
  Layer.launch,
  NodeRuntime.runMain
)
