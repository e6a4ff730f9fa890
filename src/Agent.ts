/**
 * The running agent: it registers with the orchestrator, feeds what the
 * orchestrator says to the agent's state machine, runs the user's stage
 * Effects in fibers it can interrupt, writes the answers, and registers again
 * when the control stream ends.
 *
 * `start` and `run` run an agent inside an Effect; `layer` runs one for the
 * life of a Layer and provides it as the {@link RunningAgent} service.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { ConfigError, Scope } from "effect"
import { Config, Context, Duration, Effect, Fiber, Layer, Logger, LogLevel, Option, Schedule, Stream, SubscriptionRef } from "effect"
import type { AgentBehavior } from "./behavior/AgentBehavior.js"
import * as Fragments from "./behavior/Fragments.js"
import * as Registration from "./core/Registration.js"
import type { AgentError } from "./internal/agent/errors.js"
import * as Session from "./internal/agent/session.js"
import type { ReconnectPolicy } from "./internal/agent/session.js"
import type { AgentStatus } from "./internal/agent/status.js"
import * as StepRunner from "./internal/agent/stepRunner.js"
import type { ControlStreamEnded, OrchestratorTransport } from "./transport/OrchestratorTransport.js"

// The declarations live with the code that uses them (`internal/agent`), so
// that the internal modules never import this one; their full documentation
// is there.

export {
  /**
   * The orchestrator refused the agent for good: INVALID_ARGUMENT,
   * UNAUTHENTICATED, or an id that stayed in use; `reasons` line by line.
   *
   * @since 0.1.0
   * @category errors
   */
  RegistrationRejected,
  /**
   * The `afterStreamLost` schedule gave up registering again.
   *
   * @since 0.1.0
   * @category errors
   */
  OrchestratorUnreachable
} from "./internal/agent/errors.js"

export type {
  /**
   * How the agent ends, when it ends by itself.
   *
   * @since 0.1.0
   * @category errors
   */
  AgentError
} from "./internal/agent/errors.js"

export type {
  /**
   * When to register again after the control stream ends: `afterStreamLost`
   * and `whileIdInUse`, each a `Schedule` fed with how the stream ended.
   *
   * @since 0.1.0
   * @category models
   */
  ReconnectPolicy
} from "./internal/agent/session.js"

export type {
  /**
   * What the agent is doing, for health checks and dashboards.
   *
   * @since 0.1.0
   * @category models
   */
  AgentStatus,
  /**
   * The agent's link with the orchestrator: connecting (with the last failed
   * attempt to reach it, if any), registered, waiting to reconnect, or
   * stopped.
   *
   * @since 0.1.0
   * @category models
   */
  Connection,
  /**
   * The last failed attempt to reach the orchestrator: the address, the
   * cause (`connect ECONNREFUSED ...`), its code, when, and how many failed
   * in a row.
   *
   * @since 0.1.0
   * @category models
   */
  ConnectionFailure
} from "./internal/agent/status.js"

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
  /**
   * The least severe log level the agent logs at (its own lines and those of
   * its steps). Default: `AGENT_LOG_LEVEL` from the environment (`All`,
   * `Trace`, `Debug`, `Info`, `Warning`, `Error`, `Fatal`, `None`), else the
   * level of the Effect that starts the agent (Effect's default: `Info`).
   */
  readonly logLevel?: LogLevel.Literal
}

/**
 * The environment variable of the agent's log level; see
 * {@link AgentOptions.logLevel}.
 *
 * @since 0.1.0
 * @category configuration
 */
export const logLevelConfig: Config.Config<Option.Option<LogLevel.LogLevel>> = Config.option(
  Config.logLevel("AGENT_LOG_LEVEL")
)

/**
 * A started agent: what `start` returns and the {@link RunningAgent} service
 * holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningAgentService {
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

/**
 * The agent an app runs, in its context: provided by {@link layer}, so that
 * a health check or a dashboard can read its status.
 *
 * @since 0.1.0
 * @category tags
 */
export class RunningAgent extends Context.Tag("bro-agent/RunningAgent")<RunningAgent, RunningAgentService>() {}

