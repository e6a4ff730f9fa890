/**
 * The development orchestrator's REST API: the subset of BRO's REST v1 API
 * that test scripts use (health, backup managers, actions, backups), with
 * BRO's paths, JSON shapes and status codes, served over Node's HTTP server.
 *
 * Extensions that BRO does not have:
 * `POST /v1/backup-manager/{id}/action/{actionId}/cancel` cancels the running
 * action and answers 200 with the action's JSON (409 when that action is not
 * the one running); a real BRO offers no way to cancel an action.
 * `GET /v1/agents` lists the registered agents with what each registered
 * with: API version, scope, features, backend type and software version.
 * `/v1/faults` arms, lists and clears faults on demand (`Faults.ts`).
 * `POST /v1/backup-manager/{id}/backup/{backupName}/verify` reads every
 * stored file of the backup back, checks its MD5 and answers each
 * fragment's outcome; one that fails marks the backup CORRUPTED.
 *
 * Errors answer `{"statusCode": n, "message": "..."}` with the same HTTP
 * status: 404 for an unknown backup manager, action, backup or route, 422 for
 * an action that cannot be taken as asked, 409 when there is nothing to
 * cancel, 400 for a body that is not the expected JSON (or is nested deeper
 * than {@link maxBodyNesting} levels), 413 for a body larger than
 * `HttpOptions.maxBodySize` (1 MiB by default; the connection is then
 * closed, the rest of the body is never read), 500 for a bug: its answer
 * gives the reason in one line, the log has the whole cause with its trace.
 *
 * @since 0.1.0
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Cause, Context, Data, Effect, Layer, Option, ParseResult, Schema, Stream } from "effect"
import * as NodeHttp from "node:http"
import type {
  ActionName,
  ActionRecord,
  ApiError,
  BackupManager,
  BackupRecord,
  Health,
  RecordedSoftwareVersion,
  RegisteredAgent
} from "./Model.js"
import type {
  ActionJson,
  ActionSummaryJson,
  AgentJson,
  BackupJson,
  BackupManagerJson,
  HealthJson,
  SoftwareVersionJson
} from "./Api.js"
import { ActionRequestJson, ApiFailure, OrchestratorApi } from "./Api.js"
import { ArmedFault, FaultSpec } from "./Faults.js"
import { InvalidActionRequest } from "./Model.js"
import { Orchestrator } from "./Orchestrator.js"
// Cuts what a client sent, quoted back in a message, to a readable length.
import { quote as bounded, reasonOf } from "./Quote.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface HttpOptions {
  /** Where the REST API listens; `127.0.0.1` by default. */
  readonly host?: string
  /** The REST port; 7001 (BRO's) by default, 0 for a free one. */
  readonly port?: number
  /**
   * The largest request body accepted, in bytes; {@link defaultMaxBodySize}
   * (1 MiB) by default. BRO's requests are a few hundred bytes. A larger body
   * answers 413 and is not read: at most this much of a body is ever held.
   */
  readonly maxBodySize?: number
}

/**
 * The default `HttpOptions.maxBodySize`: 1 MiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBodySize = 1024 * 1024

/**
 * How deeply a request body's JSON may nest arrays and objects; a deeper body
 * answers 400 before it is parsed. BRO's bodies nest two levels.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBodyNesting = 32

/**
 * The REST API of a running development orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class OrchestratorHttp extends Context.Tag("bro-agent/DevOrchestratorHttp")<
  OrchestratorHttp,
  {
    readonly host: string
    /** The port it listens on (the real one when 0 was asked). */
    readonly port: number
  }
>() {}

/**
 * The REST API could not listen (the port is taken, the host is not local...).
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpStartError extends Data.TaggedError("HttpStartError")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    return `The development orchestrator's REST API cannot listen on ${this.host}:${this.port}: ${describeCause(this.cause)}`
  }
}

/**
 * The request's body is not the JSON the route expects (HTTP 400).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequestBody extends Data.TaggedError("InvalidRequestBody")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/**
 * The request's body is larger than the REST API accepts (HTTP 413).
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestBodyTooLarge extends Data.TaggedError("RequestBodyTooLarge")<{
  /** The limit in bytes (`HttpOptions.maxBodySize`). */
  readonly maxBodySize: number
}> {
  override get message(): string {
    return `The request body is larger than ${this.maxBodySize} bytes, the most the REST API accepts`
  }
}

