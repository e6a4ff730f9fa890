/**
 * Runs the example tar agent (`TarAgent.ts`) against an orchestrator, from
 * the environment: `AGENT_ID`, `AGENT_FOLDER`, `ORCHESTRATOR_HOST`,
 * `ORCHESTRATOR_PORT` (see the README's configuration table).
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Agent, GrpcTransport } from "bro-agent"
import { Config, Effect, Layer } from "effect"
import { tarAgent } from "./TarAgent.js"

Effect.gen(function*() {
  const agentId = yield* Config.string("AGENT_ID").pipe(Config.withDefault("tar-agent"))
  const folder = yield* Config.string("AGENT_FOLDER")
  const behavior = yield* tarAgent({ agentId, folder })
  return yield* Agent.run(behavior)
}).pipe(
  Effect.provide(Layer.merge(GrpcTransport.layerConfig(), NodeContext.layer)),
  // runMain logs the error the agent ends with, once.
  NodeRuntime.runMain
)
