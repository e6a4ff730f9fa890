/**
 * A small client of BRO's REST v1 API (the subset the development
 * orchestrator offers), derived from its definition `OrchestratorApi`
 * (`orchestrator/Api.ts`) over @effect/platform's `HttpClient`. It reads
 * answers leniently (unknown fields are ignored, `null` counts as absent) so
 * that it works against a real BRO too, except for the routes only the
 * development orchestrator has (cancel, agents). Every request gives up
 * after its timeout.
 *
 * @since 0.1.0
 */
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import type * as HttpApiError from "@effect/platform/HttpApiError"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import { Data, Duration, Effect, ParseResult, Schema } from "effect"
import type {
  ActionJson,
  ActionSummaryJson,
  AgentJson,
  ApiFailure,
  BackupJson,
  BackupVerificationJson,
  HealthJson
} from "../orchestrator/Api.js"
import { OrchestratorApi } from "../orchestrator/Api.js"
import type { ArmedFault, FaultSpec } from "../orchestrator/Faults.js"
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

export {
  /**
   * `GET /v1/health`.
   *
   * @since 0.1.0
   * @category schemas
   */
  ActionJson,
  /**
   * One element of `GET /v1/backup-manager/{id}/action`.
   *
   * @since 0.1.0
   * @category schemas
   */
  ActionSummaryJson,
  /**
   * One element of `GET /v1/agents`.
   *
   * @since 0.1.0
   * @category schemas
   */
  AgentJson,
  /**
   * `GET /v1/backup-manager/{id}/backup/{backupName}`.
   *
   * @since 0.1.0
   * @category schemas
   */
  BackupJson,
  /**
   * `GET /v1/health`.
   *
   * @since 0.1.0
   * @category schemas
   */
  HealthJson
} from "../orchestrator/Api.js"

/**
 * The REST API of one orchestrator.
 *
 * @since 0.1.0
 * @category models
 */
