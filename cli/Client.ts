/**
 * A small client of BRO's REST v1 API (the subset the development
 * orchestrator offers, see `orchestrator/Http.ts`), over @effect/platform's
 * `HttpClient`. It reads answers leniently (unknown fields are ignored,
 * `null` counts as absent) so that it works against a real BRO too, except
 * for the cancel route, which only the development orchestrator has.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Data, Duration, Effect, ParseResult, Schema } from "effect"
import type { ActionName } from "../orchestrator/Model.js"

/**
 * Nothing answers at the URL (connection refused, unknown host, no answer
 * in time).
 *
 * @since 0.1.0
 * @category errors
 */
export class OrchestratorApiUnreachable extends Data.TaggedError("OrchestratorApiUnreachable")<{
  readonly url: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Cannot reach the orchestrator at ${this.url} (${this.reason})`
  }
}

/**
 * The orchestrator answered with an error status (`{"statusCode", "message"}`).
 *
 * @since 0.1.0
 * @category errors
 */
export class OrchestratorRefused extends Data.TaggedError("OrchestratorRefused")<{
  readonly statusCode: number
  readonly reason: string
}> {
  override get message(): string {
    return `The orchestrator answered ${this.statusCode}: ${this.reason}`
  }
}

/**
 * The orchestrator answered something this client cannot read.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedAnswer extends Data.TaggedError("UnexpectedAnswer")<{
  readonly request: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Unexpected answer to ${this.request}: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type ClientError = OrchestratorApiUnreachable | OrchestratorRefused | UnexpectedAnswer

const OptionalText = Schema.optionalWith(Schema.String, { nullable: true })

/**
 * `GET /v1/health`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HealthJson = Schema.Struct({
  status: Schema.String,
  availability: Schema.String,
  ongoingAction: Schema.optionalWith(
    Schema.Struct({ actionId: OptionalText, backupManagerId: OptionalText }),
    { nullable: true }
  ),
  registeredAgents: Schema.optionalWith(Schema.Array(Schema.String), { nullable: true, default: () => [] })
})

/**
 * @since 0.1.0
 * @category models
 */
export type HealthJson = typeof HealthJson.Type

/**
 * `GET /v1/backup-manager/{id}/action/{actionId}`; `progressPercentage` is a
 * fraction from 0 to 1.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ActionJson = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  result: Schema.String,
  payload: Schema.optionalWith(Schema.Struct({ backupName: OptionalText }), { nullable: true }),
  additionalInfo: OptionalText,
  progressInfo: OptionalText,
  resultInfo: OptionalText,
  state: Schema.String,
  progressPercentage: Schema.optionalWith(Schema.Number, { nullable: true, default: () => 0 }),
  startTime: OptionalText,
  completionTime: OptionalText,
  lastUpdateTime: OptionalText
})

/**
 * @since 0.1.0
 * @category models
 */
export type ActionJson = typeof ActionJson.Type

/**
 * One element of `GET /v1/backup-manager/{id}/action`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ActionSummaryJson = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  result: Schema.String,
  startTime: OptionalText
})

/**
 * @since 0.1.0
 * @category models
 */
export type ActionSummaryJson = typeof ActionSummaryJson.Type

/**
 * `GET /v1/backup-manager/{id}/backup/{backupName}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BackupJson = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  creationTime: OptionalText,
  creationType: OptionalText,
  status: Schema.String,
  userLabel: OptionalText,
  softwareVersions: Schema.optionalWith(
    Schema.Array(Schema.Struct({ agentId: OptionalText, productName: OptionalText, productRevision: OptionalText })),
    { nullable: true, default: () => [] }
  )
})

/**
 * @since 0.1.0
 * @category models
 */
export type BackupJson = typeof BackupJson.Type

/**
 * One element of `GET /v1/agents` (the development orchestrator's; a real BRO
 * has no such route).
 *
 * @since 0.1.0
 * @category schemas
 */
export const AgentJson = Schema.Struct({
  agentId: Schema.String,
  apiVersion: Schema.String,
  scope: Schema.Array(Schema.String),
  features: Schema.Array(Schema.String),
  backendType: Schema.String,
  softwareVersion: Schema.Struct({
    productName: Schema.String,
    productNumber: Schema.String,
    productRevision: Schema.String,
    date: Schema.String,
    description: Schema.String,
    type: Schema.String,
    commercialVersion: Schema.String,
    semanticVersion: Schema.String
  })
})

/**
 * @since 0.1.0
 * @category models
 */
export type AgentJson = typeof AgentJson.Type

const AgentsJson = Schema.Struct({ agents: Schema.Array(AgentJson) })

const ErrorJson = Schema.Struct({ statusCode: Schema.Number, message: Schema.String })
const StartedJson = Schema.Struct({ id: Schema.String })
const ActionsJson = Schema.Struct({ actions: Schema.Array(ActionSummaryJson) })
const BackupsJson = Schema.Struct({ backups: Schema.Array(BackupJson) })

/**
 * The REST API of one orchestrator.
 *
 * @since 0.1.0
 * @category models
 */
