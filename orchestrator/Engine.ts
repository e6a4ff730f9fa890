/**
 * The development orchestrator's actions, as BRO runs them: one at a time,
 * in the order asked; each stage sent to every participant at once and
 * awaited from all of them; on any failure, a cancel round; backups recorded
 * COMPLETE only when every agent succeeded.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { Scope } from "effect"
import {
  Deferred,
  Duration,
  Effect,
  Option,
  PubSub,
  Queue,
  Ref,
  Stream,
  SubscriptionRef
} from "effect"
import type { Stage } from "../src/core/Action.js"
import { FragmentInformation } from "../src/core/Fragment.js"
import type { AgentMessage } from "../src/core/Message.js"
import { OrchestratorMessage } from "../src/core/Message.js"
import type {
  ActionName,
  ActionRecord,
  BackupManager,
  BackupRecord,
  OrchestratorEvent,
  RecordedSoftwareVersion,
  StoredFragment
} from "./Model.js"
import {
  ActionNotFound,
  backupNameProblem,
  BackupNotFound,
  InvalidActionRequest,
  NoActionRunning,
  OrchestratorEvent as Events,
  UnknownBackupManager
} from "./Model.js"
import type { Orchestrator } from "./Orchestrator.js"
import type { AgentConnection } from "./Registry.js"
import { belongsTo } from "./Registry.js"
import type { Storage } from "./Storage.js"

/**
 * How one participant is doing in the current stage of a job.
 *
 * @since 0.1.0
 * @category models
 */
export interface Participation {
  /** Data-channel calls of this agent still open: the stage waits for them. */
  readonly openStreams: SubscriptionRef.SubscriptionRef<number>
  /** Why a fragment of this agent failed in the current stage, if one did. */
  readonly fragmentFailure: Ref.Ref<string | undefined>
}

/**
 * The running action.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly id: string
  readonly kind: "CREATE_BACKUP" | "RESTORE"
  readonly manager: string
  readonly backupName: string
  readonly participants: ReadonlyArray<AgentConnection>
  readonly stage: Ref.Ref<Stage | "CANCEL">
  readonly participation: ReadonlyMap<string, Participation>
  /** A backup's fragments as they arrive, by `agentId/fragmentId`. */
  readonly fragments: Ref.Ref<ReadonlyMap<string, StoredFragment>>
  /** A restore's backup. */
  readonly restoring: BackupRecord | undefined
}

