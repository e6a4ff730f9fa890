/**
 * Faults on demand: what a real BRO never does on purpose, for testing how
 * an agent copes. A fault names one agent (and, for data calls, optionally
 * one fragment); it fires once, at its first match, and is removed then. One
 * that concerns an action (every kind but `refuse-registration`) applies to
 * the running action or, when none runs, to the next one, and is removed
 * when that action ends, fired or not. `refuse-registration` waits for the
 * next registration of its id.
 *
 * The same Schema (`FaultSpec`) is read from `OrchestratorOptions.faults`,
 * from `POST /v1/faults` and from `bro-agent fault add`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Ref, Schema, Stream } from "effect"
import { StatusCode } from "../src/core/Status.js"
import { OrchestratorEvents } from "./Events.js"

const AgentId = Schema.String.pipe(Schema.minLength(1, { message: () => "agentId must not be empty" }))
const FragmentId = Schema.optional(Schema.String)
const StageName = Schema.Literal("PREPARATION", "EXECUTION", "POST_ACTIONS", "CANCEL")
const Bytes = Schema.Number.pipe(
  Schema.filter((bytes) => Number.isSafeInteger(bytes) && bytes >= 0, { message: () => "atByte must be a whole number of bytes, 0 or more" })
)
const Seconds = Schema.Number.pipe(
  Schema.filter((seconds) => Number.isFinite(seconds) && seconds >= 0, { message: () => "seconds must be 0 or more" })
)

/**
 * Refuses a fragment's upload with ABORTED once `atByte` bytes of its
 * content arrived, or, without `atByte`, right after its backup file's
 * checksum checked out.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AbortUpload = Schema.Struct({
  kind: Schema.Literal("abort-upload"),
  agentId: AgentId,
  fragmentId: FragmentId,
  atByte: Schema.optional(Bytes),
  message: Schema.optional(Schema.String)
})

/**
 * Serves a fragment's restore wrongly: `wrong-checksum` sends every byte and
 * a checksum that is not the stored one; `cut` ends the stream with OK after
 * `atByte` bytes of content (0 by default), no checksum sent; `stall` stops
 * sending after `atByte` bytes and waits until the agent or the action gives
 * up.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServeRestore = Schema.Struct({
  kind: Schema.Literal("serve-restore"),
  agentId: AgentId,
  fragmentId: FragmentId,
  mode: Schema.Literal("wrong-checksum", "cut", "stall"),
  atByte: Schema.optional(Bytes)
})

/**
 * Ends the agent's control stream with `status` (and `message`) instead of
 * sending it `stage`'s message.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EndControlStream = Schema.Struct({
  kind: Schema.Literal("end-stream"),
  agentId: AgentId,
  stage: StageName,
  status: StatusCode,
  message: Schema.optional(Schema.String)
})

/**
 * Refuses the next registration of `agentId` with `status` and `message`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RefuseRegistration = Schema.Struct({
  kind: Schema.Literal("refuse-registration"),
  agentId: AgentId,
  status: StatusCode,
  message: Schema.String
})

/**
 * Sends `stage`'s message to the agent `seconds` late (the other agents get
 * theirs at once).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DelayStage = Schema.Struct({
  kind: Schema.Literal("delay-stage"),
  agentId: AgentId,
  stage: StageName,
  seconds: Seconds
})

/**
 * Holds the agent's answer to `stage` for `seconds` before taking it (the
 * stream's later messages wait behind it).
 *
 * @since 0.1.0
 * @category schemas
 */
export const HoldAnswer = Schema.Struct({
  kind: Schema.Literal("hold-answer"),
  agentId: AgentId,
  stage: StageName,
  seconds: Seconds
})

/**
 * A fault to inject, as the options, the REST API and the command line take it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FaultSpec = Schema.Union(AbortUpload, ServeRestore, EndControlStream, RefuseRegistration, DelayStage, HoldAnswer)

/**
 * @since 0.1.0
 * @category models
 */
export type FaultSpec = typeof FaultSpec.Type

/**
 * A fault waiting to fire: its id, and the action it applies to once one is
 * running.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ArmedFault = Schema.Struct({
  id: Schema.String,
  actionId: Schema.optional(Schema.String),
  fault: FaultSpec
})

/**
 * @since 0.1.0
 * @category models
 */
