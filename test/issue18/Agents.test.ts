// Issue 18, "agents as registered": the registry keeps what each agent
// registered with (API version, scope, features, backend type, software
// version); `GET /v1/agents` (ours) and `bro-agent agents` show it.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { AgentMessage } from "../../src/core/Message.js"
import { cli } from "../support/cliHarness.js"
import { awaitAgents, registration } from "../support/orchestratorHarness.js"
import { channel, expectNext, openControl, registerAgent } from "../support/rawAgent.js"
import { getJson, startOrchestratorWithRest } from "./support.js"

const version = registration("x").softwareVersion

describe("agents as registered (issue 18)", () => {
  it.live("keeps each agent's API version, scope, features, backend type and software version, and shows them", () =>
    Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest()
      const control = yield* openControl(yield* channel(orchestrator.port))
      yield* control.send(AgentMessage.Register({
        action: "REGISTER",
        agentId: "db-agent",
        scope: "alpha;beta",
        apiVersion: "4.0",
        softwareVersion: { ...version, productName: "PostgreSQL", revision: "R2B" },
        backendType: "OBJECT_STORAGE",
        features: ["PLAINTEXT", "PREPARE_STAGE", "POST_STAGE"]
      }))
      yield* expectNext(control, "RegisterAcknowledge")
      // API 3.0 sends no features: none are recorded, and the backend is BRO.
      yield* registerAgent(yield* channel(orchestrator.port), "old-agent", { apiVersion: "3.0" })
      const agents = yield* awaitAgents(orchestrator, 2)
      expect(agents).toEqual([
        {
          agentId: "db-agent",
          apiVersion: "4.0",
          scope: ["alpha", "beta"],
          features: ["PLAINTEXT", "PREPARE_STAGE", "POST_STAGE"],
          backendType: "OBJECT_STORAGE",
          softwareVersion: { ...version, productName: "PostgreSQL", revision: "R2B" }
        },
        { agentId: "old-agent", apiVersion: "3.0", scope: [], features: [], backendType: "BRO", softwareVersion: version }
      ])

      const answer = yield* getJson(`${url}/v1/agents`)
      expect(answer.status).toBe(200)
      expect(answer.body).toEqual({
        agents: [
          {
            agentId: "db-agent",
            apiVersion: "4.0",
            scope: ["alpha", "beta"],
            features: ["PLAINTEXT", "PREPARE_STAGE", "POST_STAGE"],
            backendType: "OBJECT_STORAGE",
            softwareVersion: {
              agentId: "db-agent",
              productName: "PostgreSQL",
              productNumber: version.productNumber,
              productRevision: "R2B",
              date: version.productionDate,
              description: version.description,
              type: version.type,
              commercialVersion: version.commercialVersion,
              semanticVersion: version.semanticVersion
            }
          },
          expect.objectContaining({ agentId: "old-agent", apiVersion: "3.0", features: [] })
        ]
      })

      const listed = yield* cli(["agents", "--url", url])
      expect(listed).toEqual({
        code: 0,
        out: [
          "ID         API  SCOPE               FEATURES                            SOFTWARE",
          "db-agent   4.0  DEFAULT,alpha,beta  PLAINTEXT,PREPARE_STAGE,POST_STAGE  PostgreSQL APR XXX XX R2B",
          "old-agent  3.0  DEFAULT             -                                   productABC APR XXX XX R1A"
        ],
        err: []
      })
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))

  it.live("bro-agent agents falls back to the ids of /v1/health where there is no /v1/agents, as on a real BRO", () =>
    Effect.gen(function*() {
      const { orchestrator, url } = yield* startOrchestratorWithRest()
      yield* registerAgent(yield* channel(orchestrator.port), "only-agent")
      // A stand-in for a real BRO: everything but /v1/agents is proxied.
      const server = yield* Effect.acquireRelease(
        Effect.async<import("node:http").Server>((resume) => {
          void import("node:http").then(({ createServer }) => {
            const proxy = createServer((request, response) => {
              if (request.url === "/v1/agents") {
                response.writeHead(404, { "content-type": "application/json" })
                response.end(JSON.stringify({ statusCode: 404, message: "No such route" }))
                return
              }
              void fetch(url + (request.url ?? "")).then(async (answer) => {
                response.writeHead(answer.status, { "content-type": "application/json" })
                response.end(await answer.text())
              })
            })
            proxy.listen(0, "127.0.0.1", () => resume(Effect.succeed(proxy)))
          })
        }),
        (proxy) => Effect.async<void>((resume) => void proxy.close(() => resume(Effect.void)))
      )
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      expect(yield* cli(["agents", "--url", `http://127.0.0.1:${port}`])).toEqual({ code: 0, out: ["only-agent"], err: [] })
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
})