/**
 * Everything the orchestrator holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly storage: Storage
  readonly fileSystem: FileSystem.FileSystem
  readonly events: PubSub.PubSub<OrchestratorEvent>
  readonly agents: Ref.Ref<ReadonlyMap<string, AgentConnection>>
  readonly registrations: Ref.Ref<number>
  readonly backups: Ref.Ref<ReadonlyMap<string, BackupRecord>>
  readonly job: Ref.Ref<Job | undefined>
  readonly stageTimeout: Duration.Duration
  readonly chunkSize: number
}

const backupKey = (manager: string, name: string) => `${manager}/${name}`

const now = () => new Date().toISOString()

const publish = (state: State, event: OrchestratorEvent) => PubSub.publish(state.events, event)

interface StageOutcome {
  readonly agentId: string
  readonly success: boolean
  readonly message: string
}

const placeholder = FragmentInformation.make({ fragmentId: "", version: "", sizeInBytes: "", customInformation: {} })

const fragmentInformation = (fragment: StoredFragment) =>
  FragmentInformation.make({
    fragmentId: fragment.fragmentId,
    version: fragment.version,
    sizeInBytes: fragment.sizeInBytes,
    customInformation: { ...fragment.customInformation }
  })

/**
 * Builds the orchestrator's API on its state, and starts the worker that
 * runs the queued actions (in the given scope).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  state: State,
  server: { readonly host: string; readonly port: number }
): Effect.Effect<Orchestrator["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const records = new Map<string, SubscriptionRef.SubscriptionRef<ActionRecord>>()
    const order: Array<string> = []
    const pending = yield* Queue.unbounded<string>()
    const cancelRequest = yield* Ref.make<Deferred.Deferred<void> | undefined>(undefined)
    const running = yield* Ref.make<string | undefined>(undefined)

    const managers = Effect.gen(function*() {
      const ids = new Set<string>(["DEFAULT"])
      for (const agent of (yield* Ref.get(state.agents)).values()) for (const id of agent.info.scope) ids.add(id)
      for (const backup of (yield* Ref.get(state.backups)).values()) ids.add(backup.backupManagerId)
      return [...ids].sort().map((id): BackupManager => ({ id, backupType: id, backupDomain: "" }))
    })

    const manager = (id: string) =>
      Effect.flatMap(managers, (all) => {
        const found = all.find((each) => each.id === id)
        return found === undefined ? Effect.fail(new UnknownBackupManager({ id })) : Effect.succeed(found)
      })

    const update = (id: string, change: (record: ActionRecord) => Partial<ActionRecord>) => {
      const ref = records.get(id)
      return ref === undefined
        ? Effect.void
        : SubscriptionRef.update(ref, (record) => ({ ...record, ...change(record), lastUpdateTime: now() }))
    }

    const newId = (): string => {
      for (;;) {
        const id = String(Math.floor(Math.random() * 65536))
        if (!records.has(id)) return id
      }
    }

    // -------------------------------------------------------------------
    // Stages
    // -------------------------------------------------------------------

    // The next stage-complete of the agent that counts: one with `action`
    // (any action when undefined); others are ignored, as BRO does.
    const nextStageComplete = (
      agent: AgentConnection,
      action: "BACKUP" | "RESTORE" | undefined
    ): Effect.Effect<Extract<AgentMessage, { _tag: "StageComplete" }>> =>
      Queue.take(agent.stageCompletes).pipe(
        Effect.repeat({ until: (message) => action === undefined || message.action === action })
      )

    const awaitAgent = (job: Job, agent: AgentConnection, stage: Stage, action: "BACKUP" | "RESTORE") =>
      Effect.gen(function*() {
        const agentId = agent.info.agentId
        const participation = job.participation.get(agentId)
        const answer = yield* Effect.raceFirst(
          Effect.map(nextStageComplete(agent, action), (message) => ({ success: message.success, message: message.message })),
          Effect.as(Deferred.await(agent.disconnected), { success: false, message: "Agent Disconnected" })
        )
        if (participation !== undefined) {
          // The stage ends for the agent once no fragment stream of it is open.
          yield* participation.openStreams.changes.pipe(Stream.takeUntil((open) => open === 0), Stream.runDrain)
          const failure = yield* Ref.get(participation.fragmentFailure)
          if (answer.success && failure !== undefined) return { agentId, success: false, message: failure }
        }
        return { agentId, ...answer }
      }).pipe(
        Effect.timeoutTo({
          duration: state.stageTimeout,
          onSuccess: (outcome): StageOutcome => outcome,
          onTimeout: (): StageOutcome => ({
            agentId: agent.info.agentId,
            success: false,
            message: `No answer to the ${stage} stage within ${
              Duration.format(state.stageTimeout)
            } (the development orchestrator's stage timeout; a real BRO would wait for ever)`
          })
        })
      )

    /** Sends the stage's messages and awaits every participant; the failures, in registration order. */
    const runStage = (
      job: Job,
      stage: Stage,
      action: "BACKUP" | "RESTORE",
      messagesFor: (agent: AgentConnection) => ReadonlyArray<OrchestratorMessage>,
      cancelled: Deferred.Deferred<void>
    ) =>
      Effect.gen(function*() {
        yield* Ref.set(job.stage, stage)
        for (const participation of job.participation.values()) yield* Ref.set(participation.fragmentFailure, undefined)
        const agents = job.participants.filter((agent) => messagesFor(agent).length > 0)
        yield* publish(state, Events.StageStarted({ actionId: job.id, stage, agents: agents.map((a) => a.info.agentId) }))
        yield* update(job.id, () => ({ progressInfo: `${stage}: waiting for ${agents.map((a) => a.info.agentId).join(", ")}` }))
        for (const agent of agents) for (const message of messagesFor(agent)) yield* agent.send(message)
        const outcomes = yield* Effect.raceFirst(
          Effect.forEach(agents, (agent) =>
            awaitAgent(job, agent, stage, action).pipe(
              Effect.tap((outcome) =>
                publish(state, Events.StageCompleted({ actionId: job.id, stage, ...outcome }))
              )
            ), { concurrency: "unbounded" }),
          Effect.as(Deferred.await(cancelled), [{ agentId: "", success: false, message: "Cancelled by the user" }])
        )
        return outcomes.filter((outcome) => !outcome.success)
      })

    /** Tells the participants to cancel, and waits for each one's answer (of either action) or end. */
    const cancelRound = (job: Job, action: "BACKUP" | "RESTORE", targets: ReadonlyArray<AgentConnection>) =>
      Effect.gen(function*() {
        yield* Ref.set(job.stage, "CANCEL")
        const connected = yield* Effect.filter(targets, (agent) => Effect.map(Deferred.isDone(agent.disconnected), (done) => !done))
        for (const agent of connected) yield* agent.send(OrchestratorMessage.Cancel({ action, message: "" }))
        yield* Effect.forEach(connected, (agent) =>
          Effect.raceFirst(nextStageComplete(agent, undefined), Deferred.await(agent.disconnected)).pipe(
            Effect.timeout(state.stageTimeout),
            Effect.ignore
          ), { concurrency: "unbounded", discard: true })
      })

    const failureText = (stage: Stage, failures: ReadonlyArray<StageOutcome>) =>
      failures
        .map((failure) =>
          failure.agentId === "" ? failure.message : `Agent ${failure.agentId} failed at stage ${stage}: ${failure.message}`
        )
        .join("; ")

    type Stages = ReadonlyArray<readonly [Stage, (agent: AgentConnection) => ReadonlyArray<OrchestratorMessage>]>

    /**
     * Runs the stages in order. On the first that fails, the participants
     * still in the action (and `cancellable`) are told to cancel, and the
     * failure is described; undefined when every stage succeeded.
     */
    const runStages = (
      job: Job,
      action: "BACKUP" | "RESTORE",
      stages: Stages,
      cancelled: Deferred.Deferred<void>,
      cancellable: (agent: AgentConnection) => boolean
    ) =>
      Effect.gen(function*() {
        for (const [index, [stage, messagesFor]] of stages.entries()) {
          const failures = yield* runStage(job, stage, action, messagesFor, cancelled)
          if (failures.length > 0) {
            // Agents that finished the post-actions are done with the action.
            const finished = new Set(stage === "POST_ACTIONS" ? job.participants.map((a) => a.info.agentId) : [])
            for (const failure of failures) finished.delete(failure.agentId)
            yield* cancelRound(job, action, job.participants.filter((a) => cancellable(a) && !finished.has(a.info.agentId)))
            return failureText(stage, failures)
          }
          yield* update(job.id, () => ({ progressPercentage: Math.round(((index + 1) / stages.length) * 100) }))
        }
        return undefined
      })

    const newJob = (
      id: string,
      kind: Job["kind"],
      managerId: string,
      backupName: string,
      participants: ReadonlyArray<AgentConnection>,
      restoring: BackupRecord | undefined
    ) =>
      Effect.gen(function*() {
        const participation = new Map<string, Participation>()
        for (const agent of participants) {
          participation.set(agent.info.agentId, {
            openStreams: yield* SubscriptionRef.make(0),
            fragmentFailure: yield* Ref.make<string | undefined>(undefined)
          })
        }
        const job: Job = {
          id,
          kind,
          manager: managerId,
          backupName,
          participants,
          stage: yield* Ref.make<Stage | "CANCEL">("PREPARATION"),
          participation,
          fragments: yield* Ref.make<ReadonlyMap<string, StoredFragment>>(new Map()),
          restoring
        }
        return job
      })

    // -------------------------------------------------------------------
    // Actions
    // -------------------------------------------------------------------

    type Outcome = { readonly success: boolean; readonly info: string }

    const createBackup = (id: string, managerId: string, backupName: string, cancelled: Deferred.Deferred<void>) =>
      Effect.gen(function*() {
        if ((yield* Ref.get(state.backups)).has(backupKey(managerId, backupName))) {
          return { success: false, info: `A backup named ${backupName} already exists in ${managerId}` }
        }
        const participants = [...(yield* Ref.get(state.agents)).values()]
          .filter((agent) => belongsTo(agent.info, managerId))
          .sort((a, b) => a.order - b.order)
        if (participants.length === 0) {
          return { success: false, info: `No agent is registered for backup manager ${managerId}` }
        }
        const softwareVersions: Array<RecordedSoftwareVersion> = participants.map((agent) => ({
          agentId: agent.info.agentId,
          apiVersion: agent.info.apiVersion,
          ...agent.info.softwareVersion
        }))
        const incomplete: BackupRecord = {
          name: backupName,
          backupManagerId: managerId,
          status: "INCOMPLETE",
          creationTime: now(),
          softwareVersions,
          fragments: []
        }
        yield* saveBackup(incomplete)
        const job = yield* newJob(id, "CREATE_BACKUP", managerId, backupName, participants, undefined)
        yield* Ref.set(state.job, job)
        const isOld = (agent: AgentConnection) => agent.info.apiVersion === "2.0"
        const preparation = OrchestratorMessage.Preparation({
          action: "BACKUP",
          backupName,
          backupType: managerId,
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
        const failure = yield* runStages(job, "BACKUP", stages, cancelled, (agent) => !isOld(agent))
        const fragments = [...(yield* Ref.get(job.fragments)).values()]
        yield* saveBackup({ ...incomplete, status: failure === undefined ? "COMPLETE" : "CORRUPTED", fragments })
        return failure === undefined
          ? { success: true, info: `Backup ${backupName} is complete` }
          : { success: false, info: failure }
      })

    const restore = (id: string, managerId: string, backupName: string, cancelled: Deferred.Deferred<void>) =>
      Effect.gen(function*() {
        const backup = (yield* Ref.get(state.backups)).get(backupKey(managerId, backupName))
        if (backup === undefined) return { success: false, info: `Backup ${backupName} does not exist in ${managerId}` }
        if (backup.status !== "COMPLETE") {
          return { success: false, info: `Backup ${backupName} is ${backup.status}: only a COMPLETE backup can be restored` }
        }
        const registered = yield* Ref.get(state.agents)
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
        const job = yield* newJob(id, "RESTORE", managerId, backupName, participants, backup)
        yield* Ref.set(state.job, job)
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
            backupType: managerId,
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
        const failure = yield* runStages(job, "RESTORE", stages, cancelled, () => true)
        return failure === undefined
          ? { success: true, info: `Backup ${backupName} is restored` }
          : { success: false, info: failure }
      })

    const deleteBackup = (managerId: string, backupName: string) =>
      Effect.gen(function*() {
        const key = backupKey(managerId, backupName)
        if (!(yield* Ref.get(state.backups)).has(key)) {
          return { success: false, info: `Backup ${backupName} does not exist in ${managerId}` }
        }
        yield* state.storage.deleteBackup(managerId, backupName)
        yield* Ref.update(state.backups, (backups) => {
          const next = new Map(backups)
          next.delete(key)
          return next
        })
        return { success: true, info: `Backup ${backupName} is deleted` }
      })

    const saveBackup = (record: BackupRecord) =>
      state.storage.writeRecord(record).pipe(
        Effect.zipRight(
          Ref.update(state.backups, (backups) => new Map(backups).set(backupKey(record.backupManagerId, record.name), record))
        )
      )

    const runAction = (id: string) =>
      Effect.gen(function*() {
        const ref = records.get(id)
        if (ref === undefined) return
        const record = yield* SubscriptionRef.get(ref)
        const cancelled = yield* Deferred.make<void>()
        yield* Ref.set(cancelRequest, cancelled)
        yield* Ref.set(running, id)
        yield* update(id, () => ({ state: "RUNNING", progressInfo: "Started" }))
        yield* publish(state, Events.ActionStarted({ action: yield* SubscriptionRef.get(ref) }))
        const outcome: Outcome = yield* (
          record.name === "CREATE_BACKUP"
            ? createBackup(id, record.backupManagerId, record.backupName, cancelled)
            : record.name === "RESTORE"
            ? restore(id, record.backupManagerId, record.backupName, cancelled)
            : deleteBackup(record.backupManagerId, record.backupName)
        ).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError("The action failed unexpectedly", cause).pipe(
              Effect.as({ success: false, info: `The development orchestrator failed: ${String(cause)}` })
            )
          )
        )
        yield* Ref.set(state.job, undefined)
        yield* Ref.set(cancelRequest, undefined)
        yield* Ref.set(running, undefined)
        const completionTime = now()
        yield* update(id, () => ({
          state: "FINISHED",
          result: outcome.success ? "SUCCESS" : "FAILURE",
          ...(outcome.success ? { progressPercentage: 100 } : {}),
          progressInfo: outcome.info,
          resultInfo: outcome.info,
          completionTime
        }))
        yield* publish(state, Events.ActionFinished({ action: yield* SubscriptionRef.get(ref) }))
      }).pipe(Effect.annotateLogs({ actionId: id }))

    yield* Queue.take(pending).pipe(Effect.flatMap(runAction), Effect.forever, Effect.forkScoped)

    const startAction = (managerId: string, name: ActionName, backupName: string) =>
      Effect.gen(function*() {
        yield* manager(managerId)
        if (!["CREATE_BACKUP", "RESTORE", "DELETE_BACKUP"].includes(name)) {
          return yield* new InvalidActionRequest({ reason: `Unknown action ${name}` })
        }
        const problem = backupNameProblem(backupName)
        if (problem !== undefined) {
          return yield* new InvalidActionRequest({ reason: `Failing for having an invalid backup name: ${problem}` })
        }
        const id = newId()
        const time = now()
        const record: ActionRecord = {
          id,
          name,
          backupManagerId: managerId,
          backupName,
          state: "RUNNING",
          result: "NOT_AVAILABLE",
          progressPercentage: 0,
          progressInfo: "Queued",
          resultInfo: undefined,
          additionalInfo: undefined,
          startTime: time,
          completionTime: undefined,
          lastUpdateTime: time
        }
        records.set(id, yield* SubscriptionRef.make(record))
        order.push(id)
        yield* Queue.offer(pending, id)
        return record
      })

    const awaitAction = (actionId: string) =>
      Effect.gen(function*() {
        const ref = records.get(actionId)
        if (ref === undefined) return yield* new ActionNotFound({ id: actionId })
        const finished = yield* ref.changes.pipe(
          Stream.filter((record) => record.state === "FINISHED"),
          Stream.runHead
        )
        return yield* Option.match(finished, { onNone: () => SubscriptionRef.get(ref), onSome: Effect.succeed })
      })

    return {
      port: server.port,
      host: server.host,
      storage: state.storage.root,
      health: Effect.gen(function*() {
        const id = yield* Ref.get(running)
        const current = id === undefined ? undefined : records.get(id)
        const agents = [...(yield* Ref.get(state.agents)).values()].sort((a, b) => a.order - b.order)
        return {
          status: "Healthy" as const,
          availability: id === undefined ? ("Available" as const) : ("Busy" as const),
          ongoingAction: id === undefined || current === undefined
            ? undefined
            : { actionId: id, backupManagerId: (yield* SubscriptionRef.get(current)).backupManagerId },
          registeredAgents: agents.map((agent) => agent.info.agentId)
        }
      }),
      agents: Effect.map(Ref.get(state.agents), (agents) =>
        [...agents.values()].sort((a, b) => a.order - b.order).map((agent) => agent.info)),
      managers,
      manager,
      startAction,
      action: (managerId, actionId) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          const ref = records.get(actionId)
          if (ref === undefined) return yield* new ActionNotFound({ id: actionId })
          const record = yield* SubscriptionRef.get(ref)
          if (record.backupManagerId !== managerId) return yield* new ActionNotFound({ id: actionId })
          return record
        }),
      actions: (managerId) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          const all = yield* Effect.forEach(order, (id) => {
            const ref = records.get(id)
            return ref === undefined ? Effect.succeed(undefined) : SubscriptionRef.get(ref)
          })
          return all.filter((record): record is ActionRecord => record !== undefined && record.backupManagerId === managerId)
        }),
      awaitAction,
      cancelAction: (actionId) => Effect.gen(function*() {
        const id = yield* Ref.get(running)
        const cancelled = yield* Ref.get(cancelRequest)
        const ref = id === undefined ? undefined : records.get(id)
        if (id === undefined || cancelled === undefined || ref === undefined || (actionId !== undefined && actionId !== id)) {
          return yield* new NoActionRunning()
        }
        yield* Deferred.succeed(cancelled, undefined)
        return yield* SubscriptionRef.get(ref)
      }),
      backups: (managerId) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          return [...(yield* Ref.get(state.backups)).values()]
            .filter((backup) => backup.backupManagerId === managerId)
            .sort((a, b) => a.creationTime.localeCompare(b.creationTime))
        }),
      backup: (managerId, backupName) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          const found = (yield* Ref.get(state.backups)).get(backupKey(managerId, backupName))
          if (found === undefined) return yield* new BackupNotFound({ backupManagerId: managerId, backupName })
          return found
        }),
      fragmentPath: (managerId, backupName, agentId, fragmentId) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          const found = (yield* Ref.get(state.backups)).get(backupKey(managerId, backupName))
          const fragment = found?.fragments.find((f) => f.agentId === agentId && f.fragmentId === fragmentId)
          if (found === undefined || fragment === undefined) {
            return yield* new BackupNotFound({ backupManagerId: managerId, backupName })
          }
          return state.storage.filePath(managerId, backupName, fragment, "BACKUP_FILE")
        }),
      events: Stream.fromPubSub(state.events)
    }
  })
