/**
 * What the three actions (`Backup.ts`, `Restore.ts`, `Delete.ts`) are given
 * and answer with.
 *
 * @since 0.1.0
 */
import type { Deferred, Effect } from "effect"
import type { AgentRegistry } from "../AgentRegistry.js"
import type { BackupRecords } from "../BackupRecords.js"
import type { RunningJob } from "./Job.js"
import type { StageRunner } from "./Stages.js"

/**
 * What an action needs from the runner.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActionContext {
  readonly registry: AgentRegistry["Type"]
  readonly backups: BackupRecords["Type"]
  readonly stages: StageRunner
  /** The time now, ISO-8601. */
  readonly now: Effect.Effect<string>
  /** Makes the job the running one: from now on the data calls see it. */
  readonly begin: (job: RunningJob) => Effect.Effect<void>
}

/**
 * The action asked for.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActionRequest {
  readonly id: string
  readonly manager: string
  readonly backupName: string
  /** Done when the user cancels the action. */
  readonly cancelled: Deferred.Deferred<void>
}

/**
 * How an action ended; `info` is for people (the action's result information).
 *
 * @since 0.1.0
 * @category models
 */
export interface ActionOutcome {
  readonly success: boolean
  readonly info: string
}