export type ArmedFault = typeof ArmedFault.Type

/**
 * The faults of one orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class Faults extends Context.Tag("bro-agent/orchestrator/Faults")<
  Faults,
  {
    /** Arms a fault. */
    readonly add: (fault: FaultSpec) => Effect.Effect<ArmedFault>
    /** The faults armed, in the order they were. */
    readonly armed: Effect.Effect<ReadonlyArray<ArmedFault>>
    /** Removes one fault, or all; how many were removed. */
    readonly clear: (id?: string) => Effect.Effect<number>
    /** Takes (fires and removes) the first armed fault `matches` accepts. */
    readonly take: <F extends FaultSpec>(matches: (fault: FaultSpec) => fault is F) => Effect.Effect<F | undefined>
  }
>() {}

/**
 * A fault of this kind for this agent (and, when the fault names one, this fragment).
 *
 * @since 0.1.0
 * @category matching
 */
export const matching = <K extends FaultSpec["kind"]>(
  kind: K,
  agentId: string,
  details: { readonly fragmentId?: string; readonly stage?: string } = {}
) =>
(fault: FaultSpec): fault is Extract<FaultSpec, { readonly kind: K }> =>
  fault.kind === kind && fault.agentId === agentId &&
  (details.fragmentId === undefined || !("fragmentId" in fault) || fault.fragmentId === undefined ||
    fault.fragmentId === details.fragmentId) &&
  (details.stage === undefined || !("stage" in fault) || fault.stage === details.stage)

/**
 * The faults of one orchestrator, armed with `initial`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (initial: ReadonlyArray<FaultSpec> = []): Layer.Layer<Faults, never, OrchestratorEvents> =>
  Layer.scoped(
    Faults,
    Effect.gen(function*() {
      const events = yield* OrchestratorEvents
      const faults = yield* Ref.make<ReadonlyArray<ArmedFault>>([])
      const counter = yield* Ref.make(0)
      const current = yield* Ref.make<string | undefined>(undefined)
      const add = (fault: FaultSpec) =>
        Effect.gen(function*() {
          const id = String(yield* Ref.updateAndGet(counter, (count) => count + 1))
          const actionId = fault.kind === "refuse-registration" ? undefined : yield* Ref.get(current)
          const armed: ArmedFault = actionId === undefined ? { id, fault } : { id, actionId, fault }
          yield* Ref.update(faults, (all) => [...all, armed])
          return armed
        })
      // Binds the faults waiting for an action to the one that starts, and
      // removes an action's faults when it ends.
      yield* events.subscribe.pipe(
        Stream.runForEach((event) => {
          if (event._tag === "ActionStarted") {
            const actionId = event.action.id
            return Effect.zipRight(
              Ref.set(current, actionId),
              Ref.update(faults, (all) =>
                all.map((armed) =>
                  armed.actionId === undefined && armed.fault.kind !== "refuse-registration" ? { ...armed, actionId } : armed
                ))
            )
          }
          if (event._tag === "ActionFinished") {
            const actionId = event.action.id
            return Effect.zipRight(
              Ref.set(current, undefined),
              Ref.update(faults, (all) => all.filter((armed) => armed.actionId !== actionId))
            )
          }
          return Effect.void
        }),
        Effect.forkScoped
      )
      // The subscription is taken when that fiber first runs.
      yield* Effect.yieldNow()
      for (const fault of initial) yield* add(fault)
      return {
        add,
        armed: Ref.get(faults),
        clear: (id) =>
          Ref.modify(faults, (all) => {
            const kept = all.filter((armed) => id !== undefined && armed.id !== id)
            return [all.length - kept.length, kept] as const
          }),
        take: <F extends FaultSpec>(matches: (fault: FaultSpec) => fault is F) =>
          Ref.modify(faults, (all): readonly [F | undefined, ReadonlyArray<ArmedFault>] => {
            const index = all.findIndex((armed) => matches(armed.fault))
            const found = all[index]
            if (found === undefined || !matches(found.fault)) return [undefined, all]
            return [found.fault, [...all.slice(0, index), ...all.slice(index + 1)]]
          })
      }
    })
  )
