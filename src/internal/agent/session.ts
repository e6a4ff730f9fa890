/**
 * The session: one control stream at a time, from the registration to the
 * stream's end, feeding what the orchestrator says to the state machine
 * (`internal/AgentMachine`) and carrying out its commands; then the choice,
 * by the reconnection schedules, to register again or to stop.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Metric, Option, Queue, Ref, Schedule, Stream, SubscriptionRef } from "effect"
import * as AgentMetrics from "../../AgentMetrics.js"
import type { AgentFeature, ApiVersion } from "../../core/Action.js"
import type { OrchestratorMessage } from "../../core/Message.js"
import { AgentMessage } from "../../core/Message.js"
import type { RegistrationInformation } from "../../core/Registration.js"
import type { ControlStream, ControlStreamEnded } from "../../transport/OrchestratorTransport.js"
import { OrchestratorTransport } from "../../transport/OrchestratorTransport.js"
import * as Machine from "../AgentMachine.js"
import type { ControlObserver } from "../diagnostics/controlObserver.js"
import { currentControlObserver } from "../diagnostics/controlObserver.js"
import type { Unreachable } from "../diagnostics/reachability.js"
import type { AgentError } from "./errors.js"
import { OrchestratorUnreachable, RegistrationRejected } from "./errors.js"
import type { AgentStatus, Connection, ConnectionFailure } from "./status.js"
import { actionStatus } from "./status.js"
import type { StepRunner } from "./stepRunner.js"

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
 * What a session needs, its defaults already applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionSettings {
  readonly registration: RegistrationInformation
  /** How long an API 4.0 registration waits for its acknowledgement before it is sent again; 0 never sends it again. */
  readonly acknowledgeTimeout: Duration.Duration
  readonly reconnect: ReconnectPolicy
}

const apiVersionFallbackText = "Invalid api version. Only [2.0, 3.0] are supported."

const reasonsOf = (details: string): ReadonlyArray<string> =>
  details.split("\n").map((line) => line.trim()).filter((line) => line.length > 0)

type LoopEvent = Machine.Event | { readonly _tag: "Ended"; readonly end: ControlStreamEnded }

/**
 * How often, at most, the same failure to reach the orchestrator is logged
 * again (with the count of attempts); a new cause is logged at once.
 *
 * @since 0.1.0
 * @category constants
 */
export const unreachableLogInterval: Duration.Duration = Duration.minutes(1)

interface Failures {
  readonly last: ConnectionFailure
  readonly firstAt: number
  readonly loggedAt: number
}

// What a stage-complete answers, read off the phase before the answer.
const answered = (phase: Machine.Phase): string => {
  const action = actionStatus(phase)
  if (action === undefined) return "the cancel (no action since registration)"
  const what = action.stage === "CANCEL" ? "the cancel" : `the ${action.stage} stage`
  return `${what} of ${action.action} ${action.backupName}`
}

