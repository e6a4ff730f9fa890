/**
 * The running agent: it registers with the orchestrator, feeds what the
 * orchestrator says to the agent's state machine (`internal/AgentMachine`), runs
 * the user's stage Effects in fibers it can interrupt, writes the answers,
 * and registers again when the control stream ends.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { ConfigError, Scope } from "effect"
import { Cause, Data, Deferred, Duration, Effect, Exit, Fiber, Option, Queue, Ref, Schedule, Stream, SubscriptionRef } from "effect"
import type { AgentFeature, ApiVersion, Stage } from "./core/Action.js"
import * as Machine from "./internal/AgentMachine.js"
import type { OrchestratorMessage } from "./core/Message.js"
import { AgentMessage } from "./core/Message.js"
import * as Registration from "./core/Registration.js"
import type { StatusCode } from "./core/Status.js"
import type { AgentBehavior, AnyStageContext, StageOutcome } from "./behavior/AgentBehavior.js"
import { defaultMessages } from "./behavior/AgentBehavior.js"
import * as Fragments from "./behavior/Fragments.js"
import type { ControlStream } from "./transport/OrchestratorTransport.js"
import { ControlStreamEnded, OrchestratorTransport } from "./transport/OrchestratorTransport.js"

/**
 * The orchestrator refused the agent for good: an invalid registration
 * (INVALID_ARGUMENT), missing credentials (UNAUTHENTICATED), or an agent id
 * that stayed in use by another stream (ALREADY_EXISTS) for as long as the
 * `whileIdInUse` schedule allowed. `reasons` holds the orchestrator's
 * description, line by line.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistrationRejected extends Data.TaggedError("RegistrationRejected")<{
  readonly agentId: string
  readonly status: StatusCode
  readonly reasons: ReadonlyArray<string>
}> {
  override get message(): string {
    const reasons = this.reasons.length === 0 ? "" : `: ${this.reasons.join("; ")}`
    return `The orchestrator rejected agent ${this.agentId} with ${this.status}${reasons}`
  }
}

/**
 * The `afterStreamLost` schedule gave up registering again.
 *
 * @since 0.1.0
 * @category errors
 */
export class OrchestratorUnreachable extends Data.TaggedError("OrchestratorUnreachable")<{
  readonly agentId: string
  readonly lastEnd: ControlStreamEnded
}> {
  override get message(): string {
    return `Agent ${this.agentId} stopped registering again: ${this.lastEnd.message}`
  }
}

/**
 * How the agent ends, when it ends by itself.
 *
 * @since 0.1.0
 * @category errors
 */
export type AgentError = RegistrationRejected | OrchestratorUnreachable

/**
 * When to register again after the control stream ends. Each is a
 * `Schedule` fed with how the stream ended; replace or compose them as you
 * like. Both start afresh once the orchestrator has spoken on a stream.
 *
 * A stream ended with INVALID_ARGUMENT or UNAUTHENTICATED is never retried:
 * the orchestrator will refuse the same registration again.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReconnectPolicy {
  /** Any end but a rejection or a duplicate id: the orchestrator restarted, the connection broke. */
  readonly afterStreamLost: Schedule.Schedule<unknown, ControlStreamEnded>
  /**
   * ALREADY_EXISTS: the orchestrator still holds the id for an earlier stream
   * of ours, until it notices that stream is gone (up to about 130 s).
   */
  readonly whileIdInUse: Schedule.Schedule<unknown, ControlStreamEnded>
}

/**
 * Register again soon after a lost stream: 100 ms, doubling, capped at 5 s,
 * jittered, for ever (the control call waits for the connection itself).
 *
 * @since 0.1.0
 * @category reconnection
 */
export const reconnectAfterStreamLost: Schedule.Schedule<unknown, ControlStreamEnded> = Schedule.exponential(
  "100 millis"
).pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered
)

/**
 * While the id is in use: every 30 s, at most 20 times (the reference's rule).
 *
 * @since 0.1.0
 * @category reconnection
 */
