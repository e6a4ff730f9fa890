// Shared by the issue-18 tests: a real development orchestrator (gRPC and
// REST on free ports, storage in a temporary folder) for the test's scope.
import { FileSystem } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import * as Http from "../../orchestrator/Http.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"

export interface Running {
  readonly orchestrator: Orchestrator.Orchestrator["Type"]
  /** The REST API's base URL. */
  readonly url: string
  readonly storage: string
}

/** Starts an orchestrator and its REST API; both stop with the scope. */
export const startOrchestratorWithRest = (options: Orchestrator.OrchestratorOptions = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const storage = yield* fs.makeTempDirectoryScoped({ prefix: "bro-agent-18-" })
    const orchestrator = yield* Orchestrator.make({ port: 0, storage, ...options })
    const context = yield* Layer.build(
      Http.layer({ port: 0 }).pipe(Layer.provide(Layer.succeed(Orchestrator.Orchestrator, orchestrator)))
    )
    const http = Context.get(context, Http.OrchestratorHttp)
    return { orchestrator, url: `http://127.0.0.1:${http.port}`, storage } satisfies Running
  })

/** GETs `path` and returns the status and the JSON body. */
export const getJson = (url: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url)
    return { status: response.status, body: (await response.json()) as unknown }
  })