/**
 * Why an agent cannot start: its registration information, its data-channel
 * settings or its environment is wrong. Nothing has been connected then.
 *
 * @since 0.1.0
 * @category errors
 */
export type StartError =
  | Registration.InvalidRegistrationInformation
  | Fragments.InvalidDataChannelSettings
  | ConfigError.ConfigError

/**
 * Starts an agent in the current scope and returns at once. Invalid
 * registration information fails here, before any connection. Closing the
 * scope stops the agent: the control stream is closed, running steps and
 * transfers are interrupted, and it does not register again. An agent that
 * ends by itself logs its {@link AgentError} once, as an error.
 *
 * @since 0.1.0
 * @category running
 */
export const start = <E, R>(
  behavior: AgentBehavior<E, R>,
  options: AgentOptions = {}
): Effect.Effect<
  RunningAgentService,
  StartError,
  OrchestratorTransport | FileSystem.FileSystem | Scope.Scope | R
> => startAgent(behavior, options, true)

const startAgent = <E, R>(
  behavior: AgentBehavior<E, R>,
  options: AgentOptions,
  logEnd: boolean
): Effect.Effect<
  RunningAgentService,
  StartError,
  OrchestratorTransport | FileSystem.FileSystem | Scope.Scope | R
> =>
  Effect.gen(function*() {
    const registration = yield* Registration.make(behavior.registration)
    const agentId = registration.agentId
    const channel = yield* Fragments.makeDataChannel(agentId, {
      ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
      ...(options.dataChannelTimeout === undefined ? {} : { timeout: options.dataChannelTimeout })
    })
    const status = yield* SubscriptionRef.make<AgentStatus>({
      agentId,
      connection: { _tag: "Connecting", apiVersion: registration.apiVersion },
      action: undefined
    })
    const logLevel = options.logLevel === undefined
      ? yield* logLevelConfig
      : Option.some(LogLevel.fromLiteral(options.logLevel))
    const steps = yield* StepRunner.make(behavior, channel)
    const session = Session.run({
      registration,
      acknowledgeTimeout: Duration.decode(options.acknowledgeTimeout ?? "10 seconds"),
      reconnect: { ...defaultReconnect, ...options.reconnect }
    }, status, steps).pipe(
      // `run` hands the error to its caller, who reports it; an agent
      // started otherwise may never be joined, so it says how it ended.
      (self) => logEnd ? Effect.tapError(self, (error) => Effect.logError(error.message)) : self,
      Effect.annotateLogs({ agentId }),
      (self) => Option.isSome(logLevel) ? Logger.withMinimumLogLevel(self, logLevel.value) : self
    )
    const fiber = yield* Effect.forkScoped(session)
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
 * {@link AgentError}, which it returns without logging it: its caller
 * reports it (`NodeRuntime.runMain` logs it once).
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  behavior: AgentBehavior<E, R>,
  options: AgentOptions = {}
): Effect.Effect<
  never,
  AgentError | StartError,
  OrchestratorTransport | FileSystem.FileSystem | R
> => Effect.scoped(Effect.flatMap(startAgent(behavior, options, false), (agent) => agent.join))

/**
 * Starts an agent, as {@link start} does, when the Layer is built, and
 * provides it as {@link RunningAgent}; closing the Layer's scope stops it.
 * Building fails only on invalid registration information or configuration:
 * an agent that later ends by itself shows it in its status (`Stopped`) and
 * its `join`, and the Layer stays built.
 *
 * @example
 * ```ts
 * const health = Effect.gen(function*() {
 *   const agent = yield* Agent.RunningAgent
 *   return (yield* agent.status).connection._tag === "Registered"
 * })
 * const AgentLive = Agent.layer(behavior).pipe(
 *   Layer.provide(Layer.merge(GrpcTransport.layerConfig(), NodeFileSystem.layer))
 * )
 * health.pipe(Effect.provide(AgentLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  behavior: AgentBehavior<E, R>,
  options: AgentOptions = {}
): Layer.Layer<
  RunningAgent,
  StartError,
  OrchestratorTransport | FileSystem.FileSystem | R
> => Layer.scoped(RunningAgent, start(behavior, options))