/**
 * Registers, and registers again each time the control stream ends, until
 * the orchestrator rejects the agent or the schedules give up. Keeps
 * `status` up to date; `steps` runs the user's steps.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <R>(
  settings: SessionSettings,
  status: SubscriptionRef.SubscriptionRef<AgentStatus>,
  steps: StepRunner<R>
): Effect.Effect<never, AgentError, R | OrchestratorTransport> => {
  const { acknowledgeTimeout, registration } = settings
  const agentId = registration.agentId
  const metricTags = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) => Metric.tagged(metric, "agent_id", agentId)
  const registeredGauge = metricTags(AgentMetrics.registered)
  const setConnection = (connection: Connection) =>
    SubscriptionRef.update(status, (current) => ({ ...current, connection })).pipe(
      Effect.zipRight(Metric.set(registeredGauge, connection._tag === "Registered" ? 1 : 0))
    )

  return Effect.gen(function*() {
    const transport = yield* OrchestratorTransport
    const features: ReadonlyArray<AgentFeature> = registration.features ??
      [transport.security, "PREPARE_STAGE", "POST_STAGE"]
    const machineState = yield* Ref.make(Machine.initial)
    const afterStreamLost = yield* Schedule.driver(settings.reconnect.afterStreamLost)
    const whileIdInUse = yield* Schedule.driver(settings.reconnect.whileIdInUse)
    // Failed attempts to reach the orchestrator in a row, across control streams.
    const failures = yield* Ref.make<Failures | undefined>(undefined)

    const unreachable = (apiVersion: ApiVersion) => (found: Unreachable) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const before = yield* Ref.get(failures)
        const last: ConnectionFailure = { ...found, at: new Date(now), attempts: (before?.last.attempts ?? 0) + 1 }
        const log = before === undefined || before.last.cause !== found.cause ||
          now - before.loggedAt >= Duration.toMillis(unreachableLogInterval)
        yield* Ref.set(failures, { last, firstAt: before?.firstAt ?? now, loggedAt: log ? now : before.loggedAt })
        yield* setConnection({ _tag: "Connecting", apiVersion, lastFailure: last })
        yield* Metric.increment(Metric.tagged(metricTags(AgentMetrics.connectionFailures), "code", found.code ?? "none"))
        if (!log) return
        const count = last.attempts === 1
          ? ""
          : ` (${last.attempts} failed attempts since ${new Date(before?.firstAt ?? now).toISOString()})`
        yield* Effect.logWarning(`Cannot reach the orchestrator at ${found.target}: ${found.cause}${count}`)
      })

    const reached = Effect.flatMap(Ref.getAndSet(failures, undefined), (before) =>
      before === undefined ? Effect.void : Effect.logInfo(
        `Reached the orchestrator at ${before.last.target} after ${before.last.attempts} failed attempt${
          before.last.attempts === 1 ? "" : "s"
        }`
      ))

    // What the control call of one stream says of its messages.
    interface Writes {
      readonly held: Ref.Ref<boolean>
      readonly dropped: Ref.Ref<boolean>
      readonly opened: Deferred.Deferred<void>
      readonly ended: Deferred.Deferred<void>
    }

    // Sends a message and says whether it was written to the open stream: at
    // once, or, when the call is not open yet, once it opens (false if the
    // stream ends first).
    const sendOn = (control: ControlStream, writes: Writes) => (message: AgentMessage) =>
      Effect.gen(function*() {
        yield* Ref.set(writes.held, false)
        yield* Ref.set(writes.dropped, false)
        yield* control.send(message)
        if (yield* Ref.get(writes.dropped)) return false
        if (!(yield* Ref.get(writes.held))) return true
        return yield* Deferred.await(writes.opened).pipe(
          Effect.as(true),
          Effect.raceFirst(Effect.as(Deferred.await(writes.ended), false))
        )
      })

    const execute = (
      command: Machine.Command,
      send: (message: AgentMessage) => Effect.Effect<boolean>,
      before: Machine.Phase,
      events: Queue.Queue<LoopEvent>
    ) => {
      switch (command._tag) {
        case "Send":
          return Effect.flatMap(send(command.message), (written) => {
            const message = command.message
            if (message._tag !== "StageComplete") return Effect.void
            const answer = `${answered(before)} (${message.success ? "success" : "failure"}): ${message.message}`
            return written
              ? Effect.logInfo(`Answered ${answer}`)
              : Effect.logWarning(`Could not answer ${answer}: the control stream ended`)
          })
        case "Log":
          return command.level === "Info" ? Effect.logInfo(command.message) : Effect.logWarning(command.message)
        default:
          return steps.execute(command, (ended) => events.offer(ended))
      }
    }

    const feed = (
      apiVersion: ApiVersion,
      event: Machine.Event,
      send: (message: AgentMessage) => Effect.Effect<boolean>,
      events: Queue.Queue<LoopEvent>
    ) =>
      Effect.gen(function*() {
        if (event._tag === "StepEnded") yield* steps.ended(event.stepId)
        const before = yield* Ref.get(machineState)
        const transition = Machine.step({ agentId, apiVersion }, before, event)
        yield* Ref.set(machineState, transition.state)
        yield* SubscriptionRef.update(status, (current) => ({ ...current, action: actionStatus(transition.state.phase) }))
        for (const command of transition.commands) yield* execute(command, send, before.phase, events)
      })

    // One control stream, from registration to its end.
    const connectOnce = (apiVersion: ApiVersion): Effect.Effect<ControlStreamEnded, never, R> =>
      Effect.scoped(Effect.gen(function*() {
        const lastFailure = (yield* Ref.get(failures))?.last
        yield* setConnection({ _tag: "Connecting", apiVersion, ...(lastFailure === undefined ? {} : { lastFailure }) })
        const writes: Writes = {
          held: yield* Ref.make(false),
          dropped: yield* Ref.make(false),
          opened: yield* Deferred.make<void>(),
          ended: yield* Deferred.make<void>()
        }
        const observer: ControlObserver = {
          unreachable: unreachable(apiVersion),
          held: () => Ref.set(writes.held, true),
          opened: Deferred.succeed(writes.opened, undefined),
          dropped: () => Ref.set(writes.dropped, true)
        }
        yield* Effect.locallyScoped(currentControlObserver, observer)
        const control = yield* transport.openControl
        const send = sendOn(control, writes)
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
          Effect.catchAll((end) =>
            Effect.zipRight(events.offer({ _tag: "Ended", end }), Deferred.succeed(writes.ended, undefined))
          ),
          Effect.forkScoped
        )

        // With the gRPC transport the registration is written once the
        // connection is made: until then this waits, and the control call
        // reports the failed attempts to `observer`. Nothing arrives before.
        const registered = yield* send(register)
        if (registered) {
          yield* reached
          yield* Effect.logInfo(`Sent the registration (API ${apiVersion})`)
          if (apiVersion !== "4.0") {
            yield* setConnection({ _tag: "Registered", apiVersion, acknowledged: false, orchestratorFeatures: [] })
          } else if (Duration.toMillis(acknowledgeTimeout) > 0) {
            yield* Effect.sleep(acknowledgeTimeout).pipe(
              Effect.zipRight(send(register)),
              Effect.flatMap((again) =>
                again
                  ? Effect.logWarning("No acknowledgement from the orchestrator: sent the registration again")
                  : Effect.void
              ),
              Effect.forever,
              Effect.raceFirst(Deferred.await(heard)),
              Effect.forkScoped
            )
          }
        }

        for (;;) {
          const event = yield* events.take
          if (event._tag === "Ended") {
            yield* feed(apiVersion, { _tag: "StreamEnded" }, send, events)
            return event.end
          }
          yield* feed(apiVersion, event, send, events)
        }
      }))

    let apiVersion = registration.apiVersion
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) yield* Metric.increment(metricTags(AgentMetrics.reconnections))
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
      yield* setConnection({ _tag: "WaitingToReconnect", lastEnd: end, endedAt: new Date(yield* Clock.currentTimeMillis) })
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
    Effect.annotateLogs({ agentId })
  )
}
