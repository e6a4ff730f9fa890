import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, LogLevel, Ref, Stream } from "effect"
import * as Http from "../orchestrator/Http.js"
import type { ActionName, ActionRecord, BackupManager, BackupRecord } from "../orchestrator/Model.js"
import {
  ActionNotFound,
  BackupNotFound,
  backupNameProblem,
  InvalidActionRequest,
  NoActionRunning,
  UnknownBackupManager
} from "../orchestrator/Model.js"
import { Orchestrator } from "../orchestrator/Orchestrator.js"
import { softwareVersion } from "./support/agentHarness.js"

// A fake orchestrator with in-memory records: the REST API is only a view
// of the `Orchestrator` service, so this is all it needs.

const finished: ActionRecord = {
  id: "11111",
  name: "CREATE_BACKUP",
  backupManagerId: "DEFAULT",
  backupName: "nightly",
  state: "FINISHED",
  result: "SUCCESS",
  progressPercentage: 100,
  progressInfo: undefined,
  resultInfo: "Backup nightly created",
  additionalInfo: undefined,
  startTime: "2024-05-01T10:00:00.000Z",
  completionTime: "2024-05-01T10:00:05.000Z",
  lastUpdateTime: "2024-05-01T10:00:05.000Z"
}

const running: ActionRecord = {
  id: "22222",
  name: "RESTORE",
  backupManagerId: "DEFAULT",
  backupName: "nightly",
  state: "RUNNING",
  result: "NOT_AVAILABLE",
  progressPercentage: 42,
  progressInfo: "Stage EXECUTION: waiting for agent-b",
  resultInfo: undefined,
  additionalInfo: undefined,
  startTime: "2024-05-01T11:00:00.000Z",
  completionTime: undefined,
  lastUpdateTime: "2024-05-01T11:00:02.000Z"
}

const nightly: BackupRecord = {
  name: "nightly",
  backupManagerId: "DEFAULT",
  status: "COMPLETE",
  creationTime: "2024-05-01T10:00:05.000Z",
  softwareVersions: [
    {
      agentId: "agent-a",
      apiVersion: "4.0",
      ...softwareVersion,
      commercialVersion: "1.2.3",
      semanticVersion: "1.2.4"
    }
  ],
  fragments: []
}

const spaced: BackupRecord = { ...nightly, name: "before upgrade: v1+2", softwareVersions: [] }

const managers: ReadonlyArray<BackupManager> = [
  { id: "DEFAULT", backupType: "DEFAULT", backupDomain: "" },
  { id: "alpha", backupType: "alpha", backupDomain: "" }
]

interface Fake {
  readonly orchestrator: Context.Tag.Service<Orchestrator>
  /** The actions asked for, in order. */
  readonly started: Ref.Ref<ReadonlyArray<{ managerId: string; name: ActionName; backupName: string }>>
  readonly ongoing: Ref.Ref<ActionRecord | undefined>
}