/**
 * The action names BRO accepts.
 *
 * @since 0.1.0
 * @category constants
 */
export const actionNames: ReadonlyArray<ActionName> = ["CREATE_BACKUP", "RESTORE", "DELETE_BACKUP"]

// -----------------------------------------------------------------------------
// JSON shapes
// -----------------------------------------------------------------------------

/**
 * BRO's JSON for one action (`GET /v1/backup-manager/{id}/action/{actionId}`).
 * `progressPercentage` is a fraction from 0 to 1, as BRO shows it. Absent
 * fields are left out when serialised, as BRO leaves out `null` ones.
 *
 * @since 0.1.0
 * @category encoding
 */
export const actionJson = (action: ActionRecord): ActionJson => ({
  id: action.id,
  name: action.name,
  result: action.result,
  payload: { backupName: action.backupName },
  additionalInfo: action.additionalInfo,
  progressInfo: action.progressInfo,
  resultInfo: action.resultInfo,
  state: action.state,
  progressPercentage: action.progressPercentage / 100,
  startTime: action.startTime,
  completionTime: action.completionTime,
  lastUpdateTime: action.lastUpdateTime
})

/**
 * BRO's JSON for one element of `GET /v1/backup-manager/{id}/action`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const actionSummaryJson = (action: ActionRecord): ActionSummaryJson => ({
  id: action.id,
  name: action.name,
  result: action.result,
  startTime: action.startTime
})

const softwareVersionJson = (version: RecordedSoftwareVersion): SoftwareVersionJson => ({
  productName: version.productName,
  productNumber: version.productNumber,
  productRevision: version.revision,
  date: version.productionDate,
  description: version.description,
  type: version.type,
  agentId: version.agentId,
  commercialVersion: version.commercialVersion,
  semanticVersion: version.semanticVersion
})

/**
 * Our JSON for one registered agent (`GET /v1/agents`, which BRO does not
 * have): what it registered with, its software version in BRO's field names.
 *
 * @since 0.1.0
 * @category encoding
 */
export const agentJson = (agent: RegisteredAgent): AgentJson => ({
  agentId: agent.agentId,
  apiVersion: agent.apiVersion,
  scope: agent.scope,
  features: agent.features,
  backendType: agent.backendType,
  softwareVersion: softwareVersionJson({ ...agent.softwareVersion, agentId: agent.agentId, apiVersion: agent.apiVersion })
})

/**
 * BRO's JSON for one backup (`GET /v1/backup-manager/{id}/backup/{name}`).
 * BRO names a backup's id after the backup; every backup made through the
 * API is `MANUAL` and has an empty user label.
 *
 * @since 0.1.0
 * @category encoding
 */
export const backupJson = (backup: BackupRecord): BackupJson => ({
  id: backup.name,
  name: backup.name,
  creationTime: backup.creationTime,
  creationType: "MANUAL",
  status: backup.status,
  userLabel: "",
  softwareVersions: backup.softwareVersions.map(softwareVersionJson)
})

/**
 * BRO's JSON for `GET /v1/health`: no ongoing action is `{}`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const healthJson = (health: Health): HealthJson => ({
  status: health.status,
  availability: health.availability,
  ongoingAction: health.ongoingAction === undefined
    ? {}
    : { actionId: health.ongoingAction.actionId, backupManagerId: health.ongoingAction.backupManagerId },
  registeredAgents: health.registeredAgents
})

/**
 * @since 0.1.0
 * @category encoding
 */
export const backupManagerJson = (manager: BackupManager): BackupManagerJson => ({
  id: manager.id,
  backupType: manager.backupType,
  backupDomain: manager.backupDomain
})

// -----------------------------------------------------------------------------
// Routes
// -----------------------------------------------------------------------------

const ok = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })

