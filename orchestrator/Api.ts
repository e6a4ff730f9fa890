/**
 * The development orchestrator's REST API, defined once with
 * `@effect/platform`'s `HttpApi`: its paths, the Schema of every JSON body
 * (BRO's REST v1 shapes), and its errors, all BRO's
 * `{"statusCode": n, "message": "..."}` with the same HTTP status. The server
 * (`Http.ts`) implements this definition and the command line's client
 * (`cli/Client.ts`) is derived from it, so neither keeps a shape of its own.
 *
 * The Schemas read leniently what a real BRO sends (unknown fields are
 * ignored, `null` counts as absent), so the derived client works against a
 * real BRO too, except on the routes marked as ours.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"
import { ArmedFault, FaultSpec } from "./Faults.js"
import { TransferJson } from "./Transfers.js"

const OptionalText = Schema.optionalWith(Schema.String, { nullable: true })

/**
 * A path parameter: taken as the router decoded it, percent-encoded when a
 * client puts it in a path (backup names hold spaces and punctuation).
 *
 * @since 0.1.0
 * @category schemas
 */
export const PathSegment = Schema.transform(Schema.String, Schema.String, {
  strict: true,
  decode: (segment) => segment,
  encode: (segment) => encodeURIComponent(segment)
})

/**
 * `GET /v1/health`: no ongoing action is `{}`.
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
 * A software version in BRO's field names, as a backup records it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SoftwareVersionJson = Schema.Struct({
  productName: OptionalText,
  productNumber: OptionalText,
  productRevision: OptionalText,
  date: OptionalText,
  description: OptionalText,
  type: OptionalText,
  agentId: OptionalText,
  commercialVersion: OptionalText,
  semanticVersion: OptionalText
})

/**
 * @since 0.1.0
 * @category models
 */
export type SoftwareVersionJson = typeof SoftwareVersionJson.Type

/**
 * One registered agent as it registered (`GET /v1/agents`, ours).
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
  softwareVersion: SoftwareVersionJson
})

/**
 * @since 0.1.0
 * @category models
 */
export type AgentJson = typeof AgentJson.Type

/**
 * One backup manager.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BackupManagerJson = Schema.Struct({
  id: Schema.String,
  backupType: OptionalText,
  backupDomain: OptionalText
})

/**
 * @since 0.1.0
 * @category models
 */
export type BackupManagerJson = typeof BackupManagerJson.Type

/**
 * One action (`GET /v1/backup-manager/{id}/action/{actionId}`);
 * `progressPercentage` is a fraction from 0 to 1, as BRO shows it.
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
  lastUpdateTime: OptionalText,
  /**
   * Ours, beside BRO's fields: the action's data calls, per agent and
   * fragment, with bytes done, rate and time left; absent while none started.
   */
  transfers: Schema.optional(Schema.Array(TransferJson))
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
 * One backup (`GET /v1/backup-manager/{id}/backup/{backupName}`).
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
  softwareVersions: Schema.optionalWith(Schema.Array(SoftwareVersionJson), { nullable: true, default: () => [] })
})

/**
 * @since 0.1.0
 * @category models
 */
export type BackupJson = typeof BackupJson.Type

/**
 * One stored file as `verify` read it back.
 *
 * @since 0.1.0
 * @category schemas
 */
export const VerifiedFileJson = Schema.Struct({
  file: Schema.Literal("BACKUP_FILE", "CUSTOM_METADATA_FILE"),
  name: Schema.String,
  size: Schema.Number,
  checksum: Schema.String,
  /** Why it failed; absent when it read back whole with its checksum. */
  problem: Schema.optional(Schema.String)
})

/**
 * One fragment as `verify` read it back.
 *
 * @since 0.1.0
 * @category schemas
 */
export const VerifiedFragmentJson = Schema.Struct({
  agentId: Schema.String,
  fragmentId: Schema.String,
  ok: Schema.Boolean,
  files: Schema.Array(VerifiedFileJson)
})

