/**
 * Runs the example folder agent against an orchestrator (a real BRO or the
 * development one), configured from the environment:
 *
 * - `AGENT_ID` (default `folder-agent`), `AGENT_FOLDER` (required), `AGENT_SCOPE`;
 * - `ORCHESTRATOR_HOST`, `ORCHESTRATOR_PORT` (see `GrpcTransport.config`);
 * - `AGENT_FRAGMENT_CHUNK_SIZE`, `AGENT_DATA_CHANNEL_TIMEOUT_SECS`.
 *
 * ```sh
 * AGENT_FOLDER=/data ORCHESTRATOR_PORT=3000 node dist/examples/folder-agent.js
 * ```
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Agent, GrpcTransport } from "bro-agent"
import { Config, Effect, Layer } from "effect"
import { folderAgent } from "./FolderAgent.js"

const program = Effect.gen(function*() {
  const agentId = yield* Config.string("AGENT_ID").pipe(Config.withDefault("folder-agent"))
  const folder = yield* Config.string("AGENT_FOLDER")
  const scope = yield* Config.string("AGENT_SCOPE").pipe(Config.withDefault(""))
  const behavior = yield* folderAgent({ agentId, folder, scope })
  yield* Effect.logInfo(`Backing up ${folder} as agent ${agentId}`)
  return yield* Agent.run(behavior)
})

program.pipe(
  Effect.provide(Layer.merge(GrpcTransport.layerConfig(), NodeFileSystem.layer)),
  // runMain logs the error the agent ends with, once.
  NodeRuntime.runMain
)