const makeFake = (options: { readonly ongoing?: ActionRecord | undefined } = { ongoing: running }) =>
  Effect.gen(function*() {
    const started = yield* Ref.make<ReadonlyArray<{ managerId: string; name: ActionName; backupName: string }>>([])
    const ongoing = yield* Ref.make<ActionRecord | undefined>(options.ongoing)
    const manager = (id: string) => {
      const found = managers.find((candidate) => candidate.id === id)
      return found === undefined ? Effect.fail(new UnknownBackupManager({ id })) : Effect.succeed(found)
    }
    const actions = (id: string) =>
      Effect.as(manager(id), [finished, running].filter((action) => action.backupManagerId === id))
    const backups = (id: string) => Effect.as(manager(id), id === "DEFAULT" ? [nightly, spaced] : [])
    const orchestrator: Context.Tag.Service<Orchestrator> = {
      port: 3000,
      host: "127.0.0.1",
      storage: "/tmp/fake",
      health: Effect.map(Ref.get(ongoing), (action) => ({
        status: "Healthy" as const,
        availability: action === undefined ? "Available" as const : "Busy" as const,
        ongoingAction: action === undefined
          ? undefined
          : { actionId: action.id, backupManagerId: action.backupManagerId },
        registeredAgents: ["agent-a", "agent-b"]
      })),
      agents: Effect.succeed([]),
      managers: Effect.succeed(managers),
      manager,
      startAction: (managerId, name, backupName) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          const problem = backupNameProblem(backupName)
          if (problem !== undefined) {
            return yield* new InvalidActionRequest({ reason: `Failing for having an invalid backup name: ${problem}` })
          }
          yield* Ref.update(started, (list) => [...list, { managerId, name, backupName }])
          return { ...running, id: "33333", name, backupName, progressPercentage: 0, progressInfo: undefined }
        }),
      action: (managerId, actionId) =>
        Effect.flatMap(actions(managerId), (list) => {
          const found = list.find((action) => action.id === actionId)
          return found === undefined ? Effect.fail(new ActionNotFound({ id: actionId })) : Effect.succeed(found)
        }),
      actions,
      awaitAction: (actionId) => Effect.fail(new ActionNotFound({ id: actionId })),
      cancelAction: (actionId) =>
        Effect.gen(function*() {
          const action = yield* Ref.get(ongoing)
          if (action === undefined || (actionId !== undefined && action.id !== actionId)) {
            return yield* new NoActionRunning()
          }
          yield* Ref.set(ongoing, undefined)
          const cancelled: ActionRecord = {
            ...action,
            state: "FINISHED",
            result: "FAILURE",
            progressInfo: "Cancelled by the user",
            completionTime: "2024-05-01T11:00:03.000Z"
          }
          return cancelled
        }),
      backups,
      backup: (managerId, backupName) =>
        Effect.flatMap(backups(managerId), (list) => {
          const found = list.find((backup) => backup.name === backupName)
          return found === undefined
            ? Effect.fail(new BackupNotFound({ backupManagerId: managerId, backupName }))
            : Effect.succeed(found)
        }),
      fragmentPath: () => Effect.succeed("/tmp/fake/fragment"),
      verifyBackup: () => Effect.dieMessage("no verify in this fake"),
      transfers: () => Effect.succeed([]),
      faults: { add: () => Effect.dieMessage("no faults in this fake"), armed: Effect.succeed([]), clear: () => Effect.succeed(0) },
      events: Stream.empty
    }
    return { orchestrator, started, ongoing } satisfies Fake
  })

/** Serves the REST API of `fake` on a free port for the test's scope; returns its base URL. */
const serve = (orchestrator: Context.Tag.Service<Orchestrator>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Http.layer({ port: 0 }).pipe(Layer.provide(Layer.succeed(Orchestrator, orchestrator))))
    const http = Context.get(context, Http.OrchestratorHttp)
    return `http://127.0.0.1:${http.port}`
  })

const setUp = (options?: { readonly ongoing?: ActionRecord | undefined }) =>
  Effect.gen(function*() {
    const fake = yield* makeFake(options)
    const url = yield* serve(fake.orchestrator)
    return { ...fake, url }
  })

/** Sends a request and reads the status and the JSON body. */
const call = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.execute(request)
    const text = yield* response.text
    return { status: response.status, contentType: response.headers["content-type"], body: JSON.parse(text) as unknown }
  }).pipe(Effect.provide(FetchHttpClient.layer))

const get = (url: string) => call(HttpClientRequest.get(url))
const postJson = (url: string, body: unknown) => call(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUnsafeJson(body)))

