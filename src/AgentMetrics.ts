/**
 * The running agent's metrics, as Effect `Metric`s: bytes and fragments
 * transferred, stages run (how long, how they ended), reconnections and
 * failed attempts to reach the orchestrator, and whether the agent is
 * registered. Each carries the tag `agent_id`.
 *
 * They live in Effect's metric registry: read them with `Metric.value`,
 * export them with `@effect/opentelemetry` (see `examples/otel-agent.ts`),
 * or serve them as Prometheus text with the health server (`Health.layer`,
 * route `/metrics`; {@link prometheusText} writes the text).
 *
 * @since 0.1.0
 */
import { Effect, Metric, MetricBoundaries } from "effect"
import * as Prometheus from "./internal/health/prometheus.js"

/**
 * Bytes of fragment files the agent sent to the orchestrator, counted when a
 * fragment's upload succeeded.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytesSent = Metric.counter("bro_agent_bytes_sent_total", {
  description: "Bytes of fragment files sent to the orchestrator (fragments whose upload succeeded)",
  incremental: true
})

/**
 * Bytes of fragment files the agent received from the orchestrator: a
 * downloaded fragment's files once it checked out, a streamed download's
 * chunks as they are handed on.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytesReceived = Metric.counter("bro_agent_bytes_received_total", {
  description: "Bytes of fragment files received from the orchestrator",
  incremental: true
})

/**
 * Fragments the orchestrator took.
 *
 * @since 0.1.0
 * @category metrics
 */
export const fragmentsSent = Metric.counter("bro_agent_fragments_sent_total", {
  description: "Fragments sent to the orchestrator",
  incremental: true
})

/**
 * Fragments downloaded and checked.
 *
 * @since 0.1.0
 * @category metrics
 */
export const fragmentsReceived = Metric.counter("bro_agent_fragments_received_total", {
  description: "Fragments downloaded from the orchestrator and checked",
  incremental: true
})

/**
 * Fragment transfers that failed, tagged `direction` (`upload` or
 * `download`). An interrupted transfer (a cancel) is not a failure.
 *
 * @since 0.1.0
 * @category metrics
 */
export const fragmentsFailed = Metric.counter("bro_agent_fragments_failed_total", {
  description: "Fragment transfers that failed, by direction",
  incremental: true
})

/**
 * Stages run, tagged `action` (`BACKUP`, `RESTORE`), `stage`
 * (`PREPARATION`, `EXECUTION`, `POST_ACTIONS`, `CANCEL`) and `outcome`
 * (`success`, `failure`, `interrupted`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const stages = Metric.counter("bro_agent_stages_total", {
  description: "Stages run, by action, stage and outcome",
  incremental: true
})

/**
 * How long stages ran, in seconds, with the tags of {@link stages}.
 *
 * @since 0.1.0
 * @category metrics
 */
export const stageDuration = Metric.histogram(
  "bro_agent_stage_duration_seconds",
  MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 16 }),
  "How long stages ran, in seconds, by action, stage and outcome"
)

/**
 * Times the agent registered again after its control stream ended.
 *
 * @since 0.1.0
 * @category metrics
 */
export const reconnections = Metric.counter("bro_agent_reconnections_total", {
  description: "Registrations again after the control stream ended",
  incremental: true
})

/**
 * Failed attempts to reach the orchestrator, tagged `code` (`ECONNREFUSED`,
 * `ENOTFOUND`, ..., `none` when TCP connects but gRPC does not).
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionFailures = Metric.counter("bro_agent_connection_failures_total", {
  description: "Failed attempts to reach the orchestrator, by error code",
  incremental: true
})

/**
 * 1 while the agent is registered with the orchestrator, else 0.
 *
 * @since 0.1.0
 * @category metrics
 */
export const registered = Metric.gauge("bro_agent_registered", {
  description: "1 while the agent is registered with the orchestrator, else 0"
})

/**
 * Every metric in Effect's registry (the agent's and any other), in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * @since 0.1.0
 * @category exporting
 */
export const prometheusText: Effect.Effect<string> = Effect.map(Metric.snapshot, Prometheus.encode)