/**
 * What `POST /v1/backup-manager/{id}/backup/{backupName}/verify` (ours)
 * answers: each fragment's files read back and checked against their MD5,
 * and the backup's status afterwards (CORRUPTED when one failed).
 *
 * @since 0.1.0
 * @category schemas
 */
export const BackupVerificationJson = Schema.Struct({
  backupManagerId: Schema.String,
  backupName: Schema.String,
  ok: Schema.Boolean,
  status: Schema.String,
  fragments: Schema.Array(VerifiedFragmentJson)
})

/**
 * @since 0.1.0
 * @category models
 */
export type BackupVerificationJson = typeof BackupVerificationJson.Type

/**
 * The body of `POST /v1/backup-manager/{id}/action`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ActionRequestJson = Schema.Struct({
  action: Schema.String,
  payload: Schema.Struct({ backupName: Schema.String })
})

/**
 * What `POST /v1/backup-manager/{id}/action` answers (201).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ActionStartedJson = Schema.Struct({ id: Schema.String })

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * An error answer: BRO's `{"statusCode", "message"}`, with the same HTTP
 * status.
 *
 * @since 0.1.0
 * @category errors
 */
export class ApiFailure extends Schema.TaggedError<ApiFailure>()("ApiFailure", {
  statusCode: Schema.Number,
  message: Schema.String
}) {}

const ErrorBody = Schema.Struct({
  statusCode: Schema.optionalWith(Schema.Number, { nullable: true }),
  message: Schema.optionalWith(Schema.String, { nullable: true })
})

/** The error answer of one status: the body BRO sends, no `_tag` on the wire. */
const failureWithStatus = (status: number) =>
  Schema.transform(
    ErrorBody,
    Schema.declare((value: unknown): value is ApiFailure => value instanceof ApiFailure && value.statusCode === status),
    {
      strict: true,
      decode: (body) => new ApiFailure({ statusCode: status, message: body.message ?? `HTTP ${status}` }),
      encode: (failure) => ({ statusCode: failure.statusCode, message: failure.message })
    }
  ).annotations(HttpApiSchema.annotations({ status }))

/**
 * The statuses the API answers errors with: 400 a body that is not the
 * expected JSON, 404 an unknown manager, action, backup or route, 409 nothing
 * to cancel, 413 a body too large, 422 an action that cannot be taken as
 * asked, 500 a bug.
 *
 * @since 0.1.0
 * @category constants
 */
export const errorStatuses = [400, 404, 409, 413, 422, 500] as const

// -----------------------------------------------------------------------------
// Endpoints
// -----------------------------------------------------------------------------

const managerPath = Schema.Struct({ id: PathSegment })
const actionPath = Schema.Struct({ id: PathSegment, actionId: PathSegment })
const backupPath = Schema.Struct({ id: PathSegment, backupName: PathSegment })

/**
 * `GET /v1/health`.
 *
 * @since 0.1.0
 * @category groups
 */
export class HealthGroup extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("health", "/v1/health").addSuccess(HealthJson)
) {}

/**
 * `GET /v1/agents`: ours, a real BRO has no such route.
 *
 * @since 0.1.0
 * @category groups
 */
export class AgentsGroup extends HttpApiGroup.make("agents").add(
  HttpApiEndpoint.get("agents", "/v1/agents").addSuccess(Schema.Struct({ agents: Schema.Array(AgentJson) }))
) {}

/**
 * `GET /v1/backup-manager[/{id}]`.
 *
 * @since 0.1.0
 * @category groups
 */
export class ManagersGroup extends HttpApiGroup.make("managers")
  .add(
    HttpApiEndpoint.get("managers", "/v1/backup-manager").addSuccess(
      Schema.Struct({ backupManagers: Schema.Array(BackupManagerJson) })
    )
  )
  .add(HttpApiEndpoint.get("manager", "/v1/backup-manager/:id").setPath(managerPath).addSuccess(BackupManagerJson))
{}

