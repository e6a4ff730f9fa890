/**
 * How a job goes through its stages, as BRO runs them: each stage sent to
 * every participant at once and awaited from all of them (an answer, and no
 * data call of the agent still open); on the first stage that fails, a
 * cancel round; the failure described naming the agents and the stage.
 *
 * Each stage, and the cancel round, is a round: the question asked, and the
 * participants whose answer to it is still awaited. Only an answer to the
 * open round's question from an awaited participant counts
 * (`StageProtocol.ts`); the others are dropped and logged.
 *
 * @since 0.1.0
 */
import { Deferred, Duration, Effect, Option, Ref, Stream } from "effect"
import type { Action, Stage } from "../../src/core/Action.js"
import { OrchestratorMessage } from "../../src/core/Message.js"
import type { AgentConnection } from "../AgentRegistry.js"
import type { OrchestratorEvents } from "../Events.js"
import { OrchestratorEvent } from "../Model.js"
import type { JobStage, StageAnswer } from "../StageProtocol.js"
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
  /** Counts a stage-complete if it answers the open round and its agent is awaited; drops and logs it otherwise. */
  readonly answer: (answer: StageAnswer) => Effect.Effect<void>
}

// An agent's answer, or what stands for it (a disconnection).
interface Reply {
  readonly success: boolean
  readonly message: string
}

// Why a participant is no longer awaited in a round.
type Settled = "answered" | "timed out" | "disconnected"

interface Round {
  readonly actionId: string
  readonly stage: JobStage
  readonly action: Action
  /** Where each participant's answer goes (it may come before the round waits for it). */
  readonly replies: ReadonlyMap<string, Deferred.Deferred<Reply>>
  /** Why each participant no longer awaited is not; the others are awaited. */
  readonly settled: Map<string, Settled>
}

const describeAnswer = (answer: StageAnswer) =>
  `${answer.success ? "success" : "failure"}${answer.message === "" ? "" : `: ${answer.message}`}`

