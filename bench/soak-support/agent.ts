/**
 * The agent process of the soak: the example folder agent
 * (`examples/FolderAgent.ts`) through the public API, with `GrpcTransport`
 * to the development orchestrator on 127.0.0.1:`port`, backing up and
 * restoring `folder`, until `stop` (or stdin closing); see
 * `agents-support/protocol.ts`. It says `Started` once the agent runs (it
 * registers on its own), and `Stopped` at the end.
 *
 * Usage (by the driver): `node --import register-bro-agent.js soak.js agent --port P --folder DIR`
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Layer } from "effect"
import { parseArgs } from "node:util"
import { folderAgent } from "../../examples/FolderAgent.js"
import { runChild, say, serveCommands } from "../agents-support/child.js"
import { peakRssKiB } from "../agents-support/protocol.js"
import { Agent, GrpcTransport } from "../../src/index.js"

/** The soak's agent id. */
export const soakAgentId = "soak-folder-agent"

/** Runs the agent process with its command-line arguments. */
export const main = (args: ReadonlyArray<string>): void => {
  const { values } = parseArgs({ args: [...args], options: { "port": { type: "string" }, "folder": { type: "string" } } })
  const port = Number(values.port)
  const folder = values.folder
  if (!Number.isInteger(port) || folder === undefined) throw new Error("usage: soak.js agent --port P --folder DIR")
  runChild(
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const services = yield* Layer.build(
          Layer.merge(GrpcTransport.layer({ host: "127.0.0.1", port }), NodeFileSystem.layer)
        )
        const behavior = yield* folderAgent({ agentId: soakAgentId, folder }).pipe(Effect.provide(services))
        yield* Agent.start(behavior).pipe(Effect.provide(services))
        yield* say({ _tag: "Started", agents: 1, maxRssKiB: peakRssKiB() })
        yield* serveCommands((command) => Effect.logWarning(`unknown command: ${command}`))
      }))
      yield* say({ _tag: "Stopped", maxRssKiB: peakRssKiB() })
    })
  )
}
