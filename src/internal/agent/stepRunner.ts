/**
 * The step runner: it runs the user's stage Effects, each in a fiber of the
 * agent's scope that a cancel can interrupt, and turns each outcome into the
 * stage-complete answer the state machine sends. It carries out the machine's
 * step commands; the session carries out the others.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Cause, Clock, Effect, Exit, Fiber, Metric, MetricLabel, Option, Stream } from "effect"
import * as AgentMetrics from "../../AgentMetrics.js"
import type { AgentBehavior, AnyStageContext, StageOutcome } from "../../behavior/AgentBehavior.js"
import { defaultMessages } from "../../behavior/AgentBehavior.js"
import * as Fragments from "../../behavior/Fragments.js"
import type * as Machine from "../AgentMachine.js"

/**
 * The machine's commands about steps.
 *
 * @since 0.1.0
 * @category models
 */
export type StepCommand = Extract<Machine.Command, { readonly _tag: "Run" | "Interrupt" | "RunUnanswered" | "AwaitUnanswered" }>

/**
 * A step's end, as the machine is told it.
 *
 * @since 0.1.0
 * @category models
 */
export type StepEnded = Extract<Machine.Event, { readonly _tag: "StepEnded" }>

/**
 * @since 0.1.0
 * @category models
 */
export interface StepRunner<R> {
  /**
   * Carries out a step command. A step started by `Run` hands its end to
   * `report`, unless it is interrupted first.
   */
  readonly execute: (
    command: StepCommand,
    report: (ended: StepEnded) => Effect.Effect<unknown>
  ) => Effect.Effect<void, never, R>
  /** Forgets the fiber of a step whose end has been reported. */
  readonly ended: (stepId: number) => Effect.Effect<void>
}

/**
 * A step runner for `behavior`, whose steps use `channel` and run in the
 * current scope (the agent's), so that closing it interrupts them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(
  behavior: AgentBehavior<E, R>,
  channel: Fragments.DataChannel
): Effect.Effect<StepRunner<R>, never, Scope.Scope> =>
  Effect.map(Effect.scope, (agentScope) => {
    const agentId = channel.agentId
    const steps = new Map<number, Fiber.RuntimeFiber<void>>()

    const tagged = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) => Metric.tagged(metric, "agent_id", agentId)
    const bytesSent = tagged(AgentMetrics.bytesSent)
    const bytesReceived = tagged(AgentMetrics.bytesReceived)
    const fragmentsSent = tagged(AgentMetrics.fragmentsSent)
    const fragmentsReceived = tagged(AgentMetrics.fragmentsReceived)
    const uploadsFailed = Metric.tagged(tagged(AgentMetrics.fragmentsFailed), "direction", "upload")
    const downloadsFailed = Metric.tagged(tagged(AgentMetrics.fragmentsFailed), "direction", "download")
    const sizeOf = (fragment: {
      readonly backupFile: { readonly size: number }
      readonly customMetadataFile: { readonly size: number } | undefined
    }) => fragment.backupFile.size + (fragment.customMetadataFile?.size ?? 0)

    const contextFor = (info: Machine.ActionInfo): AnyStageContext => {
      const target = { backupName: info.backupName, backupType: info.backupType }
      if (info.action === "BACKUP") {
        const sendFragment = (fragment: Fragments.BackupFragment) =>
          Fragments.sendFragment(channel, target, fragment).pipe(
            Effect.tap((sent) => Metric.increment(fragmentsSent).pipe(Effect.zipRight(Metric.incrementBy(bytesSent, sizeOf(sent))))),
            Effect.tapError(() => Metric.increment(uploadsFailed))
          )
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
        downloadFragment: (fragment, folder) =>
          Fragments.downloadFragment(channel, target, fragment, folder).pipe(
            Effect.tap((downloaded) =>
              Metric.increment(fragmentsReceived).pipe(Effect.zipRight(Metric.incrementBy(bytesReceived, sizeOf(downloaded))))
            ),
            Effect.tapError(() => Metric.increment(downloadsFailed))
          ),
        downloadFragmentStream: (fragment, options) =>
          Fragments.downloadFragmentStream(channel, target, fragment, options).pipe(
            Stream.tap((chunk) => Metric.incrementBy(bytesReceived, chunk.byteLength)),
            Stream.tapError((error) =>
              error instanceof Fragments.FailedToDownload ? Metric.increment(downloadsFailed) : Effect.void
            ),
            Stream.onDone(() => Metric.increment(fragmentsReceived))
          )
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

    // A step's duration and outcome, once it ended (an interrupted step too).
    const measured = <A, E2, R2>(step: Machine.StepName, info: Machine.ActionInfo, self: Effect.Effect<A, E2, R2>) =>
      Effect.flatMap(Clock.currentTimeMillis, (started) =>
        Effect.onExit(self, (exit) =>
          Effect.gen(function*() {
            const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
            const outcome = Exit.isSuccess(exit)
              ? "success"
              : Cause.isInterruptedOnly(exit.cause)
              ? "interrupted"
              : "failure"
            yield* Metric.increment(Metric.taggedWithLabels(tagged(AgentMetrics.stages), labels(info, step, outcome)))
            yield* Metric.update(
              Metric.taggedWithLabels(tagged(AgentMetrics.stageDuration), labels(info, step, outcome)),
              seconds
            )
          })))

    // Runs a user step and turns its outcome into a stage-complete's success and text.
    const runStep = (step: Machine.StepName, info: Machine.ActionInfo) =>
      measured(step, info, stepEffect(step, contextFor(info))).pipe(
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

    const execute: StepRunner<R>["execute"] = (command, report) => {
      switch (command._tag) {
        case "Run":
          return runStep(command.step, command.info).pipe(
            Effect.flatMap((result) => report({ _tag: "StepEnded", stepId: command.stepId, ...result })),
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
              Effect.logInfo(
                `Ran the cancel step after the control stream ended, with no stream to answer on (${
                  result.success ? "success" : "failure"
                }): ${result.message}`
              )
            )
          )
      }
    }

    return {
      execute,
      ended: (stepId) => Effect.sync(() => steps.delete(stepId))
    }
  })

const stageOf: Record<Machine.StepName, string> = {
  prepareBackup: "PREPARATION",
  executeBackup: "EXECUTION",
  postBackup: "POST_ACTIONS",
  prepareRestore: "PREPARATION",
  executeRestore: "EXECUTION",
  postRestore: "POST_ACTIONS",
  cancel: "CANCEL"
}

const labels = (info: Machine.ActionInfo, step: Machine.StepName, outcome: string) => [
  MetricLabel.make("action", info.action),
  MetricLabel.make("stage", stageOf[step]),
  MetricLabel.make("outcome", outcome)
]

const errorText = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}