/**
 * Actions: start one, list them, show one, and cancel the running one
 * (`.../cancel`, ours: a real BRO cannot cancel an action).
 *
 * @since 0.1.0
 * @category groups
 */
export class ActionsGroup extends HttpApiGroup.make("actions")
  .add(
    HttpApiEndpoint.post("startAction", "/v1/backup-manager/:id/action")
      .setPath(managerPath)
      .setPayload(ActionRequestJson)
      .addSuccess(ActionStartedJson, { status: 201 })
  )
  .add(
    HttpApiEndpoint.get("actions", "/v1/backup-manager/:id/action")
      .setPath(managerPath)
      .addSuccess(Schema.Struct({ actions: Schema.Array(ActionSummaryJson) }))
  )
  .add(HttpApiEndpoint.get("action", "/v1/backup-manager/:id/action/:actionId").setPath(actionPath).addSuccess(ActionJson))
  .add(
    HttpApiEndpoint.post("cancelAction", "/v1/backup-manager/:id/action/:actionId/cancel")
      .setPath(actionPath)
      .addSuccess(ActionJson)
  )
{}

/**
 * `GET /v1/backup-manager/{id}/backup[/{backupName}]`, and
 * `POST .../backup/{backupName}/verify` (ours: BRO cannot verify a backup).
 *
 * @since 0.1.0
 * @category groups
 */
export class BackupsGroup extends HttpApiGroup.make("backups")
  .add(
    HttpApiEndpoint.get("backups", "/v1/backup-manager/:id/backup")
      .setPath(managerPath)
      .addSuccess(Schema.Struct({ backups: Schema.Array(BackupJson) }))
  )
  .add(HttpApiEndpoint.get("backup", "/v1/backup-manager/:id/backup/:backupName").setPath(backupPath).addSuccess(BackupJson))
  .add(
    HttpApiEndpoint.post("verifyBackup", "/v1/backup-manager/:id/backup/:backupName/verify")
      .setPath(backupPath)
      .addSuccess(BackupVerificationJson)
  )
{}

/**
 * Faults on demand (ours): arm one (`POST /v1/faults`, 201 with the armed
 * fault), list those armed, clear all (`DELETE /v1/faults`) or one
 * (`DELETE /v1/faults/{id}`, 404 when no fault has that id).
 *
 * @since 0.1.0
 * @category groups
 */
export class FaultsGroup extends HttpApiGroup.make("faults")
  .add(HttpApiEndpoint.post("addFault", "/v1/faults").setPayload(FaultSpec).addSuccess(ArmedFault, { status: 201 }))
  .add(HttpApiEndpoint.get("faults", "/v1/faults").addSuccess(Schema.Struct({ faults: Schema.Array(ArmedFault) })))
  .add(HttpApiEndpoint.del("clearFaults", "/v1/faults").addSuccess(Schema.Struct({ cleared: Schema.Number })))
  .add(
    HttpApiEndpoint.del("clearFault", "/v1/faults/:id")
      .setPath(Schema.Struct({ id: PathSegment }))
      .addSuccess(Schema.Struct({ cleared: Schema.Number }))
  )
{}

/**
 * The whole REST API.
 *
 * @since 0.1.0
 * @category api
 */
export class OrchestratorApi extends HttpApi.make("bro-agent-orchestrator")
  .add(HealthGroup)
  .add(AgentsGroup)
  .add(ManagersGroup)
  .add(ActionsGroup)
  .add(BackupsGroup)
  .add(FaultsGroup)
  .addError(failureWithStatus(400))
  .addError(failureWithStatus(404))
  .addError(failureWithStatus(409))
  .addError(failureWithStatus(413))
  .addError(failureWithStatus(422))
  .addError(failureWithStatus(500))
{}
