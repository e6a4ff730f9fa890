/**
 * RESTORE, as BRO runs it: only a COMPLETE backup, and only when every agent
 * with data in it is registered (those agents alone take part); PREPARATION
 * (each agent is sent its recorded software version and its fragments: in
 * the message under API 2.0/3.0, as entries after it under 4.0), EXECUTION
 * (the agents download over the data channel) and POST_ACTIONS.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { FragmentInformation } from "../../src/core/Fragment.js"
import { OrchestratorMessage } from "../../src/core/Message.js"
import type { AgentConnection } from "../AgentRegistry.js"
import { managerMeaning } from "../AgentRegistry.js"
import type { StoredFragment } from "../Model.js"
import type { ActionContext, ActionOutcome, ActionRequest } from "./Action.js"
import * as Job from "./Job.js"
import type { Stages } from "./Stages.js"

const placeholder = FragmentInformation.make({ fragmentId: "", version: "", sizeInBytes: "", customInformation: {} })

const fragmentInformation = (fragment: StoredFragment) =>
  FragmentInformation.make({
    fragmentId: fragment.fragmentId,
    version: fragment.version,
    sizeInBytes: fragment.sizeInBytes,
    customInformation: { ...fragment.customInformation }
  })

/**
 * Restores a backup.
 *
 * @since 0.1.0
 * @category actions
 */
export const restore = (context: ActionContext, request: ActionRequest): Effect.Effect<ActionOutcome> =>
  Effect.gen(function*() {
    const { backupName, manager } = request
    const backup = yield* context.backups.find(manager, backupName)
    if (backup === undefined) return { success: false, info: `Backup ${backupName} does not exist in ${manager}` }
    if (backup.status !== "COMPLETE") {
      return { success: false, info: `Backup ${backupName} is ${backup.status}: only a COMPLETE backup can be restored` }
    }
    const registered = new Map((yield* context.registry.agents).map((agent) => [agent.info.agentId, agent]))
    const missing = backup.softwareVersions.filter((version) => !registered.has(version.agentId))
    if (missing.length > 0) {
      return {
        success: false,
        info: `The agents of backup ${backupName} must be registered; missing: ${missing.map((m) => m.agentId).join(", ")}`
      }
    }
    const participants = backup.softwareVersions
      .flatMap((version) => {
        const agent = registered.get(version.agentId)
        return agent === undefined ? [] : [agent]
      })
      .sort((a, b) => a.order - b.order)
    const meaning = managerMeaning(manager, participants.map((agent) => agent.info))
    const job = yield* Job.make({ id: request.id, kind: "RESTORE", manager, backupName, participants, restoring: backup })
    yield* context.begin(job)
    const preparationFor = (agent: AgentConnection): ReadonlyArray<OrchestratorMessage> => {
      const fragments = backup.fragments.filter((f) => f.agentId === agent.info.agentId).map(fragmentInformation)
      const version = backup.softwareVersions.find((v) => v.agentId === agent.info.agentId)
      const { agentId: _agentId, apiVersion: _apiVersion, ...softwareVersion } = version ?? {
        agentId: "",
        apiVersion: "",
        ...agent.info.softwareVersion
      }
      const entries = agent.info.apiVersion === "4.0"
      const preparation = OrchestratorMessage.Preparation({
        action: "RESTORE",
        backupName,
        backupType: meaning.backupType,
        softwareVersion,
        fragments: entries ? (fragments.length > 0 ? [placeholder] : []) : fragments
      })
      if (!entries) return [preparation]
      return [
        preparation,
        ...fragments.map((fragment, index) =>
          OrchestratorMessage.FragmentListEntry({ action: "RESTORE", fragment, last: index === fragments.length - 1 })
        )
      ]
    }
    const stages: Stages = [
      ["PREPARATION", preparationFor],
      ["EXECUTION", () => [OrchestratorMessage.Execution({ action: "RESTORE" })]],
      ["POST_ACTIONS", () => [OrchestratorMessage.PostActions({ action: "RESTORE" })]]
    ]
    const failure = yield* context.stages.runStages(job, "RESTORE", stages, request.cancelled, () => true)
    return failure === undefined
      ? { success: true, info: `Backup ${backupName} is restored` }
      : { success: false, info: failure }
  })
