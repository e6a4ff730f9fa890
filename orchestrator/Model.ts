/**
 * What the development orchestrator keeps and shows: actions, backups,
 * backup managers and registered agents, in the shapes of BRO's REST v1 API,
 * the events it tells, and the errors its API answers (and its start fails) with.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { AgentFeature, BackendType } from "../src/core/Action.js"
import type { SoftwareVersionFields } from "../src/core/SoftwareVersion.js"
import type {
  BackupRecordJson,
  RecordedSoftwareVersionJson,
  StoredFileJson,
  StoredFragmentJson
} from "./storage/RecordJson.js"

/**
 * @since 0.1.0
 * @category models
 */
export type ActionName = "CREATE_BACKUP" | "RESTORE" | "DELETE_BACKUP"

/**
 * @since 0.1.0
 * @category models
 */
export type ActionResult = "SUCCESS" | "FAILURE" | "NOT_AVAILABLE"

/**
 * One action, as BRO's `GET /v1/backup-manager/{id}/action/{actionId}` shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActionRecord {
  readonly id: string
  readonly name: ActionName
  readonly backupManagerId: string
  readonly backupName: string
  readonly state: "RUNNING" | "FINISHED"
  readonly result: ActionResult
  /** 0 to 100 (BRO shows a fraction from 0 to 1; the HTTP layer converts). */
  readonly progressPercentage: number
  /** What happens now, or, on failure, which agent failed which stage and why. */
  readonly progressInfo: string | undefined
  readonly resultInfo: string | undefined
  readonly additionalInfo: string | undefined
  /** ISO-8601 times. */
  readonly startTime: string
  readonly completionTime: string | undefined
  readonly lastUpdateTime: string
}

/**
 * @since 0.1.0
 * @category models
 */
export type BackupStatus = BackupRecord["status"]

/**
 * A file the orchestrator stored.
 *
 * @since 0.1.0
 * @category models
 */
export type StoredFile = typeof StoredFileJson.Type

/**
 * A fragment the orchestrator stored.
 *
 * @since 0.1.0
 * @category models
 */
export type StoredFragment = typeof StoredFragmentJson.Type

/**
 * The software version an agent registered with, recorded in a backup.
 *
 * @since 0.1.0
 * @category models
 */
export type RecordedSoftwareVersion = typeof RecordedSoftwareVersionJson.Type

/**
 * One backup: the JSON record kept beside its files.
 *
 * @since 0.1.0
 * @category models
 */
export type BackupRecord = typeof BackupRecordJson.Type

/**
 * @since 0.1.0
 * @category models
 */
export interface BackupManager {
  readonly id: string
  readonly backupType: string
  readonly backupDomain: string
}

/**
 * An agent with an open control stream and a valid registration.
 *
 * @since 0.1.0
 * @category models
 */
export interface RegisteredAgent {
  readonly agentId: string
  /** The backup managers named in its scope (DEFAULT is implied). */
  readonly scope: ReadonlyArray<string>
  readonly apiVersion: string
  readonly softwareVersion: SoftwareVersionFields
  /** The features it registered with (API 4.0 sends them; earlier versions none). */
  readonly features: ReadonlyArray<AgentFeature>
  /** Where it says its backups go (API 4.0; `BRO` otherwise). */
  readonly backendType: BackendType
}

/**
 * `GET /v1/health`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Health {
  readonly status: "Healthy"
  readonly availability: "Available" | "Busy"
  readonly ongoingAction: { readonly actionId: string; readonly backupManagerId: string } | undefined
  readonly registeredAgents: ReadonlyArray<string>
}

/**
 * Something that happened, for people watching (the CLI logs these).
 *
 * @since 0.1.0
 * @category models
 */
export type OrchestratorEvent = Data.TaggedEnum<{
  AgentRegistered: { readonly agentId: string; readonly apiVersion: string; readonly scope: ReadonlyArray<string> }
  AgentRejected: { readonly agentId: string; readonly status: string; readonly reasons: ReadonlyArray<string> }
  AgentDisconnected: { readonly agentId: string }
  ActionStarted: { readonly action: ActionRecord }
  StageStarted: { readonly actionId: string; readonly stage: string; readonly agents: ReadonlyArray<string> }
  StageCompleted: {
    readonly actionId: string
    readonly stage: string
    readonly agentId: string
    readonly success: boolean
    readonly message: string
  }
  FragmentStored: {
    readonly actionId: string
    readonly agentId: string
    readonly fragmentId: string
    readonly size: number
  }
  FragmentRefused: { readonly agentId: string; readonly fragmentId: string; readonly reason: string }
  ActionFinished: { readonly action: ActionRecord }
}>

/**
 * @since 0.1.0
 * @category constructors
 */
export const OrchestratorEvent = Data.taggedEnum<OrchestratorEvent>()

/**
 * No backup manager has that id (HTTP 404).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownBackupManager extends Data.TaggedError("UnknownBackupManager")<{ readonly id: string }> {
  override get message(): string {
    return `Backup manager ${this.id} does not exist`
  }
}

/**
 * No action has that id (HTTP 404).
 *
 * @since 0.1.0
 * @category errors
 */
export class ActionNotFound extends Data.TaggedError("ActionNotFound")<{ readonly id: string }> {
  override get message(): string {
    return `Action ${this.id} does not exist`
  }
}

/**
 * No backup has that name in that manager (HTTP 404).
 *
 * @since 0.1.0
 * @category errors
 */
export class BackupNotFound extends Data.TaggedError("BackupNotFound")<{
  readonly backupManagerId: string
  readonly backupName: string
}> {
  override get message(): string {
    return `Backup ${this.backupName} does not exist in backup manager ${this.backupManagerId}`
  }
}

/**
 * The action asked for cannot be taken as asked (HTTP 422): an invalid backup
 * name, an unknown action, a backup name that is already used.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidActionRequest extends Data.TaggedError("InvalidActionRequest")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/**
 * No action is running, so there is nothing to cancel (HTTP 409).
 *
 * @since 0.1.0
 * @category errors
 */
export class NoActionRunning extends Data.TaggedError("NoActionRunning")<{}> {
  override get message(): string {
    return "No action is running"
  }
}

/**
 * The orchestrator could not start: bad options, a port in use, a storage
 * folder it cannot use.
 *
 * @since 0.1.0
 * @category errors
 */
export class OrchestratorStartError extends Data.TaggedError("OrchestratorStartError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The development orchestrator could not start: ${this.reason}`
  }
}

/**
 * The errors the orchestrator's API answers with.
 *
 * @since 0.1.0
 * @category errors
 */
export type ApiError = UnknownBackupManager | ActionNotFound | BackupNotFound | InvalidActionRequest | NoActionRunning

export {
  /**
   * The rule for backup names: BRO's (not blank, not `.` or `..`, only
   * letters, digits, white space and `_+-=:.`, at most 200 characters), and
   * at most 255 bytes of UTF-8 (`Names.ts`, where every name rule lies). The
   * reason, or `undefined` when the name is valid.
   *
   * @since 0.1.0
   * @category validation
   */
  backupNameProblem
} from "./Names.js"
