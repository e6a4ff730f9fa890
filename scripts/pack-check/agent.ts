/**
 * The pack check's agent, compiled against the installed package only: it
 * backs up one fragment made of bytes, and its restore fails unless it
 * downloads exactly those bytes. It prints each change of its connection,
 * so that the check sees when it has registered.
 *
 * Environment: `ORCHESTRATOR_PORT` (required), `AGENT_ID`.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Agent, AgentBehavior, Fragments, GrpcTransport } from "bro-agent"
import { Config, Console, Effect, Layer, Stream } from "effect"

const content = "What the packed agent backs up, and must find again on restore.\n"

const behavior = (agentId: string) =>
  AgentBehavior.make({
    registration: {
      agentId,
      softwareVersion: {
        productName: "Pack check",
        productNumber: "APR 901 0099",
        revision: "R1A",
        productionDate: "2026-11-25",
        description: "One fragment of bytes",
        type: "Check"
      }
    },

    executeBackup: (context) =>
      context.sendFragment({
        fragmentId: `${agentId}_content`,
        version: "1.0",
        backupFile: Fragments.fromBytes("content.txt", content)
      }),

    executeRestore: (context) =>
      Effect.gen(function*() {
        if (context.fragments.length !== 1) {
          return yield* new AgentBehavior.StageFailure({ message: `expected 1 fragment, got ${context.fragments.length}` })
        }
        for (const fragment of context.fragments) {
          const restored = yield* context.downloadFragmentStream(fragment).pipe(Stream.decodeText(), Stream.mkString)
          if (restored !== content) {
            return yield* new AgentBehavior.StageFailure({ message: `restored ${JSON.stringify(restored)}` })
          }
        }
        return "Restored what was backed up"
      })
  })

const AgentLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const agentId = yield* Config.string("AGENT_ID").pipe(Config.withDefault("pack-check-agent"))
    const port = yield* Config.port("ORCHESTRATOR_PORT")
    return Agent.layer(behavior(agentId)).pipe(
      Layer.provide(Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port }), NodeFileSystem.layer))
    )
  })
)

const program = Effect.gen(function*() {
  const agent = yield* Agent.RunningAgent
  const connections = agent.statusChanges.pipe(
    Stream.map((status): Agent.Connection["_tag"] => status.connection._tag),
    Stream.changes,
    Stream.runForEach((connection) => Console.log(`agent ${agent.agentId}: ${connection}`))
  )
  // Runs until interrupted (SIGTERM), or fails when the agent stops by itself.
  return yield* Effect.raceFirst(connections, agent.join)
})

program.pipe(Effect.provide(AgentLive), NodeRuntime.runMain)