export const reconnectWhileIdInUse: Schedule.Schedule<unknown, ControlStreamEnded> = Schedule.spaced("30 seconds")
  .pipe(Schedule.intersect(Schedule.recurs(20)))

/**
 * @since 0.1.0
 * @category reconnection
 */
export const defaultReconnect: ReconnectPolicy = {
  afterStreamLost: reconnectAfterStreamLost,
  whileIdInUse: reconnectWhileIdInUse
}

/**
 * @since 0.1.0
 * @category models
 */
export interface AgentOptions {
  /**
   * How long an API 4.0 agent waits for the orchestrator's acknowledgement
   * before sending its registration again on the same stream (10 s by
   * default; 0 never sends it again).
   */
  readonly acknowledgeTimeout?: Duration.DurationInput
  /** When to register again; see {@link ReconnectPolicy}. */
  readonly reconnect?: Partial<ReconnectPolicy>
  /**
   * Bytes of file content per data message. Default: `AGENT_FRAGMENT_CHUNK_SIZE`
   * (in KiB) from the environment, else 512 KiB.
   */
  readonly chunkSize?: number
  /**
   * How long a transfer may make no progress. Default:
   * `AGENT_DATA_CHANNEL_TIMEOUT_SECS` from the environment, else 30 s.
   */
  readonly dataChannelTimeout?: Duration.DurationInput
}

/**
 * The agent's link with the orchestrator.
 *
 * @since 0.1.0
 * @category models
 */
export type Connection =
  | { readonly _tag: "Connecting"; readonly apiVersion: ApiVersion }
  | {
    readonly _tag: "Registered"
    readonly apiVersion: ApiVersion
    /** API 4.0: the orchestrator acknowledged; older versions are never acknowledged. */
    readonly acknowledged: boolean
    /** The features the orchestrator said it supports, when it acknowledged. */
    readonly orchestratorFeatures: ReadonlyArray<AgentFeature>
  }
  | {
    readonly _tag: "WaitingToReconnect"
    /** How the last control stream ended. */
    readonly lastEnd: ControlStreamEnded
  }
  | { readonly _tag: "Stopped"; readonly error: AgentError }

/**
 * What the agent is doing, for health checks and dashboards.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentStatus {
  readonly agentId: string
  readonly connection: Connection
  readonly action:
    | {
      readonly action: Machine.ActionInfo["action"]
      readonly backupName: string
      readonly backupType: string
      /** `FRAGMENT_LIST` while a restore's fragment list arrives; `CANCEL` while the cancel step runs. */
      readonly stage: Stage | "FRAGMENT_LIST" | "CANCEL"
      /** Whether the stage's step runs now (or has answered and waits for the next stage). */
      readonly running: boolean
    }
    | undefined
}

/**
 * A started agent.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningAgent {
  readonly agentId: string
  /** The status now. */
  readonly status: Effect.Effect<AgentStatus>
  /** The status now and each change after it. */
  readonly statusChanges: Stream.Stream<AgentStatus>
  /** Waits for the agent to end by itself, which it does only with an {@link AgentError}. */
  readonly join: Effect.Effect<never, AgentError>
  /** Each transfer's progress, chunk by chunk, from the moment of subscription. */
  readonly progress: Stream.Stream<Fragments.TransferProgress>
}

const apiVersionFallbackText = "Invalid api version. Only [2.0, 3.0] are supported."

const reasonsOf = (details: string): ReadonlyArray<string> =>
  details.split("\n").map((line) => line.trim()).filter((line) => line.length > 0)

const actionStatus = (phase: Machine.Phase): AgentStatus["action"] => {
  switch (phase._tag) {
    case "Idle":
      return undefined
    case "Collecting":
      return { ...pick(phase.info), stage: "FRAGMENT_LIST", running: false }
    case "Running":
      return { ...pick(phase.info), stage: phase.stage, running: true }
    case "StageDone":
      return { ...pick(phase.info), stage: phase.stage, running: false }
    case "Cancelling":
      return { ...pick(phase.info), stage: "CANCEL", running: true }
  }
}

