/**
 * How a job goes through its stages, as BRO runs them: each stage sent to
 * every participant at once and awaited from all of them (an answer, and no
 * data call of the agent still open); on the first stage that fails, a
 * cancel round; the failure described naming the agents and the stage.
 *
 * @since 0.1.0
 */
import { Deferred, Duration, Effect, Queue, Ref, Stream } from "effect"
import type { Action, Stage } from "../../src/core/Action.js"
import type { AgentMessage } from "../../src/core/Message.js"
import { OrchestratorMessage } from "../../src/core/Message.js"
import type { AgentConnection } from "../AgentRegistry.js"
import type { OrchestratorEvents } from "../Events.js"
import { OrchestratorEvent } from "../Model.js"
import type { RunningJob } from "./Job.js"

/**
 * What each participant is sent in a stage; one sent nothing takes no part
 * in the stage.
 *
 * @since 0.1.0
 * @category models
 */
export type StageMessages = (agent: AgentConnection) => ReadonlyArray<OrchestratorMessage>

/**
 * A job's stages, in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Stages = ReadonlyArray<readonly [Stage, StageMessages]>

/**
 * How one participant ended a stage.
 *
 * @since 0.1.0
 * @category models
 */
export interface StageOutcome {
  /** Empty for the user's cancel, which is no agent's. */
  readonly agentId: string
  readonly success: boolean
  readonly message: string
}

/**
 * What the stages need from the runner.
 *
 * @since 0.1.0
 * @category models
 */
export interface StageContext {
  readonly events: OrchestratorEvents["Type"]
  readonly stageTimeout: Duration.Duration
  /** Updates the action's progress information. */
  readonly progress: (
    actionId: string,
    change: { readonly progressInfo?: string; readonly progressPercentage?: number }
  ) => Effect.Effect<void>
}

/**
 * Runs stages.
 *
 * @since 0.1.0
 * @category models
 */
export interface StageRunner {
  /**
   * Runs the stages in order. On the first that fails, the participants
   * still in the action (and `cancellable`) are told to cancel, and the
   * failure is described; undefined when every stage succeeded.
   */
  readonly runStages: (
    job: RunningJob,
    action: Action,
    stages: Stages,
    cancelled: Deferred.Deferred<void>,
    cancellable: (agent: AgentConnection) => boolean
  ) => Effect.Effect<string | undefined>
}

/**
 * A stage runner.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (context: StageContext): StageRunner => {
  const { events, stageTimeout } = context

  // The next stage-complete of the agent that counts: one with `action`
  // (any action when undefined); others are ignored, as BRO does.
  const nextStageComplete = (
    agent: AgentConnection,
    action: Action | undefined
  ): Effect.Effect<Extract<AgentMessage, { _tag: "StageComplete" }>> =>
    Queue.take(agent.stageCompletes).pipe(
      Effect.repeat({ until: (message) => action === undefined || message.action === action })
    )

  const awaitAgent = (job: RunningJob, agent: AgentConnection, stage: Stage, action: Action) =>
    Effect.gen(function*() {
      const agentId = agent.info.agentId
      const participation = job.participation.get(agentId)
      const answer = yield* Effect.raceFirst(
        Effect.map(nextStageComplete(agent, action), (message) => ({ success: message.success, message: message.message })),
        Effect.as(Deferred.await(agent.disconnected), { success: false, message: "Agent Disconnected" })
      )
      if (participation !== undefined) {
        // The stage ends for the agent once no data call of it is open.
        yield* participation.openTransfers.changes.pipe(Stream.takeUntil((open) => open === 0), Stream.runDrain)
        const failure = yield* Ref.get(participation.fragmentFailure)
        if (answer.success && failure !== undefined) return { agentId, success: false, message: failure }
      }
      return { agentId, ...answer }
    }).pipe(
      Effect.timeoutTo({
        duration: stageTimeout,
        onSuccess: (outcome): StageOutcome => outcome,
        onTimeout: (): StageOutcome => ({
          agentId: agent.info.agentId,
          success: false,
          message: `No answer to the ${stage} stage within ${
            Duration.format(stageTimeout)
          } (the development orchestrator's stage timeout; a real BRO would wait for ever)`
        })
      })
    )

  /** Sends the stage's messages and awaits every participant; the failures, in registration order. */
  const runStage = (
    job: RunningJob,
    stage: Stage,
    action: Action,
    messagesFor: StageMessages,
    cancelled: Deferred.Deferred<void>
  ) =>
    Effect.gen(function*() {
      yield* job.enter(stage)
      const agents = job.participants.filter((agent) => messagesFor(agent).length > 0)
      const agentIds = agents.map((agent) => agent.info.agentId)
      yield* events.publish(OrchestratorEvent.StageStarted({ actionId: job.id, stage, agents: agentIds }))
      yield* context.progress(job.id, { progressInfo: `${stage}: waiting for ${agentIds.join(", ")}` })
      for (const agent of agents) for (const message of messagesFor(agent)) yield* agent.send(message)
      const outcomes = yield* Effect.raceFirst(
        Effect.forEach(agents, (agent) =>
          awaitAgent(job, agent, stage, action).pipe(
            Effect.tap((outcome) => events.publish(OrchestratorEvent.StageCompleted({ actionId: job.id, stage, ...outcome })))
          ), { concurrency: "unbounded" }),
        Effect.as(Deferred.await(cancelled), [{ agentId: "", success: false, message: "Cancelled by the user" }])
      )
      return outcomes.filter((outcome) => !outcome.success)
    })

  /** Tells the participants to cancel, and waits for each one's answer (of either action) or end. */
  const cancelRound = (job: RunningJob, action: Action, targets: ReadonlyArray<AgentConnection>) =>
    Effect.gen(function*() {
      yield* job.enter("CANCEL")
      const connected = yield* Effect.filter(targets, (agent) => Effect.map(Deferred.isDone(agent.disconnected), (done) => !done))
      for (const agent of connected) yield* agent.send(OrchestratorMessage.Cancel({ action, message: "" }))
      yield* Effect.forEach(connected, (agent) =>
        Effect.raceFirst(nextStageComplete(agent, undefined), Deferred.await(agent.disconnected)).pipe(
          Effect.timeout(stageTimeout),
          Effect.ignore
        ), { concurrency: "unbounded", discard: true })
    })

  const failureText = (stage: Stage, failures: ReadonlyArray<StageOutcome>) =>
    failures
      .map((failure) =>
        failure.agentId === "" ? failure.message : `Agent ${failure.agentId} failed at stage ${stage}: ${failure.message}`
      )
      .join("; ")

  return {
    runStages: (job, action, stages, cancelled, cancellable) =>
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
          yield* context.progress(job.id, { progressPercentage: Math.round(((index + 1) / stages.length) * 100) })
        }
        return undefined
      })
  }
}