export interface OrchestratorClient {
  /** The base URL, without a trailing `/`. */
  readonly url: string
  readonly health: Effect.Effect<HealthJson, ClientError>
  /** The registered agents as they registered; the development orchestrator's extension. */
  readonly agents: Effect.Effect<ReadonlyArray<AgentJson>, ClientError>
  /** Asks for an action and returns its id. */
  readonly startAction: (
    backupManagerId: string,
    action: ActionName,
    backupName: string
  ) => Effect.Effect<string, ClientError>
  readonly action: (backupManagerId: string, actionId: string) => Effect.Effect<ActionJson, ClientError>
  readonly actions: (backupManagerId: string) => Effect.Effect<ReadonlyArray<ActionSummaryJson>, ClientError>
  /** The development orchestrator's extension; a real BRO answers 404. */
  readonly cancelAction: (backupManagerId: string, actionId: string) => Effect.Effect<ActionJson, ClientError>
  readonly backups: (backupManagerId: string) => Effect.Effect<ReadonlyArray<BackupJson>, ClientError>
  readonly backup: (backupManagerId: string, backupName: string) => Effect.Effect<BackupJson, ClientError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** How long to wait for one answer before giving up; 30 seconds by default. */
  readonly requestTimeout?: Duration.DurationInput
}

/** The innermost message of a transport failure: fetch says only "fetch failed". */
const transportReason = (cause: unknown): string => {
  let current: unknown = cause
  let reason = "no answer"
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    // Node's connection errors to several addresses are an AggregateError
    // with an empty message and a code.
    const code: unknown = "code" in current ? current.code : undefined
    if (current.message.length > 0) reason = current.message
    else if (typeof code === "string") reason = code
    current = current.cause
  }
  return reason
}

/**
 * A client of the REST API at `url` (for example `http://127.0.0.1:7001`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  url: string,
  options: ClientOptions = {}
): Effect.Effect<OrchestratorClient, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const base = url.replace(/\/+$/, "")
    const timeout = options.requestTimeout ?? Duration.seconds(30)
    const managerPath = (id: string) => `/v1/backup-manager/${encodeURIComponent(id)}`

    const send = <A, I>(
      request: HttpClientRequest.HttpClientRequest,
      schema: Schema.Schema<A, I>
    ): Effect.Effect<A, ClientError> => {
      const described = `${request.method} ${request.url}`
      const unreadable = (cause: unknown) =>
        new UnexpectedAnswer({ request: described, reason: transportReason(cause), cause })
      const readBody = (response: HttpClientResponse.HttpClientResponse) =>
        Effect.mapError(response.json, (error: HttpClientError.ResponseError) =>
          new UnexpectedAnswer({ request: described, reason: "the body is not JSON", cause: error }))
      return client.execute(request).pipe(
        Effect.mapError((error): ClientError =>
          error._tag === "RequestError"
            ? new OrchestratorApiUnreachable({ url: base, reason: transportReason(error.cause), cause: error })
            : unreadable(error)
        ),
        Effect.flatMap((response): Effect.Effect<A, ClientError> => {
          if (response.status >= 200 && response.status < 300) {
            return Effect.flatMap(readBody(response), (body) =>
              Effect.mapError(
                Schema.decodeUnknown(schema)(body),
                (error) =>
                  new UnexpectedAnswer({
                    request: described,
                    reason: ParseResult.TreeFormatter.formatErrorSync(error).replace(/\s+/g, " "),
                    cause: error
                  })
              ))
          }
          return response.text.pipe(
            Effect.orElseSucceed(() => ""),
            Effect.flatMap((text) => {
              const decoded = Schema.decodeUnknownOption(Schema.parseJson(ErrorJson))(text)
              return Effect.fail(
                new OrchestratorRefused({
                  statusCode: response.status,
                  reason: decoded._tag === "Some" ? decoded.value.message : `${described} failed`
                })
              )
            })
          )
        }),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new OrchestratorApiUnreachable({ url: base, reason: `no answer within ${Duration.format(timeout)}` })
        })
      )
    }

    const get = <A, I>(path: string, schema: Schema.Schema<A, I>) => send(HttpClientRequest.get(base + path), schema)

    return {
      url: base,
      health: get("/v1/health", HealthJson),
      agents: Effect.map(get("/v1/agents", AgentsJson), (answer) => answer.agents),
      startAction: (backupManagerId, action, backupName) =>
        send(
          HttpClientRequest.post(`${base}${managerPath(backupManagerId)}/action`).pipe(
            HttpClientRequest.bodyUnsafeJson({ action, payload: { backupName } })
          ),
          StartedJson
        ).pipe(Effect.map((started) => started.id)),
      action: (backupManagerId, actionId) =>
        get(`${managerPath(backupManagerId)}/action/${encodeURIComponent(actionId)}`, ActionJson),
      actions: (backupManagerId) =>
        Effect.map(get(`${managerPath(backupManagerId)}/action`, ActionsJson), (answer) => answer.actions),
      cancelAction: (backupManagerId, actionId) =>
        send(
          HttpClientRequest.post(
            `${base}${managerPath(backupManagerId)}/action/${encodeURIComponent(actionId)}/cancel`
          ),
          ActionJson
        ),
      backups: (backupManagerId) =>
        Effect.map(get(`${managerPath(backupManagerId)}/backup`, BackupsJson), (answer) => answer.backups),
      backup: (backupManagerId, backupName) =>
        get(`${managerPath(backupManagerId)}/backup/${encodeURIComponent(backupName)}`, BackupJson)
    }
  })