/**
 * A stage runner, with no round open.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (context: StageContext): Effect.Effect<StageRunner> =>
  Effect.gen(function*() {
    const { events, stageTimeout } = context
    const current = yield* Ref.make<Round | undefined>(undefined)

    // Opens a round for `agents` while `use` runs; the round is closed however `use` ends.
    const inRound = <A>(
      job: RunningJob,
      stage: JobStage,
      action: Action,
      agents: ReadonlyArray<AgentConnection>,
      use: (round: Round) => Effect.Effect<A>
    ) =>
      Effect.acquireUseRelease(
        Effect.gen(function*() {
          const replies = new Map<string, Deferred.Deferred<Reply>>()
          for (const agent of agents) replies.set(agent.info.agentId, yield* Deferred.make<Reply>())
          const round: Round = { actionId: job.id, stage, action, replies, settled: new Map() }
          yield* Ref.set(current, round)
          return round
        }),
        use,
        (round) => Ref.update(current, (open) => (open === round ? undefined : open))
      )

    const settle = (round: Round, agentId: string, why: Settled) =>
      Effect.sync(() => {
        if (round.replies.has(agentId) && !round.settled.has(agentId)) round.settled.set(agentId, why)
      })

    const answer = (answer: StageAnswer): Effect.Effect<void> =>
      Effect.gen(function*() {
        const { agentId, question } = answer
        if (question === undefined) {
          return yield* Effect.logDebug(
            `Dropped a stage answer of agent ${agentId} (${describeAnswer(answer)}): no stage was asked of it since it registered`
          )
        }
        const round = yield* Ref.get(current)
        const asked = `the ${question.stage} stage of action ${question.actionId}`
        if (round === undefined || round.actionId !== question.actionId || round.stage !== question.stage) {
          return yield* Effect.logWarning(
            `Dropped a late answer of agent ${agentId} to ${asked} (${describeAnswer(answer)}): that stage is over`
          )
        }
        // BRO ignores an answer with the other action; a cancel may be answered with either.
        if (round.stage !== "CANCEL" && answer.action !== round.action) {
          return yield* Effect.logWarning(
            `Dropped an answer of agent ${agentId} to ${asked} with action ${answer.action}, not ${round.action}`
          )
        }
        const waiting = round.replies.get(agentId)
        const settled = round.settled.get(agentId)
        if (waiting === undefined || settled !== undefined) {
          return yield* Effect.logWarning(
            `Dropped an answer of agent ${agentId} to ${asked} (${describeAnswer(answer)}): ${
              settled === "answered"
                ? "it had answered already"
                : settled === "timed out"
                ? "it came after the stage timeout"
                : "the agent is not awaited in it"
            }`
          )
        }
        yield* settle(round, agentId, "answered")
        yield* Deferred.succeed(waiting, { success: answer.success, message: answer.message })
      }).pipe(Effect.annotateLogs({ agentId: answer.agentId }))

    // The participant's answer, or its disconnection; undefined after the stage timeout.
    const awaitAnswer = <A>(round: Round, agent: AgentConnection, andThen: (reply: Reply) => Effect.Effect<A>) => {
      const agentId = agent.info.agentId
      const waiting = round.replies.get(agentId)
      return Effect.raceFirst<Reply, never, never, Reply, never, never>(
        waiting === undefined ? Effect.never : Deferred.await(waiting),
        Effect.zipRight(
          Deferred.await(agent.disconnected),
          Effect.as(settle(round, agentId, "disconnected"), { success: false, message: "Agent Disconnected" })
        )
      ).pipe(
        Effect.flatMap(andThen),
        Effect.timeoutTo({ duration: stageTimeout, onSuccess: Option.some, onTimeout: Option.none<A> }),
        Effect.tap((outcome) => (Option.isNone(outcome) ? settle(round, agentId, "timed out") : Effect.void)),
        Effect.map(Option.getOrUndefined)
      )
    }

    const timedOut = (agentId: string, stage: JobStage): StageOutcome => ({
      agentId,
      success: false,
      message: `No answer to the ${stage} stage within ${
        Duration.format(stageTimeout)
      } (the development orchestrator's stage timeout; a real BRO would wait for ever)`
    })

    const awaitAgent = (job: RunningJob, round: Round, agent: AgentConnection, stage: Stage) =>
      Effect.map(
        awaitAnswer(round, agent, (answer) =>
          Effect.gen(function*() {
            const agentId = agent.info.agentId
            const participation = job.participation.get(agentId)
            if (participation !== undefined) {
              // The stage ends for the agent once no data call of it is open.
              yield* participation.openTransfers.changes.pipe(Stream.takeUntil((open) => open === 0), Stream.runDrain)
              const failure = yield* Ref.get(participation.fragmentFailure)
              if (answer.success && failure !== undefined) return { agentId, success: false, message: failure }
            }
            return { agentId, ...answer }
          })),
        (outcome): StageOutcome => outcome ?? timedOut(agent.info.agentId, stage)
      )

    /** Asks the stage and awaits every participant; the failures, in registration order. */
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
        return yield* inRound(job, stage, action, agents, (round) =>
          Effect.gen(function*() {
            for (const agent of agents) yield* agent.ask({ actionId: job.id, stage }, messagesFor(agent))
            const outcomes = yield* Effect.raceFirst(
              Effect.forEach(agents, (agent) =>
                awaitAgent(job, round, agent, stage).pipe(
                  Effect.tap((outcome) =>
                    events.publish(OrchestratorEvent.StageCompleted({ actionId: job.id, stage, ...outcome }))
                  )
                ), { concurrency: "unbounded" }),
              Effect.as(Deferred.await(cancelled), [{ agentId: "", success: false, message: "Cancelled by the user" }])
            )
            const failures = outcomes.filter((outcome) => !outcome.success)
            // A fragment refused after its agent's outcome, or of a participant outside
            // the round (a 2.0 agent in a backup's preparation and post-actions), fails
            // the stage too: no backup is COMPLETE with a fragment it refused.
            for (const [agentId, participation] of job.participation) {
              if (failures.some((failure) => failure.agentId === agentId)) continue
              const refused = yield* Ref.get(participation.fragmentFailure)
              if (refused !== undefined) failures.push({ agentId, success: false, message: refused })
            }
            return failures
          }))
      })

    /** Tells the participants to cancel, and waits for each one's answer (of either action) or end. */
    const cancelRound = (job: RunningJob, action: Action, targets: ReadonlyArray<AgentConnection>) =>
      Effect.gen(function*() {
        yield* job.enter("CANCEL")
        const connected = yield* Effect.filter(targets, (agent) => Effect.map(Deferred.isDone(agent.disconnected), (done) => !done))
        const agentIds = connected.map((agent) => agent.info.agentId)
        if (connected.length === 0) return yield* Effect.logInfo(`Cancel round of action ${job.id}: no participant to tell`)
        yield* Effect.logInfo(`Cancel round of action ${job.id}: telling ${agentIds.join(", ")} to cancel the ${action}`)
        yield* events.publish(OrchestratorEvent.StageStarted({ actionId: job.id, stage: "CANCEL", agents: agentIds }))
        yield* inRound(job, "CANCEL", action, connected, (round) =>
          Effect.gen(function*() {
            const cancel = OrchestratorMessage.Cancel({ action, message: "" })
            for (const agent of connected) yield* agent.ask({ actionId: job.id, stage: "CANCEL" }, [cancel])
            yield* Effect.forEach(connected, (agent) =>
              Effect.gen(function*() {
                const agentId = agent.info.agentId
                const outcome = yield* awaitAnswer(round, agent, Effect.succeed)
                if (outcome === undefined) {
                  return yield* Effect.logWarning(
                    `Agent ${agentId} did not answer the cancel of action ${job.id} within ${Duration.format(stageTimeout)}`
                  )
                }
                yield* Effect.logInfo(
                  `Agent ${agentId} answered the cancel of action ${job.id}: ${outcome.success ? "success" : "failure"}${
                    outcome.message === "" ? "" : `: ${outcome.message}`
                  }`
                )
                yield* events.publish(OrchestratorEvent.StageCompleted({ actionId: job.id, stage: "CANCEL", agentId, ...outcome }))
              }).pipe(Effect.annotateLogs({ agentId: agent.info.agentId })), { concurrency: "unbounded", discard: true })
          }))
      })

    const failureText = (stage: Stage, failures: ReadonlyArray<StageOutcome>) =>
      failures
        .map((failure) =>
          failure.agentId === "" ? failure.message : `Agent ${failure.agentId} failed at stage ${stage}: ${failure.message}`
        )
        .join("; ")

    return {
      answer,
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
  })