export interface OrchestratorClient {
  /** The base URL, without a trailing `/`. */
  readonly url: string
  /** How long one request may take. */
  readonly requestTimeout: Duration.Duration
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
  /** Reads a backup's stored files back and checks them (the development orchestrator's extension). */
  readonly verifyBackup: (backupManagerId: string, backupName: string) => Effect.Effect<BackupVerificationJson, ClientError>
  /** Arms a fault (the development orchestrator's extension). */
  readonly addFault: (fault: FaultSpec) => Effect.Effect<ArmedFault, ClientError>
  /** The faults armed (the development orchestrator's extension). */
  readonly faults: Effect.Effect<ReadonlyArray<ArmedFault>, ClientError>
  /** Clears one fault, or all; how many were (the development orchestrator's extension). */
  readonly clearFaults: (id?: string) => Effect.Effect<number, ClientError>
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

const ErrorBody = Schema.parseJson(Schema.Struct({ message: Schema.String }))

/**
 * A client of the REST API at `url` (for example `http://127.0.0.1:7001`),
 * derived from `OrchestratorApi`: the requests and the Schemas that read the
 * answers are the definition's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  url: string,
  options: ClientOptions = {}
): Effect.Effect<OrchestratorClient, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const base = url.replace(/\/+$/, "")
    const timeout = Duration.decode(options.requestTimeout ?? Duration.seconds(30))
    const api = yield* HttpApiClient.make(OrchestratorApi, { baseUrl: base })

    /** One request: every failure as a `ClientError`, and no answer past the timeout. */
    const send = <A>(
      described: string,
      request: Effect.Effect<
        A,
        ApiFailure | HttpApiError.HttpApiDecodeError | HttpClientError.HttpClientError | ParseResult.ParseError
      >
    ): Effect.Effect<A, ClientError> =>
      request.pipe(
        Effect.catchAll((error): Effect.Effect<never, ClientError> => {
          switch (error._tag) {
            case "ApiFailure":
            case "HttpApiDecodeError":
              return Effect.fail(
                new OrchestratorRefused({
                  statusCode: error._tag === "ApiFailure" ? error.statusCode : 400,
                  reason: error.message
                })
              )
            case "RequestError":
              return Effect.fail(
                new OrchestratorApiUnreachable({ url: base, reason: transportReason(error.cause), cause: error })
              )
            case "ResponseError": {
              const status = error.response.status
              if (status >= 200 && status < 300) {
                return Effect.fail(new UnexpectedAnswer({ request: described, reason: "the body is not JSON", cause: error }))
              }
              // A status the definition does not name, or an error body it cannot read.
              return error.response.text.pipe(
                Effect.orElseSucceed(() => ""),
                Effect.flatMap((text) => {
                  const decoded = Schema.decodeUnknownOption(ErrorBody)(text)
                  return Effect.fail(
                    new OrchestratorRefused({
                      statusCode: status,
                      reason: decoded._tag === "Some" ? decoded.value.message : `${described} failed`
                    })
                  )
                })
              )
            }
            case "ParseError":
              return Effect.fail(
                new UnexpectedAnswer({
                  request: described,
                  reason: ParseResult.TreeFormatter.formatErrorSync(error).replace(/\s+/g, " "),
                  cause: error
                })
              )
          }
        }),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new OrchestratorApiUnreachable({ url: base, reason: `no answer within ${Duration.format(timeout)}` })
        })
      )

    const managerPath = (id: string) => `/v1/backup-manager/${encodeURIComponent(id)}`
    // The derived request type distributes over the union of fault kinds,
    // which a value of the union does not fit: it is any one of them.
    const addFault = api.faults.addFault as (request: { readonly payload: FaultSpec }) => Effect.Effect<
      ArmedFault,
      ApiFailure | HttpApiError.HttpApiDecodeError | HttpClientError.HttpClientError | ParseResult.ParseError
    >

    return {
      url: base,
      requestTimeout: timeout,
      health: send("GET /v1/health", api.health.health()),
      agents: Effect.map(send("GET /v1/agents", api.agents.agents()), (answer) => answer.agents),
      startAction: (id, action, backupName) =>
        Effect.map(
          send(
            `POST ${managerPath(id)}/action`,
            api.actions.startAction({ path: { id }, payload: { action, payload: { backupName } } })
          ),
          (started) => started.id
        ),
      action: (id, actionId) =>
        send(
          `GET ${managerPath(id)}/action/${encodeURIComponent(actionId)}`,
          api.actions.action({ path: { id, actionId } })
        ),
      actions: (id) =>
        Effect.map(send(`GET ${managerPath(id)}/action`, api.actions.actions({ path: { id } })), (answer) => answer.actions),
      cancelAction: (id, actionId) =>
        send(
          `POST ${managerPath(id)}/action/${encodeURIComponent(actionId)}/cancel`,
          api.actions.cancelAction({ path: { id, actionId } })
        ),
      backups: (id) =>
        Effect.map(send(`GET ${managerPath(id)}/backup`, api.backups.backups({ path: { id } })), (answer) => answer.backups),
      backup: (id, backupName) =>
        send(
          `GET ${managerPath(id)}/backup/${encodeURIComponent(backupName)}`,
          api.backups.backup({ path: { id, backupName } })
        ),
      verifyBackup: (id, backupName) =>
        send(
          `POST ${managerPath(id)}/backup/${encodeURIComponent(backupName)}/verify`,
          api.backups.verifyBackup({ path: { id, backupName } })
        ),
      addFault: (fault) => send("POST /v1/faults", addFault({ payload: fault })),
      faults: Effect.map(send("GET /v1/faults", api.faults.faults()), (answer) => answer.faults),
      clearFaults: (id) =>
        Effect.map(
          id === undefined
            ? send("DELETE /v1/faults", api.faults.clearFaults())
            : send(`DELETE /v1/faults/${encodeURIComponent(id)}`, api.faults.clearFault({ path: { id } })),
          (answer) => answer.cleared
        )
    }
  })
