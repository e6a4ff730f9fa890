// Our agent against the development orchestrator, over real gRPC on loopback.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer, Schedule } from "effect"
import * as Agent from "../../src/Agent.js"
import type { AgentBehavior } from "../../src/behavior/AgentBehavior.js"
import * as GrpcTransport from "../../src/transport/GrpcTransport.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { softwareVersion } from "./agentHarness.js"

/** A temporary folder removed with the scope. */
export const tempFolder = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bro-agent-" }))

/** Starts a development orchestrator on a free port with its storage in `storage`. */
export const startOrchestrator = (storage: string, options: Orchestrator.OrchestratorOptions = {}) =>
  Orchestrator.make({ port: 0, storage, ...options })

/** Starts an agent connected to the orchestrator on `port`; it stops with the scope. */
export const startAgent = <E, R>(port: number, behavior: AgentBehavior<E, R>, options: Agent.AgentOptions = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port }), NodeFileSystem.layer)
    )
    return yield* Agent.start(behavior, {
      reconnect: { afterStreamLost: Schedule.spaced("50 millis") },
      ...options
    }).pipe(Effect.provide(context))
  })

export const registration = (agentId: string, extra: { readonly scope?: string; readonly apiVersion?: "2.0" | "3.0" | "4.0" } = {}) => ({
  agentId,
  softwareVersion: { ...softwareVersion, semanticVersion: "1.2.3", commercialVersion: "1.2.3" },
  ...extra
})

/** Waits until the orchestrator lists `count` registered agents. */
export const awaitAgents = (orchestrator: Orchestrator.Orchestrator["Type"], count: number) =>
  orchestrator.agents.pipe(
    Effect.filterOrFail((agents) => agents.length >= count),
    Effect.retry(Schedule.spaced("20 millis"))
  )
