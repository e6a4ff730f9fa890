/**
 * The session: one control stream at a time, from the registration to the
 * stream's end, feeding what the orchestrator says to the state machine
 * (`internal/AgentMachine`) and carrying out its commands; then the choice,
 * by the reconnection schedules, to register again or to stop.
 *
 * @since 0.1.0
 */
import { Deferred, Duration, Effect, Option, Queue, Ref, Schedule, Stream, SubscriptionRef } from "effect"
import type { AgentFeature, ApiVersion } from "../../core/Action.js"
import type { OrchestratorMessage } from "../../core/Message.js"
import { AgentMessage } from "../../core/Message.js"
import type { RegistrationInformation } from "../../core/Registration.js"
import type { ControlStream, ControlStreamEnded } from "../../transport/OrchestratorTransport.js"
import { OrchestratorTransport } from "../../transport/OrchestratorTransport.js"
import * as Machine from "../AgentMachine.js"
import type { AgentError } from "./errors.js"
import { OrchestratorUnreachable, RegistrationRejected } from "./errors.js"
import type { AgentStatus, Connection } from "./status.js"
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
  const setConnection = (connection: Connection) =>
    SubscriptionRef.update(status, (current) => ({ ...current, connection }))

  return Effect.gen(function*() {
    const transport = yield* OrchestratorTransport
    const features: ReadonlyArray<AgentFeature> = registration.features ??
      [transport.security, "PREPARE_STAGE", "POST_STAGE"]
    const machineState = yield* Ref.make(Machine.initial)
    const afterStreamLost = yield* Schedule.driver(settings.reconnect.afterStreamLost)
    const whileIdInUse = yield* Schedule.driver(settings.reconnect.whileIdInUse)

    const execute = (command: Machine.Command, control: ControlStream, events: Queue.Queue<LoopEvent>) => {
      switch (command._tag) {
        case "Send":
          return control.send(command.message)
        case "Log":
          return command.level === "Info" ? Effect.logInfo(command.message) : Effect.logWarning(command.message)
        default:
          return steps.execute(command, (ended) => events.offer(ended))
      }
    }

    const feed = (apiVersion: ApiVersion, event: Machine.Event, control: ControlStream, events: Queue.Queue<LoopEvent>) =>
      Effect.gen(function*() {
        if (event._tag === "StepEnded") yield* steps.ended(event.stepId)
        const transition = Machine.step({ agentId, apiVersion }, yield* Ref.get(machineState), event)
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
}