describe("the development orchestrator's REST API", () => {
  it.scoped("listens on a free port when asked for port 0 and tells which", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      expect(url).not.toBe("http://127.0.0.1:0")
      const { status } = yield* get(`${url}/v1/health`)
      expect(status).toBe(200)
    }))

  it.scoped("GET /v1/health answers the status, the availability, the ongoing action and the registered agents", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, contentType, status } = yield* get(`${url}/v1/health`)
      expect(status).toBe(200)
      expect(contentType).toContain("application/json")
      expect(body).toEqual({
        status: "Healthy",
        availability: "Busy",
        ongoingAction: { actionId: "22222", backupManagerId: "DEFAULT" },
        registeredAgents: ["agent-a", "agent-b"]
      })
    }))

  it.scoped("GET /v1/health shows no ongoing action as an empty object", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp({ ongoing: undefined })
      const { body } = yield* get(`${url}/v1/health`)
      expect(body).toEqual({
        status: "Healthy",
        availability: "Available",
        ongoingAction: {},
        registeredAgents: ["agent-a", "agent-b"]
      })
    }))

  it.scoped("GET /v1/backup-manager lists the backup managers with their type and domain", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(`${url}/v1/backup-manager`)
      expect(status).toBe(200)
      expect(body).toEqual({
        backupManagers: [
          { id: "DEFAULT", backupType: "DEFAULT", backupDomain: "" },
          { id: "alpha", backupType: "alpha", backupDomain: "" }
        ]
      })
    }))

  it.scoped("GET /v1/backup-manager/{id} answers one backup manager", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(`${url}/v1/backup-manager/alpha`)
      expect(status).toBe(200)
      expect(body).toEqual({ id: "alpha", backupType: "alpha", backupDomain: "" })
    }))

  it.scoped("an unknown backup manager answers 404 with statusCode and message, on every route under it", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const expected = { statusCode: 404, message: "Backup manager nope does not exist" }
      for (
        const path of ["", "/action", "/action/11111", "/backup", "/backup/nightly"]
      ) {
        const { body, status } = yield* get(`${url}/v1/backup-manager/nope${path}`)
        expect({ path, status, body }).toEqual({ path, status: 404, body: expected })
      }
      const posted = yield* postJson(`${url}/v1/backup-manager/nope/action`, {
        action: "CREATE_BACKUP",
        payload: { backupName: "b1" }
      })
      expect(posted).toMatchObject({ status: 404, body: expected })
    }))

  it.scoped("POST /v1/backup-manager/{id}/action asks the orchestrator for the action and answers 201 with its id", () =>
    Effect.gen(function*() {
      const { started, url } = yield* setUp()
      const { body, status } = yield* postJson(`${url}/v1/backup-manager/DEFAULT/action`, {
        action: "DELETE_BACKUP",
        payload: { backupName: "nightly" }
      })
      expect(status).toBe(201)
      expect(body).toEqual({ id: "33333" })
      expect(yield* Ref.get(started)).toEqual([{ managerId: "DEFAULT", name: "DELETE_BACKUP", backupName: "nightly" }])
    }))

  it.scoped("an invalid backup name answers 422 with the orchestrator's reason", () =>
    Effect.gen(function*() {
      const { started, url } = yield* setUp()
      const { body, status } = yield* postJson(`${url}/v1/backup-manager/DEFAULT/action`, {
        action: "CREATE_BACKUP",
        payload: { backupName: "a/b" }
      })
      expect(status).toBe(422)
      expect(body).toEqual({
        statusCode: 422,
        message: "Failing for having an invalid backup name: the backup name may hold only letters, digits, white space and _+-=:."
      })
      expect(yield* Ref.get(started)).toEqual([])
    }))

  it.scoped("an action name BRO does not know answers 422 naming the known ones", () =>
    Effect.gen(function*() {
      const { started, url } = yield* setUp()
      const { body, status } = yield* postJson(`${url}/v1/backup-manager/DEFAULT/action`, {
        action: "IMPORT",
        payload: { backupName: "nightly" }
      })
      expect(status).toBe(422)
      expect(body).toEqual({
        statusCode: 422,
        message: "Unknown action \"IMPORT\": expected one of CREATE_BACKUP, RESTORE, DELETE_BACKUP"
      })
      expect(yield* Ref.get(started)).toEqual([])
    }))

  it.scoped("a body that is not JSON answers 400 saying so", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* call(
        HttpClientRequest.post(`${url}/v1/backup-manager/DEFAULT/action`).pipe(
          HttpClientRequest.bodyText("{\"action\": \"CREATE_BACKUP\",", "application/json")
        )
      )
      expect(status).toBe(400)
      expect(body).toMatchObject({ statusCode: 400 })
      expect((body as { message: string }).message).toMatch(/^The request body is not valid JSON: ./)
    }))

  it.scoped("a body without payload.backupName answers 400 naming the missing field", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* postJson(`${url}/v1/backup-manager/DEFAULT/action`, {
        action: "CREATE_BACKUP",
        payload: {}
      })
      expect(status).toBe(400)
      expect(body).toEqual({ statusCode: 400, message: "Invalid request body: payload.backupName: is missing" })
    }))

  it.scoped("a body whose action is not a string answers 400 naming the field", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* postJson(`${url}/v1/backup-manager/DEFAULT/action`, {
        action: 7,
        payload: { backupName: "nightly" }
      })
      expect(status).toBe(400)
      expect(body).toEqual({ statusCode: 400, message: "Invalid request body: action: Expected string, actual 7" })
    }))

  it.scoped("GET /v1/backup-manager/{id}/action lists the id, name, result and start time of each action", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(`${url}/v1/backup-manager/DEFAULT/action`)
      expect(status).toBe(200)
      expect(body).toEqual({
        actions: [
          { id: "11111", name: "CREATE_BACKUP", result: "SUCCESS", startTime: "2024-05-01T10:00:00.000Z" },
          { id: "22222", name: "RESTORE", result: "NOT_AVAILABLE", startTime: "2024-05-01T11:00:00.000Z" }
        ]
      })
    }))

  it.scoped("GET .../action/{actionId} shows the action with its progress as a fraction and leaves absent fields out", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(`${url}/v1/backup-manager/DEFAULT/action/22222`)
      expect(status).toBe(200)
      expect(body).toStrictEqual({
        id: "22222",
        name: "RESTORE",
        result: "NOT_AVAILABLE",
        payload: { backupName: "nightly" },
        progressInfo: "Stage EXECUTION: waiting for agent-b",
        state: "RUNNING",
        progressPercentage: 0.42,
        startTime: "2024-05-01T11:00:00.000Z",
        lastUpdateTime: "2024-05-01T11:00:02.000Z"
      })
    }))

  it.scoped("a finished action shows progress 1, its result information and its completion time", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body } = yield* get(`${url}/v1/backup-manager/DEFAULT/action/11111`)
      expect(body).toStrictEqual({
        id: "11111",
        name: "CREATE_BACKUP",
        result: "SUCCESS",
        payload: { backupName: "nightly" },
        resultInfo: "Backup nightly created",
        state: "FINISHED",
        progressPercentage: 1,
        startTime: "2024-05-01T10:00:00.000Z",
        completionTime: "2024-05-01T10:00:05.000Z",
        lastUpdateTime: "2024-05-01T10:00:05.000Z"
      })
    }))

  it.scoped("an unknown action answers 404", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(`${url}/v1/backup-manager/DEFAULT/action/99999`)
      expect(status).toBe(404)
      expect(body).toEqual({ statusCode: 404, message: "Action 99999 does not exist" })
    }))

  it.scoped("GET /v1/backup-manager/{id}/backup lists the backups in BRO's shape", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(`${url}/v1/backup-manager/DEFAULT/backup`)
      expect(status).toBe(200)
      const backups = (body as { backups: ReadonlyArray<{ id: string; name: string; status: string }> }).backups
      expect(backups.map(({ id, name, status }) => ({ id, name, status }))).toEqual([
        { id: "nightly", name: "nightly", status: "COMPLETE" },
        { id: "before upgrade: v1+2", name: "before upgrade: v1+2", status: "COMPLETE" }
      ])
      const empty = yield* get(`${url}/v1/backup-manager/alpha/backup`)
      expect(empty.body).toEqual({ backups: [] })
    }))

  it.scoped("GET .../backup/{backupName} maps each recorded software version to BRO's field names", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(`${url}/v1/backup-manager/DEFAULT/backup/nightly`)
      expect(status).toBe(200)
      expect(body).toStrictEqual({
        id: "nightly",
        name: "nightly",
        creationTime: "2024-05-01T10:00:05.000Z",
        creationType: "MANUAL",
        status: "COMPLETE",
        userLabel: "",
        softwareVersions: [
          {
            productName: "productABC",
            productNumber: "APR XXX XX",
            productRevision: "R1A",
            date: "2019-04-17",
            description: "ABC used by XYZ",
            type: "Database",
            agentId: "agent-a",
            commercialVersion: "1.2.3",
            semanticVersion: "1.2.4"
          }
        ]
      })
    }))

  it.scoped("a backup name with spaces and punctuation is read from its percent-encoded path", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(
        `${url}/v1/backup-manager/DEFAULT/backup/${encodeURIComponent("before upgrade: v1+2")}`
      )
      expect(status).toBe(200)
      expect(body).toMatchObject({ name: "before upgrade: v1+2" })
    }))

  it.scoped("an unknown backup answers 404", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* get(`${url}/v1/backup-manager/DEFAULT/backup/weekly`)
      expect(status).toBe(404)
      expect(body).toEqual({ statusCode: 404, message: "Backup weekly does not exist in backup manager DEFAULT" })
    }))

  it.scoped("POST .../action/{actionId}/cancel (ours, not BRO's) cancels the running action and answers its JSON", () =>
    Effect.gen(function*() {
      const { ongoing, url } = yield* setUp()
      const { body, status } = yield* call(HttpClientRequest.post(`${url}/v1/backup-manager/DEFAULT/action/22222/cancel`))
      expect(status).toBe(200)
      expect(body).toMatchObject({
        id: "22222",
        name: "RESTORE",
        state: "FINISHED",
        result: "FAILURE",
        progressInfo: "Cancelled by the user",
        progressPercentage: 0.42
      })
      expect(yield* Ref.get(ongoing)).toBeUndefined()
    }))

  it.scoped("cancelling an action that is not the running one answers 409 and cancels nothing", () =>
    Effect.gen(function*() {
      const { ongoing, url } = yield* setUp()
      const { body, status } = yield* call(HttpClientRequest.post(`${url}/v1/backup-manager/DEFAULT/action/11111/cancel`))
      expect(status).toBe(409)
      expect(body).toEqual({ statusCode: 409, message: "No action is running" })
      expect(yield* Ref.get(ongoing)).toEqual(running)
    }))

  it.scoped("cancelling an unknown action answers 404", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const { body, status } = yield* call(HttpClientRequest.post(`${url}/v1/backup-manager/DEFAULT/action/99999/cancel`))
      expect(status).toBe(404)
      expect(body).toEqual({ statusCode: 404, message: "Action 99999 does not exist" })
    }))

  it.scoped("an unknown route answers 404 with a JSON body", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const unknownPath = yield* get(`${url}/v2/health`)
      expect(unknownPath).toMatchObject({ status: 404, body: { statusCode: 404, message: "No route for GET /v2/health" } })
      const unknownMethod = yield* call(HttpClientRequest.del(`${url}/v1/health`))
      expect(unknownMethod).toMatchObject({
        status: 404,
        body: { statusCode: 404, message: "No route for DELETE /v1/health" }
      })
    }))

  it.scoped("a bug answers 500 with its reason and no stack trace", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake()
      const url = yield* serve({ ...fake.orchestrator, health: Effect.die(new Error("the health check broke")) })
      const { body, status } = yield* get(`${url}/v1/health`)
      expect(status).toBe(500)
      expect(body).toEqual({
        statusCode: 500,
        message: "Internal error of the development orchestrator: the health check broke"
      })
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))
})
