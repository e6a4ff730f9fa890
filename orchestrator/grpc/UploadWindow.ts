/**
 * When a participant's fragments are taken: BRO's rule (in the backup's
 * execution; in its preparation too for an API 4.0 agent), checked when an
 * upload starts and again when it ends, since an upload can outlast its
 * stage (the stage timed out, another agent failed it) or its action. An
 * upload still open then is refused, and nothing of it is stored; a
 * participant's refused fragment fails the backup (`jobs/Stages.ts`).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { AgentConnection } from "../AgentRegistry.js"
import type { Job } from "../jobs/Job.js"
import type { JobStage } from "../StageProtocol.js"

/**
 * Whether a participant's fragments are taken in a stage of a backup.
 *
 * @since 0.1.0
 * @category rules
 */
export const takesFragments = (stage: JobStage | undefined, agent: AgentConnection): boolean =>
  stage === "EXECUTION" || (stage === "PREPARATION" && agent.info.apiVersion === "4.0")

/**
 * Why an upload of participant `agentId` for `job` that is ending now is
 * too late to be stored (`running` is the job running now), or undefined.
 *
 * @since 0.1.0
 * @category rules
 */
export const tooLate = (running: Job | undefined, job: Job, agentId: string): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    if (running !== job) return actionEnded(job)
    const stage = yield* job.stage
    const agent = job.participants.find((each) => each.info.agentId === agentId)
    return agent !== undefined && takesFragments(stage, agent)
      ? undefined
      : `The upload outlasted its stage: stage ${stage} takes no fragment of agent ${agentId}`
  })

/**
 * Why an upload still open when its action ended is refused.
 *
 * @since 0.1.0
 * @category rules
 */
export const actionEnded = (job: Job): string => `Action ${job.id} ended before the upload did`
