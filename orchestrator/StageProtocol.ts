/**
 * The stage protocol between the control handler and the job runner. BRO's
 * stage-complete names no stage and no action id, so each control stream
 * remembers the last question the runner asked on it, and hands the runner
 * every stage-complete as a `StageAnswer` to that question. The runner
 * counts an answer only when it is to the running action's current stage
 * and from a participant it still awaits; any other (sent while idle, after
 * the stage timed out, to an earlier action or stage, a second one) is
 * dropped and logged.
 *
 * @since 0.1.0
 */
import type { ControlAction, Stage } from "../src/core/Action.js"

/**
 * A stage of a job, or its cancel round.
 *
 * @since 0.1.0
 * @category models
 */
export type JobStage = Stage | "CANCEL"

/**
 * What the runner asked an agent: a stage of an action.
 *
 * @since 0.1.0
 * @category models
 */
export interface StageQuestion {
  readonly actionId: string
  readonly stage: JobStage
}

/**
 * One stage-complete of a registered agent.
 *
 * @since 0.1.0
 * @category models
 */
export interface StageAnswer {
  /** The last question asked on the agent's stream; undefined when none was since it registered. */
  readonly question: StageQuestion | undefined
  /** The registered id of the stream's agent (not the message's field, which agents may leave empty). */
  readonly agentId: string
  /** The message's action (BACKUP or RESTORE, the job's; CANCEL is not one an agent answers with). */
  readonly action: ControlAction
  readonly success: boolean
  readonly message: string
}
