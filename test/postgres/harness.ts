// The PostgreSQL agent against the development orchestrator, in process, over
// real gRPC on loopback, with the cluster of the test file.
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import type { AgentBehavior } from "../../src/behavior/AgentBehavior.js"
import type * as Orchestrator from "../../orchestrator/Orchestrator.js"
import type { PostgresAgentOptions, PostgresConnection } from "../../examples/PostgresAgent.js"
import { postgresAgent } from "../../examples/PostgresAgent.js"
import { awaitAgents, startAgent, startOrchestrator, tempFolder } from "../support/orchestratorHarness.js"
import * as Cluster from "./cluster.js"

/** What every test of the suite runs with: the file system, processes, and one cluster per file. */
export const suiteLayer = Layer.provideMerge(Cluster.layer, NodeContext.layer)

export const agentId = "postgres"

/** The agent for `connection`, with the cluster's own binaries. */
export const agentFor = (connection: PostgresConnection, options: Partial<PostgresAgentOptions> = {}) =>
  Effect.map(Cluster.Cluster, (cluster) =>
    postgresAgent({ agentId, connection, binaries: cluster.binaries, ...options }))

/** A development orchestrator (storage in a temporary folder) with `behavior` registered to it. */
export const withAgent = <E>(behavior: AgentBehavior<E>) =>
  Effect.gen(function*() {
    const orchestrator = yield* startOrchestrator(yield* tempFolder)
    yield* startAgent(orchestrator.port, behavior)
    yield* awaitAgents(orchestrator, 1)
    return orchestrator
  })

/** Runs an action to its end and returns its final record. */
export const runAction = (
  orchestrator: Orchestrator.Orchestrator["Type"],
  name: "CREATE_BACKUP" | "RESTORE",
  backupName: string
) => Effect.flatMap(orchestrator.startAction("DEFAULT", name, backupName), (action) => orchestrator.awaitAction(action.id))

/** The ids of the agents registered now. */
export const registered = (orchestrator: Orchestrator.Orchestrator["Type"]) =>
  Effect.map(orchestrator.agents, (agents) => agents.map((agent) => agent.agentId))
