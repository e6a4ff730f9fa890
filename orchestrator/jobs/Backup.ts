/**
 * CREATE_BACKUP, as BRO runs it: the agents of the backup manager take part
 * (fixed when it starts); PREPARATION, EXECUTION (the fragments arrive over
 * the data channel) and POST_ACTIONS; API 2.0 agents know one stage and get
 * their preparation while the others execute. The backup is INCOMPLETE while
 * it is made, COMPLETE when every agent succeeded, CORRUPTED otherwise.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import { Effect } from "effect"
import { OrchestratorMessage } from "../../src/core/Message.js"
import type { AgentConnection } from "../AgentRegistry.js"
import { belongsTo, managerMeaning } from "../AgentRegistry.js"
import type { BackupRecord, RecordedSoftwareVersion } from "../Model.js"
import type { ActionContext, ActionOutcome, ActionRequest } from "./Action.js"
import * as Job from "./Job.js"
import type { Stages } from "./Stages.js"

const isOld = (agent: AgentConnection) => agent.info.apiVersion === "2.0"

/**
 * Creates a backup.
 *
 * @since 0.1.0
 * @category actions
 */
export const createBackup = (
  context: ActionContext,
  request: ActionRequest
): Effect.Effect<ActionOutcome, PlatformError> =>
  Effect.gen(function*() {
    const { backupName, manager } = request
    if ((yield* context.backups.find(manager, backupName)) !== undefined) {
      return { success: false, info: `A backup named ${backupName} already exists in ${manager}` }
    }
    const registered = yield* context.registry.agents
    const meaning = managerMeaning(manager, registered.map((agent) => agent.info))
    const participants = registered.filter((agent) => belongsTo(agent.info, manager, meaning))
    if (participants.length === 0) {
      return { success: false, info: `No agent is registered for backup manager ${manager}` }
    }
    const softwareVersions: Array<RecordedSoftwareVersion> = participants.map((agent) => ({
      agentId: agent.info.agentId,
      apiVersion: agent.info.apiVersion,
      ...agent.info.softwareVersion
    }))
    const incomplete: BackupRecord = {
      name: backupName,
      backupManagerId: manager,
      status: "INCOMPLETE",
      creationTime: yield* context.now,
      softwareVersions,
      fragments: []
    }
    yield* context.backups.save(incomplete)
    const job = yield* Job.make({ id: request.id, kind: "CREATE_BACKUP", manager, backupName, participants, restoring: undefined })
    yield* context.begin(job)
    const preparation = OrchestratorMessage.Preparation({
      action: "BACKUP",
      backupName,
      backupType: meaning.backupType,
      softwareVersion: undefined,
      fragments: []
    })
    const stages: Stages = [
      ["PREPARATION", (agent) => (isOld(agent) ? [] : [preparation])],
      // 2.0 agents know one stage: their preparation comes while the others execute.
      ["EXECUTION", (agent) => (isOld(agent) ? [preparation] : [OrchestratorMessage.Execution({ action: "BACKUP" })])],
      ["POST_ACTIONS", (agent) => (isOld(agent) ? [] : [OrchestratorMessage.PostActions({ action: "BACKUP" })])]
    ]
    // A failed backup sends no cancel to 2.0 agents.
    const failure = yield* context.stages.runStages(job, "BACKUP", stages, request.cancelled, (agent) => !isOld(agent))
    const fragments = yield* job.takeFragments
    yield* context.backups.save({ ...incomplete, status: failure === undefined ? "COMPLETE" : "CORRUPTED", fragments })
    return failure === undefined
      ? { success: true, info: `Backup ${backupName} is complete` }
      : { success: false, info: failure }
  })