const pick = (info: Machine.ActionInfo) => ({
  action: info.action,
  backupName: info.backupName,
  backupType: info.backupType
})

const errorText = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}

type LoopEvent = Machine.Event | { readonly _tag: "Ended"; readonly end: ControlStreamEnded }

/**
 * Starts an agent in the current scope and returns at once. Invalid
 * registration information fails here, before any connection. Closing the
 * scope stops the agent: the control stream is closed, running steps and
 * transfers are interrupted, and it does not register again.
 *
 * @since 0.1.0
 * @category running
 */
export const start = <E, R>(
  behavior: AgentBehavior<E, R>,
  options: AgentOptions = {}
): Effect.Effect<
  RunningAgent,
  Registration.InvalidRegistrationInformation | ConfigError.ConfigError,
  OrchestratorTransport | FileSystem.FileSystem | Scope.Scope | R
> =>
  Effect.gen(function*() {
    const registration = yield* Registration.make(behavior.registration)
    const transport = yield* OrchestratorTransport
    const agentScope = yield* Effect.scope
    const agentId = registration.agentId
    const acknowledgeTimeout = Duration.decode(options.acknowledgeTimeout ?? "10 seconds")
    const policy = { ...defaultReconnect, ...options.reconnect }
    const features: ReadonlyArray<AgentFeature> = registration.features ??
      [transport.security, "PREPARE_STAGE", "POST_STAGE"]

    const channel = yield* Fragments.makeDataChannel(agentId, {
      ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
      ...(options.dataChannelTimeout === undefined ? {} : { timeout: Duration.decode(options.dataChannelTimeout) })
    })
    const status = yield* SubscriptionRef.make<AgentStatus>({
      agentId,
      connection: { _tag: "Connecting", apiVersion: registration.apiVersion },
      action: undefined
    })
    const setConnection = (connection: Connection) =>
      SubscriptionRef.update(status, (current) => ({ ...current, connection }))
    const machineState = yield* Ref.make(Machine.initial)
    const steps = new Map<number, Fiber.RuntimeFiber<void>>()
    const afterStreamLost = yield* Schedule.driver(policy.afterStreamLost)
    const whileIdInUse = yield* Schedule.driver(policy.whileIdInUse)

    const contextFor = (info: Machine.ActionInfo): AnyStageContext => {
      const target = { backupName: info.backupName, backupType: info.backupType }
      if (info.action === "BACKUP") {
        const sendFragment = (fragment: Fragments.BackupFragment) => Fragments.sendFragment(channel, target, fragment)
        return {
          agentId,
          action: "BACKUP",
          ...target,
          sendFragment,
          sendFragments: (fragments, sendOptions) =>
            Effect.forEach(fragments, sendFragment, { concurrency: sendOptions?.concurrency ?? 1 })
        }
      }
      return {
        agentId,
        action: "RESTORE",
        ...target,
        softwareVersion: info.softwareVersion,
        fragments: info.fragments,
        downloadFragment: (fragment, folder) => Fragments.downloadFragment(channel, target, fragment, folder),
        downloadFragmentStream: (fragment) => Fragments.downloadFragmentStream(channel, target, fragment)
      }
    }

    const stepEffect = (step: Machine.StepName, context: AnyStageContext): Effect.Effect<StageOutcome, E, R> => {
      if (context.action === "BACKUP") {
        switch (step) {
          case "prepareBackup":
            return behavior.prepareBackup?.(context) ?? Effect.void
          case "executeBackup":
            return behavior.executeBackup(context)
          case "postBackup":
            return behavior.postBackup?.(context) ?? Effect.void
        }
      } else {
        switch (step) {
          case "prepareRestore":
            return behavior.prepareRestore?.(context) ?? Effect.void
          case "executeRestore":
            return behavior.executeRestore(context)
          case "postRestore":
            return behavior.postRestore?.(context) ?? Effect.void
        }
      }
      if (step === "cancel") return behavior.cancel?.(context) ?? Effect.void
      return Effect.dieMessage(`bro-agent: step ${step} does not belong to a ${context.action}`)
    }

    // Runs a user step and turns its outcome into a stage-complete's success and text.
    const runStep = (step: Machine.StepName, info: Machine.ActionInfo) =>
      stepEffect(step, contextFor(info)).pipe(
        Effect.exit,
        Effect.flatMap(Exit.match({
          onSuccess: (outcome) =>
            Effect.succeed({ success: true, message: typeof outcome === "string" ? outcome : defaultMessages[step] }),
          onFailure: (cause) =>
            Option.match(Cause.failureOption(cause), {
              onSome: (error) =>
                Effect.logWarning(`The ${step} step failed`, cause).pipe(
                  Effect.as({ success: false, message: errorText(error) })
                ),
              onNone: () =>
                Effect.logError(`The ${step} step died`, cause).pipe(
                  Effect.as({
                    success: false,
                    message: `Exception executing agent behavior: ${errorText(Cause.squash(cause))}`
                  })
                )
            })
        })),
        Effect.withSpan(`bro-agent.${step}`, { attributes: { agentId, backupName: info.backupName } }),
        Effect.annotateLogs({ action: info.action, backupName: info.backupName, step })
      )

    const execute = (command: Machine.Command, control: ControlStream, events: Queue.Queue<LoopEvent>) => {
      switch (command._tag) {
        case "Run":
          return runStep(command.step, command.info).pipe(
            Effect.flatMap((result) => events.offer({ _tag: "StepEnded", stepId: command.stepId, ...result })),
            Effect.asVoid,
            Effect.forkIn(agentScope),
            Effect.tap((fiber) => Effect.sync(() => steps.set(command.stepId, fiber))),
            Effect.asVoid
          )
        case "Interrupt":
        case "AwaitUnanswered": {
          const fiber = steps.get(command.stepId)
          steps.delete(command.stepId)
          if (fiber === undefined) return Effect.void
          return command._tag === "Interrupt" ? Fiber.interrupt(fiber) : Fiber.await(fiber)
        }
        case "RunUnanswered":
          return runStep("cancel", command.info).pipe(
            Effect.flatMap((result) =>
              Effect.logInfo(`Ran the cancel step after the control stream ended (success: ${result.success})`)
            )
          )
        case "Send":
          return control.send(command.message)
        case "Log":
          return command.level === "Info" ? Effect.logInfo(command.message) : Effect.logWarning(command.message)
      }
    }

    const settings = (apiVersion: ApiVersion): Machine.Settings => ({ agentId, apiVersion })

    const feed = (apiVersion: ApiVersion, event: Machine.Event, control: ControlStream, events: Queue.Queue<LoopEvent>) =>
      Effect.gen(function*() {
        if (event._tag === "StepEnded") steps.delete(event.stepId)
        const transition = Machine.step(settings(apiVersion), yield* Ref.get(machineState), event)
        yield* Ref.set(machineState, transition.state)
        yield* SubscriptionRef.update(status, (current) => ({ ...current, action: actionStatus(transition.state.phase) }))
        for (const command of transition.commands) yield* execute(command, control, events)
      })

    // One control stream, from registration to its end.
    const connectOnce = (apiVersion: ApiVersion): Effect.Effect<ControlStreamEnded, never, R> =>
      Effect.scoped(Effect.gen(function*() {
        yield* setConnection({ _tag: "Connecting", apiVersion })
        const control = yield* transport.openControl
        const events = yield* Queue.unbounded<LoopEvent>()
        const heard = yield* Deferred.make<void>()
        const register = AgentMessage.Register({
          action: "REGISTER",
          agentId,
          scope: registration.scope,
          apiVersion,
          softwareVersion: registration.softwareVersion,
          backendType: registration.backendType,
          features
        })
        yield* control.send(register)
        yield* Effect.logInfo(`Sent the registration (API ${apiVersion})`)
        if (apiVersion !== "4.0") {
          yield* setConnection({ _tag: "Registered", apiVersion, acknowledged: false, orchestratorFeatures: [] })
        } else if (Duration.toMillis(acknowledgeTimeout) > 0) {
          yield* Effect.sleep(acknowledgeTimeout).pipe(
            Effect.zipRight(control.send(register)),
            Effect.zipRight(Effect.logWarning("No acknowledgement from the orchestrator: sent the registration again")),
            Effect.forever,
            Effect.raceFirst(Deferred.await(heard)),
            Effect.forkScoped
          )
        }

        const onMessage = (message: OrchestratorMessage) =>
          Effect.gen(function*() {
            if (yield* Deferred.succeed(heard, undefined)) {
              // The orchestrator took the registration: reconnection starts afresh.
              yield* afterStreamLost.reset
              yield* whileIdInUse.reset
            }
            if (message._tag === "RegisterAcknowledge") {
              yield* setConnection({
                _tag: "Registered",
                apiVersion,
                acknowledged: true,
                orchestratorFeatures: message.features
              })
              yield* Effect.logInfo("The orchestrator acknowledged the registration")
            } else {
              yield* events.offer({ _tag: "Received", message })
            }
          })

        yield* control.messages.pipe(
          Stream.runForEach(onMessage),
          Effect.catchAll((end) => events.offer({ _tag: "Ended", end })),
          Effect.forkScoped
        )

        for (;;) {
          const event = yield* events.take
          if (event._tag === "Ended") {
            yield* feed(apiVersion, { _tag: "StreamEnded" }, control, events)
            return event.end
          }
          yield* feed(apiVersion, event, control, events)
        }
      }))

    const loop: Effect.Effect<never, AgentError, R> = Effect.gen(function*() {
      let apiVersion = registration.apiVersion
      for (;;) {
        const end = yield* connectOnce(apiVersion)
        yield* Effect.logWarning(end.message)
        if (end.status === "INVALID_ARGUMENT" && apiVersion === "4.0" && end.details.includes(apiVersionFallbackText)) {
          yield* Effect.logWarning("The orchestrator supports API 2.0 and 3.0 only: registering again as 3.0")
          apiVersion = "3.0"
          continue
        }
        if (end.status === "INVALID_ARGUMENT" || end.status === "UNAUTHENTICATED") {
          return yield* new RegistrationRejected({ agentId, status: end.status, reasons: reasonsOf(end.details) })
        }
        const idInUse = end.status === "ALREADY_EXISTS"
        yield* setConnection({ _tag: "WaitingToReconnect", lastEnd: end })
        const again = yield* (idInUse ? whileIdInUse : afterStreamLost).next(end).pipe(Effect.option)
        if (Option.isNone(again)) {
          return yield* idInUse
            ? new RegistrationRejected({ agentId, status: end.status, reasons: reasonsOf(end.details) })
            : new OrchestratorUnreachable({ agentId, lastEnd: end })
        }
        // A stream the orchestrator closed normally keeps the version; any other end tries the configured one again.
        if (end.status !== "OK") apiVersion = registration.apiVersion
      }
    }).pipe(
      Effect.tapError((error) => setConnection({ _tag: "Stopped", error })),
      Effect.tapError((error) => Effect.logError(error.message)),
      Effect.annotateLogs({ agentId })
    )

    const fiber = yield* Effect.forkIn(loop, agentScope)
    return {
      agentId,
      status: SubscriptionRef.get(status),
      statusChanges: status.changes,
      join: Fiber.join(fiber),
      progress: Stream.fromPubSub(channel.progress)
    }
  })

/**
 * Runs an agent until it is interrupted, or until it ends by itself with an
 * {@link AgentError}.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  behavior: AgentBehavior<E, R>,
  options: AgentOptions = {}
): Effect.Effect<
  never,
  AgentError | Registration.InvalidRegistrationInformation | ConfigError.ConfigError,
  OrchestratorTransport | FileSystem.FileSystem | R
> => Effect.scoped(Effect.flatMap(start(behavior, options), (agent) => agent.join))