const formatParseError = (error: ParseResult.ParseError): string =>
  bounded(
    ParseResult.ArrayFormatter.formatErrorSync(error)
      .map((issue) => issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`)
      .join("; ")
  )

const isActionName = (name: string): name is ActionName => (actionNames as ReadonlyArray<string>).includes(name)

/**
 * The body limit in effect: the one `layer` sets through the platform's
 * `MaxBodySize`, or {@link defaultMaxBodySize} for an app served otherwise.
 */
const currentMaxBodySize = Effect.map(
  HttpIncomingMessage.MaxBodySize,
  Option.match({ onNone: () => defaultMaxBodySize, onSome: Number })
)

/** Refuses a request whose declared length is past the limit, before reading any of it. */
const refuseDeclaredOversize = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const maxBodySize = yield* currentMaxBodySize
  const declared = request.headers["content-length"]
  if (declared !== undefined && Number(declared) > maxBodySize) {
    return yield* new RequestBodyTooLarge({ maxBodySize })
  }
})

const unreadable = (cause: unknown) =>
  new InvalidRequestBody({ reason: `The request body cannot be read: ${bounded(describeCause(cause))}` })

/** The body's bytes as they arrive. */
const bodyChunks = (request: HttpServerRequest.HttpServerRequest): Stream.Stream<Uint8Array, InvalidRequestBody> => {
  const source = NodeHttpServerRequest.toIncomingMessage(request)
  // The platform's own reading (`request.text`, `request.stream`) destroys a
  // message it stops reading early, which resets the connection: the client
  // would see that instead of the 413. Node's message is left open instead,
  // and the 413 closes the connection once it is written.
  return source instanceof NodeHttp.IncomingMessage
    ? NodeStream.fromReadable<InvalidRequestBody, Uint8Array>(() => source, unreadable, { closeOnDone: false })
    : Stream.mapError(request.stream, (error) => unreadable(error.cause))
}

/** The body as text, refused as soon as it is past the limit: at most the limit is ever held. */
const readBodyText = Effect.gen(function*() {
  yield* refuseDeclaredOversize
  const request = yield* HttpServerRequest.HttpServerRequest
  const maxBodySize = yield* currentMaxBodySize
  const chunks: Array<Uint8Array> = []
  yield* Stream.runFoldEffect(bodyChunks(request), 0, (size, chunk) => {
    const total = size + chunk.length
    if (total > maxBodySize) return Effect.fail(new RequestBodyTooLarge({ maxBodySize }))
    chunks.push(chunk)
    return Effect.succeed(total)
  })
  return yield* Effect.try({
    try: () => new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)),
    catch: () => new InvalidRequestBody({ reason: "The request body is not valid UTF-8" })
  })
})

/**
 * Whether `text` nests arrays and objects deeper than `limit` levels, found by
 * counting brackets outside strings, without parsing: deep values overflow the
 * stack of whatever walks them later (the decoder's messages quote them).
 */
const nestsDeeperThan = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let index = 0; index < text.length; index++) {
    const character = text[index]
    if (inString) {
      if (character === "\\") index++
      else if (character === "\"") inString = false
    } else if (character === "\"") {
      inString = true
    } else if (character === "[" || character === "{") {
      depth++
      if (depth > limit) return true
    } else if (character === "]" || character === "}") {
      depth--
    }
  }
  return false
}

/** The body as JSON, refused when it is too large, too deep or not JSON. */
const readBodyJson = Effect.gen(function*() {
  const text = yield* readBodyText
  if (nestsDeeperThan(text, maxBodyNesting)) {
    return yield* new InvalidRequestBody({
      reason: `The request body nests arrays or objects deeper than ${maxBodyNesting} levels`
    })
  }
  return yield* Effect.try({
    try: (): unknown => JSON.parse(text),
    catch: (error) =>
      new InvalidRequestBody({ reason: `The request body is not valid JSON: ${bounded(describeCause(error))}` })
  })
})

const decodeActionRequest = Effect.gen(function*() {
  const body = yield* readBodyJson
  const decoded = yield* Effect.mapError(
    Schema.decodeUnknown(ActionRequestJson, { errors: "all" })(body),
    (error) => new InvalidRequestBody({ reason: `Invalid request body: ${formatParseError(error)}` })
  )
  const action = decoded.action
  if (!isActionName(action)) {
    return yield* new InvalidActionRequest({
      reason: `Unknown action "${bounded(action)}": expected one of ${actionNames.join(", ")}`
    })
  }
  return { action, backupName: decoded.payload.backupName }
})

const failure = (statusCode: number, message: string) => new ApiFailure({ statusCode, message })

type RequestFailure = ApiError | InvalidRequestBody | RequestBodyTooLarge

const statusOf = (error: RequestFailure): number => {
  switch (error._tag) {
    case "UnknownBackupManager":
    case "ActionNotFound":
    case "BackupNotFound":
      return 404
    case "InvalidActionRequest":
      return 422
    case "NoActionRunning":
      return 409
    case "InvalidRequestBody":
      return 400
    case "RequestBodyTooLarge":
      return 413
  }
}

/** A failure of the orchestrator, or of reading the request, as the API's error answer. */
const answered = <A, R>(effect: Effect.Effect<A, RequestFailure, R>): Effect.Effect<A, ApiFailure, R> =>
  Effect.mapError(effect, (error) => failure(statusOf(error), error.message))

const HealthLive = HttpApiBuilder.group(OrchestratorApi, "health", (handlers) =>
  handlers.handle("health", () => Effect.flatMap(Orchestrator, (orchestrator) => Effect.map(orchestrator.health, healthJson))))

const AgentsLive = HttpApiBuilder.group(OrchestratorApi, "agents", (handlers) =>
  handlers.handle("agents", () =>
    Effect.flatMap(Orchestrator, (orchestrator) =>
      Effect.map(orchestrator.agents, (agents) => ({ agents: agents.map(agentJson) })))))

const ManagersLive = HttpApiBuilder.group(OrchestratorApi, "managers", (handlers) =>
  handlers
    .handle("managers", () =>
      Effect.flatMap(Orchestrator, (orchestrator) =>
        Effect.map(orchestrator.managers, (managers) => ({ backupManagers: managers.map(backupManagerJson) }))))
    .handle("manager", ({ path }) =>
      Effect.flatMap(Orchestrator, (orchestrator) => answered(Effect.map(orchestrator.manager(path.id), backupManagerJson)))))

const ActionsLive = HttpApiBuilder.group(OrchestratorApi, "actions", (handlers) =>
  handlers
    // Raw: the body is read by `readBodyJson`, with its limits, then
    // decoded with the definition's own Schema.
    .handleRaw("startAction", ({ path }) =>
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        // An unknown manager is a 404 even when the body is wrong too.
        yield* answered(orchestrator.manager(path.id))
        const { action, backupName } = yield* answered(decodeActionRequest)
        const record = yield* answered(orchestrator.startAction(path.id, action, backupName))
        return ok({ id: record.id }, 201)
      }))
    .handle("actions", ({ path }) =>
      Effect.flatMap(Orchestrator, (orchestrator) =>
        answered(Effect.map(orchestrator.actions(path.id), (actions) => ({ actions: actions.map(actionSummaryJson) })))))
    .handle("action", ({ path }) =>
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        const record = yield* answered(orchestrator.action(path.id, path.actionId))
        const transfers = yield* orchestrator.transfers(record.id)
        return transfers.length === 0 ? actionJson(record) : { ...actionJson(record), transfers }
      }))
    .handle("cancelAction", ({ path }) =>
      Effect.flatMap(Orchestrator, (orchestrator) =>
        answered(
          Effect.zipRight(orchestrator.action(path.id, path.actionId), Effect.map(orchestrator.cancelAction(path.actionId), actionJson))
        ))))

const BackupsLive = HttpApiBuilder.group(OrchestratorApi, "backups", (handlers) =>
  handlers
    .handle("backups", ({ path }) =>
      Effect.flatMap(Orchestrator, (orchestrator) =>
        answered(Effect.map(orchestrator.backups(path.id), (backups) => ({ backups: backups.map(backupJson) })))))
    .handle("backup", ({ path }) =>
      Effect.flatMap(Orchestrator, (orchestrator) => answered(Effect.map(orchestrator.backup(path.id, path.backupName), backupJson))))
    .handle("verifyBackup", ({ path }) =>
      Effect.flatMap(Orchestrator, (orchestrator) => answered(orchestrator.verifyBackup(path.id, path.backupName)))))

const FaultsLive = HttpApiBuilder.group(OrchestratorApi, "faults", (handlers) =>
  handlers
    .handleRaw("addFault", () =>
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        const body = yield* answered(readBodyJson)
        const fault = yield* Schema.decodeUnknown(FaultSpec, { errors: "all" })(body).pipe(
          Effect.mapError((error) => failure(400, `Invalid fault: ${formatParseError(error)}`))
        )
        return ok(Schema.encodeSync(ArmedFault)(yield* orchestrator.faults.add(fault)), 201)
      }))
    .handle("faults", () => Effect.flatMap(Orchestrator, (orchestrator) => Effect.map(orchestrator.faults.armed, (faults) => ({ faults }))))
    .handle("clearFaults", () => Effect.flatMap(Orchestrator, (orchestrator) => Effect.map(orchestrator.faults.clear(), (cleared) => ({ cleared }))))
    .handle("clearFault", ({ path }) =>
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        const cleared = yield* orchestrator.faults.clear(path.id)
        if (cleared === 0) return yield* failure(404, `No fault ${bounded(path.id)} is armed`)
        return { cleared }
      })))

/**
 * The REST API's implementation of `OrchestratorApi`, on the `Orchestrator`
 * in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const apiLayer: Layer.Layer<HttpApi.Api, never, Orchestrator> = HttpApiBuilder.api(OrchestratorApi).pipe(
  Layer.provide([HealthLive, AgentsLive, ManagersLive, ActionsLive, BackupsLive, FaultsLive])
)

const errorResponse = (statusCode: number, message: string) =>
  HttpServerResponse.unsafeJson({ statusCode, message }, { status: statusCode })

// The rest of a body too large to read is still on its way: closing the
// connection drops it, where keeping it open would mean reading it all.
const closingAfter413 = (response: HttpServerResponse.HttpServerResponse) =>
  response.status === 413 ? HttpServerResponse.setHeader(response, "connection", "close") : response

/**
 * The REST API as an HTTP application, built from `OrchestratorApi` on the
 * `Orchestrator` in context: every failure answers `{"statusCode",
 * "message"}` (an unknown route 404); a bug answers 500 with its reason and
 * is logged with its trace. Bodies are limited to the platform's
 * `HttpIncomingMessage.MaxBodySize` ({@link defaultMaxBodySize} when it is not
 * set): a body declared larger answers 413 on any route, before it is read.
 *
 * @since 0.1.0
 * @category routes
 */
export const makeHttpApp: Effect.Effect<
  HttpApp.Default<never, HttpServerRequest.HttpServerRequest>,
  never,
  Orchestrator
> = Effect.gen(function*() {
  const app = yield* HttpApiBuilder.httpApp.pipe(
    Effect.provide(Layer.mergeAll(apiLayer, HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer))
  )
  const platform = yield* Layer.build(NodeHttpServer.layerContext)
  const served = Effect.provide(app, platform)
  return Effect.zipRight(refuseDeclaredOversize, served).pipe(
    Effect.map(closingAfter413),
    Effect.catchAllCause((cause) => {
      // A client that went away: there is nobody to answer.
      if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
      // The router's RouteNotFound is not in the app's type.
      const failed: Option.Option<unknown> = Cause.failureOption(cause)
      if (failed._tag === "Some") {
        const error = failed.value
        if (error instanceof RequestBodyTooLarge) return Effect.succeed(closingAfter413(errorResponse(413, error.message)))
        if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
          return Effect.succeed(errorResponse(404, `No route for ${error.request.method} ${bounded(error.request.url)}`))
        }
      }
      return Effect.as(
        Effect.logError("The REST API failed to answer", cause),
        errorResponse(500, `Internal error of the development orchestrator: ${reasonOf(cause)}`)
      )
    })
  )
}).pipe(Effect.scoped)

/**
 * Serves the REST API of the `Orchestrator` in context on `host:port`
 * (`127.0.0.1:7001` by default; port 0 takes a free port, which the
 * `OrchestratorHttp` service tells). The server closes with the Layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: HttpOptions = {}): Layer.Layer<OrchestratorHttp, HttpStartError, Orchestrator> => {
  const host = options.host ?? "127.0.0.1"
  const port = options.port ?? 7001
  const maxBodySize = options.maxBodySize ?? defaultMaxBodySize
  return Layer.scoped(
    OrchestratorHttp,
    Effect.gen(function*() {
      if (!Number.isSafeInteger(maxBodySize) || maxBodySize <= 0) {
        return yield* Effect.dieMessage(
          `HttpOptions.maxBodySize must be a positive whole number of bytes, not ${maxBodySize}`
        )
      }
      const server = yield* Effect.mapError(
        NodeHttpServer.make(() => NodeHttp.createServer(), { host, port }),
        (error) => new HttpStartError({ host, port, cause: error.cause })
      )
      const app = yield* makeHttpApp
      yield* server.serve(HttpIncomingMessage.withMaxBodySize(app, Option.some(maxBodySize)))
      const address = server.address
      return { host, port: address._tag === "TcpAddress" ? address.port : port }
    })
  )
}

const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)
