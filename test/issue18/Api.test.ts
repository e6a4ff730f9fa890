// Issue 18, "the REST API defined once": the server implements
// `OrchestratorApi` and the command line's client is derived from it; every
// error is BRO's `{"statusCode", "message"}`, nothing else on the wire.
import { FetchHttpClient } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Client from "../../cli/Client.js"
import { getJson, startOrchestratorWithRest } from "./support.js"

describe("the REST API defined once (issue 18)", () => {
  it.live("answers errors with BRO's body and nothing more, and the derived client reads them as refusals", () =>
    Effect.gen(function*() {
      const { url } = yield* startOrchestratorWithRest()
      expect(yield* getJson(`${url}/v1/backup-manager/nope/backup`)).toEqual({
        status: 404,
        body: { statusCode: 404, message: "Backup manager nope does not exist" }
      })
      const client = yield* Client.make(url)
      const refused = yield* Effect.flip(client.backup("DEFAULT", "no such backup"))
      expect(refused).toMatchObject({
        _tag: "OrchestratorRefused",
        statusCode: 404,
        reason: "Backup no such backup does not exist in backup manager DEFAULT"
      })
      const invalid = yield* Effect.flip(client.startAction("DEFAULT", "CREATE_BACKUP", "../x"))
      expect(invalid).toMatchObject({ _tag: "OrchestratorRefused", statusCode: 422 })
      // The client percent-encodes path parameters: the name comes back whole.
      const started = yield* client.startAction("DEFAULT", "CREATE_BACKUP", "before upgrade: v1+2")
      const action = yield* client.action("DEFAULT", started)
      expect(action.payload?.backupName).toBe("before upgrade: v1+2")
      expect(yield* client.health).toMatchObject({ status: "Healthy" })
    }).pipe(Effect.scoped, Effect.provide([NodeFileSystem.layer, FetchHttpClient.layer])))
})
