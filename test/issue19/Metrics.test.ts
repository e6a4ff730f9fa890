// The agent's metrics after a real backup and restore against the
// development orchestrator, and the Prometheus text they are served as.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries, MetricLabel } from "effect"
import { join } from "node:path"
import * as AgentMetrics from "../../src/AgentMetrics.js"
import { StageFailure } from "../../src/behavior/AgentBehavior.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import * as Prometheus from "../../src/internal/health/prometheus.js"
import { awaitStatus, behaviorWith } from "../support/agentHarness.js"
import { layerLive } from "../support/layers.js"
import { awaitAgents, registration, startAgent, startOrchestrator, tempFolder } from "../support/orchestratorHarness.js"

const ofAgent = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, agentId: string, tags: Record<string, string> = {}) =>
  Metric.value(Metric.taggedWithLabels(
    Metric.tagged(metric, "agent_id", agentId),
    Object.entries(tags).map(([key, value]) => MetricLabel.make(key, value))
  ))

const stage = (agentId: string, action: string, stageName: string, outcome: string) =>
  ofAgent(AgentMetrics.stages, agentId, { action, stage: stageName, outcome })

layerLive(NodeFileSystem.layer)("the agent's metrics against the development orchestrator", (it) => {
  it.scoped("count the bytes and fragments sent and received, and each stage with its duration and outcome", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const source = yield* tempFolder
      const target = yield* tempFolder
      yield* fs.writeFileString(join(source, "dump.sql"), "Hello World!")
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      const agent = yield* startAgent(orchestrator.port, behaviorWith<Fragments.FailedToTransferBackup | Fragments.FailedToDownload>({
        registration: registration("metered-agent"),
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: "metered-agent-0",
            version: "1.0",
            backupFile: Fragments.fromPath(join(source, "dump.sql")),
            customMetadataFile: Fragments.fromBytes("meta.json", "{\"tables\":3}")
          }),
        executeRestore: (context) => Effect.forEach(context.fragments, (fragment) => context.downloadFragment(fragment, target))
      }))
      yield* awaitStatus(agent, (status) => status.connection._tag === "Registered")
      expect((yield* ofAgent(AgentMetrics.registered, "metered-agent")).value).toBe(1)

      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("SUCCESS")
      const restore = yield* orchestrator.startAction("DEFAULT", "RESTORE", "nightly")
      expect((yield* orchestrator.awaitAction(restore.id)).result).toBe("SUCCESS")

      // 12 bytes of dump.sql and 12 of meta.json, each way.
      expect((yield* ofAgent(AgentMetrics.bytesSent, "metered-agent")).count).toBe(24)
      expect((yield* ofAgent(AgentMetrics.bytesReceived, "metered-agent")).count).toBe(24)
      expect((yield* ofAgent(AgentMetrics.fragmentsSent, "metered-agent")).count).toBe(1)
      expect((yield* ofAgent(AgentMetrics.fragmentsReceived, "metered-agent")).count).toBe(1)
      expect((yield* ofAgent(AgentMetrics.fragmentsFailed, "metered-agent", { direction: "upload" })).count).toBe(0)
      for (const action of ["BACKUP", "RESTORE"]) {
        for (const stageName of ["PREPARATION", "EXECUTION", "POST_ACTIONS"]) {
          expect((yield* stage("metered-agent", action, stageName, "success")).count, `${action} ${stageName}`).toBe(1)
          const duration = yield* ofAgent(AgentMetrics.stageDuration, "metered-agent", {
            action,
            stage: stageName,
            outcome: "success"
          })
          expect(duration.count).toBe(1)
        }
      }
      expect((yield* ofAgent(AgentMetrics.reconnections, "metered-agent")).count).toBe(0)

      const text = Prometheus.encode(yield* Metric.snapshot).split("\n")
      expect(text).toContain("bro_agent_bytes_sent_total{agent_id=\"metered-agent\"} 24")
      expect(text).toContain(
        "bro_agent_stage_duration_seconds_count{agent_id=\"metered-agent\",action=\"BACKUP\",stage=\"EXECUTION\",outcome=\"success\"} 1"
      )
    }))

  it.scoped("count a failed upload and a failed stage", () =>
    Effect.gen(function*() {
      const orchestrator = yield* startOrchestrator(yield* tempFolder)
      yield* startAgent(orchestrator.port, behaviorWith({
        registration: registration("failing-agent"),
        executeBackup: (context) =>
          context.sendFragment({
            fragmentId: "failing-agent-0",
            version: "1.0",
            backupFile: Fragments.fromPath("/no/such/file")
          }).pipe(Effect.mapError((error) => new StageFailure({ message: error.message })))
      }))
      yield* awaitAgents(orchestrator, 1)
      const backup = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", "nightly")
      expect((yield* orchestrator.awaitAction(backup.id)).result).toBe("FAILURE")
      expect((yield* ofAgent(AgentMetrics.fragmentsFailed, "failing-agent", { direction: "upload" })).count).toBe(1)
      expect((yield* ofAgent(AgentMetrics.fragmentsSent, "failing-agent")).count).toBe(0)
      expect((yield* stage("failing-agent", "BACKUP", "EXECUTION", "failure")).count).toBe(1)
    }))
})

describe("the Prometheus text", () => {
  it.effect("writes counters, gauges and cumulative histograms with their HELP, TYPE and escaped labels", () =>
    Effect.gen(function*() {
      const counter = Metric.counter("test_prom_requests_total", { description: "Requests\nserved" }).pipe(
        Metric.tagged("path", "/a\"b\\c")
      )
      const gauge = Metric.gauge("test_prom.temperature")
      const histogram = Metric.histogram(
        "test_prom_seconds",
        MetricBoundaries.fromIterable([1, 2]),
        "Seconds"
      )
      yield* Metric.incrementBy(counter, 3)
      yield* Metric.set(gauge, -1.5)
      yield* Metric.update(histogram, 0.5)
      yield* Metric.update(histogram, 1.5)
      yield* Metric.update(histogram, 7)
      const text = Prometheus.encode(
        (yield* Metric.snapshot).filter((pair) => pair.metricKey.name.startsWith("test_prom"))
      )
      expect(text).toBe([
        "# HELP test_prom_requests_total Requests\\nserved",
        "# TYPE test_prom_requests_total counter",
        "test_prom_requests_total{path=\"/a\\\"b\\\\c\"} 3",
        "# HELP test_prom_seconds Seconds",
        "# TYPE test_prom_seconds histogram",
        "test_prom_seconds_bucket{le=\"1\"} 1",
        "test_prom_seconds_bucket{le=\"2\"} 2",
        "test_prom_seconds_bucket{le=\"+Inf\"} 3",
        "test_prom_seconds_sum 9",
        "test_prom_seconds_count 3",
        "# TYPE test_prom_temperature gauge",
        "test_prom_temperature -1.5",
        ""
      ].join("\n"))
    }))
})
