import { FetchHttpClient, FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import { join } from "node:path"
import * as Cli from "../cli/Cli.js"
import { folderAgent } from "../examples/FolderAgent.js"
import { capturingConsole, cli } from "./support/cliHarness.js"
import { startAgent, tempFolder } from "./support/orchestratorHarness.js"

describe("the bro-agent command line, end to end", () => {
  it.live("starts the orchestrator, takes a backup, lists it and restores it with a real agent", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const storage = yield* tempFolder
      const folder = yield* tempFolder
      yield* fs.writeFileString(join(folder, "settings.json"), "{\"mode\":\"fast\"}")

      // bro-agent orchestrator --port 0 --http-port 0 --storage <folder>
      const lines = yield* Queue.unbounded<string>()
      const out: Array<string> = []
      const err: Array<string> = []
      const orchestratorCommand = yield* Cli.run(
        ["orchestrator", "--port", "0", "--http-port", "0", "--storage", storage]
      ).pipe(
        Effect.withConsole(yield* capturingConsole(out, err, lines)),
        Effect.provide(FetchHttpClient.layer),
        Effect.forkScoped
      )
      const grpcLine = yield* Queue.take(lines)
      const restLine = yield* Queue.take(lines)
      const grpcPort = Number(/:(\d+)$/.exec(grpcLine)?.[1])
      const url = restLine.replace("REST API on ", "")
      expect(grpcPort).toBeGreaterThan(0)
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

      yield* startAgent(grpcPort, yield* folderAgent({ agentId: "cli-agent", folder }))
      const registered = yield* cli(["agents", "--url", url]).pipe(
        Effect.repeat({ until: (result) => result.out.some((line) => line.startsWith("cli-agent ")) })
      )
      expect(registered.code).toBe(0)

      const created = yield* cli(["backup", "create", "from-cli", "--url", url], { pollInterval: "20 millis" })
      expect(created.err).toEqual([])
      expect(created.code).toBe(0)
      expect(created.out.at(-2)).toMatch(/finished: SUCCESS$/)

      const listed = yield* cli(["backup", "list", "--url", url])
      expect(listed.code).toBe(0)
      expect(listed.out.some((line) => /^from-cli\s+COMPLETE\s/.test(line) && line.includes("cli-agent"))).toBe(true)

      yield* fs.writeFileString(join(folder, "settings.json"), "{\"mode\":\"broken\"}")
      const restored = yield* cli(["backup", "restore", "from-cli", "--url", url], { pollInterval: "20 millis" })
      expect(restored.code).toBe(0)
      expect(yield* fs.readFileString(join(folder, "settings.json"))).toBe("{\"mode\":\"fast\"}")

      // The orchestrator logged what happened, one line each.
      expect(out.some((line) => line.endsWith("agent cli-agent registered (API version 4.0, scope DEFAULT)"))).toBe(true)
      expect(out.filter((line) => /finished: (CREATE_BACKUP|RESTORE) of backup "from-cli" SUCCESS/.test(line)).length).toBe(2)
      yield* Fiber.interrupt(orchestratorCommand)
      expect(err).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
})
