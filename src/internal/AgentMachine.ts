/**
 * The agent's protocol logic as a pure function from (state, event) to
 * (state, commands): which orchestrator message starts which step, what is
 * answered, what is ignored, and what a cancel does. No I/O: the running
 * agent (`Agent.ts`) feeds it events and carries out its commands.
 *
 * The facts it follows are those of the protocol's behaviour description,
 * section 3, with our departures: a cancel interrupts the running step, and
 * every cancel is answered.
 *
 * @since 0.1.0
 */
import type { Action, ApiVersion, Stage } from "../core/Action.js"
import { isAction } from "../core/Action.js"
import type { FragmentInformation } from "../core/Fragment.js"
import type { AgentMessage, OrchestratorMessage } from "../core/Message.js"
import { AgentMessage as AgentMessages } from "../core/Message.js"
import type { SoftwareVersionFields } from "../core/SoftwareVersion.js"

/**
 * The user's steps, one per stage of each action, and the cancel step.
 *
 * @since 0.1.0
 * @category models
 */
export type StepName =
  | "prepareBackup"
  | "executeBackup"
  | "postBackup"
  | "prepareRestore"
  | "executeRestore"
  | "postRestore"
  | "cancel"

/**
 * What the agent knows of the action it is in.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActionInfo {
  readonly action: Action
  readonly backupName: string
  readonly backupType: string
  /** Restore only: the software version the backup was made with. */
  readonly softwareVersion: SoftwareVersionFields | undefined
  /** Restore only: the backup's fragments of this agent. */
  readonly fragments: ReadonlyArray<FragmentInformation>
}

/**
 * Where the agent is.
 *
 * - `Idle`: in no stage. `record` is the last action since registration
 *   (running, finished or ended by an unexpected message), which a cancel
 *   is run for.
 * - `Collecting`: a restore preparation whose fragment list is still
 *   arriving as separate entries.
 * - `Running`: a stage's step runs. Messages other than a cancel wait.
 * - `StageDone`: the stage's step has answered; the next stage may come.
 * - `Cancelling`: the cancel step runs.
 *
 * @since 0.1.0
 * @category models
 */
export type Phase =
  | { readonly _tag: "Idle"; readonly record: ActionInfo | undefined }
  | { readonly _tag: "Collecting"; readonly info: ActionInfo }
  | {
    readonly _tag: "Running"
    readonly info: ActionInfo
    readonly stage: Stage
    readonly stepId: number
    /** An API 2.0 backup: one stage that creates and sends the fragments and ends the action. */
    readonly only: boolean
    readonly waiting: ReadonlyArray<OrchestratorMessage>
  }
  | { readonly _tag: "StageDone"; readonly info: ActionInfo; readonly stage: Stage }
  | {
    readonly _tag: "Cancelling"
    readonly info: ActionInfo
    readonly stepId: number
    readonly waiting: ReadonlyArray<OrchestratorMessage>
  }

/**
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly phase: Phase
  readonly nextStepId: number
}

/**
 * The state of an agent that has just registered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial: State = { phase: { _tag: "Idle", record: undefined }, nextStepId: 1 }

/**
 * What happens to the agent.
 *
 * @since 0.1.0
 * @category models
 */
export type Event =
  | { readonly _tag: "Received"; readonly message: OrchestratorMessage }
  | { readonly _tag: "StepEnded"; readonly stepId: number; readonly success: boolean; readonly message: string }
  | { readonly _tag: "StreamEnded" }

/**
 * What the agent must do.
 *
 * - `Run`: start the step; its end comes back as `StepEnded` with `stepId`.
 * - `Interrupt`: stop the running step; its end must not be reported.
 * - `RunUnanswered`: run the cancel step to its end, with no answer to send
 *   (the stream it would go to has ended).
 * - `AwaitUnanswered`: let the running step finish; its end is not reported.
 * - `Send`: write a message on the control stream.
 * - `Log`: say what happened to a message that is not acted on.
 *
 * @since 0.1.0
 * @category models
 */
export type Command =
  | { readonly _tag: "Run"; readonly stepId: number; readonly step: StepName; readonly info: ActionInfo }
  | { readonly _tag: "Interrupt"; readonly stepId: number }
  | { readonly _tag: "RunUnanswered"; readonly step: "cancel"; readonly info: ActionInfo }
  | { readonly _tag: "AwaitUnanswered"; readonly stepId: number }
  | { readonly _tag: "Send"; readonly message: AgentMessage }
  | { readonly _tag: "Log"; readonly level: "Info" | "Warning"; readonly message: string }

/**
 * What the machine needs to know of the agent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly agentId: string
  readonly apiVersion: ApiVersion
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Transition {
  readonly state: State
  readonly commands: ReadonlyArray<Command>
}

/**
 * The texts a stage-complete carries when a message arrives that the stage
 * did not expect (those of the reference agent, which BRO shows users).
 *
 * @since 0.1.0
 * @category constants
 */
export const unexpectedTexts = {
  backupPreparation: "Unsuccessful backup stage",
  backupExecution: "Unsuccessful backup stage.",
  restore: "Unsuccessful restore stage"
} as const

/**
 * The answer to a cancel when no action happened since registration.
 *
 * @since 0.1.0
 * @category constants
 */
export const nothingToCancel = "Nothing to cancel: no action since registration"

const stepFor = (action: Action, stage: Stage): StepName => {
  if (action === "BACKUP") {
    return stage === "PREPARATION" ? "prepareBackup" : stage === "EXECUTION" ? "executeBackup" : "postBackup"
  }
  return stage === "PREPARATION" ? "prepareRestore" : stage === "EXECUTION" ? "executeRestore" : "postRestore"
}

const describe = (message: OrchestratorMessage): string =>
  message._tag === "Unsupported"
    ? `${message.messageType} (action ${message.action})`
    : message._tag === "RegisterAcknowledge"
    ? "REGISTER_ACKNOWLEDGE"
    : `${message._tag} (action ${message.action})`

// BRO sends one empty fragment in a 4.0 restore preparation to say that the
// list follows as separate entries. No real fragment has an empty id.
const isPlaceholder = (fragments: ReadonlyArray<FragmentInformation>): boolean =>
  fragments.length === 1 && fragments[0]?.fragmentId === ""

const stageComplete = (settings: Settings, action: Action, success: boolean, message: string): Command => ({
  _tag: "Send",
  message: AgentMessages.StageComplete({ action, success, agentId: settings.agentId, message })
})

const log = (level: "Info" | "Warning", message: string): Command => ({ _tag: "Log", level, message })

interface Builder {
  state: State
  readonly commands: Array<Command>
}

const run = (builder: Builder, info: ActionInfo, stage: Stage, only = false): void => {
  const stepId = builder.state.nextStepId
  const step = only ? "executeBackup" : stepFor(info.action, stage)
  builder.commands.push({ _tag: "Run", stepId, step, info })
  builder.state = {
    phase: { _tag: "Running", info, stage, stepId, only, waiting: [] },
    nextStepId: stepId + 1
  }
}

const startCancel = (builder: Builder, info: ActionInfo, waiting: ReadonlyArray<OrchestratorMessage>): void => {
  const stepId = builder.state.nextStepId
  builder.commands.push({ _tag: "Run", stepId, step: "cancel", info })
  builder.state = { phase: { _tag: "Cancelling", info, stepId, waiting }, nextStepId: stepId + 1 }
}

const setPhase = (builder: Builder, phase: Phase): void => {
  builder.state = { ...builder.state, phase }
}

const unexpectedText = (info: ActionInfo, stage: Stage): string =>
  info.action === "RESTORE"
    ? unexpectedTexts.restore
    : stage === "PREPARATION"
    ? unexpectedTexts.backupPreparation
    : unexpectedTexts.backupExecution

// A message handled by a phase that is not running a step.
const receive = (settings: Settings, builder: Builder, message: OrchestratorMessage): void => {
  const phase = builder.state.phase
  if (message._tag === "RegisterAcknowledge") {
    builder.commands.push(log("Info", "Ignored a REGISTER_ACKNOWLEDGE: the agent is already registered"))
    return
  }
  switch (phase._tag) {
    case "Running":
    case "Cancelling": {
      if (message._tag === "Cancel" && phase._tag === "Running") {
        builder.commands.push({ _tag: "Interrupt", stepId: phase.stepId })
        startCancel(builder, phase.info, phase.waiting)
      } else {
        setPhase(builder, { ...phase, waiting: [...phase.waiting, message] })
      }
      return
    }
    case "Idle": {
      if (message._tag === "Preparation" && isAction(message.action)) {
        const info: ActionInfo = {
          action: message.action,
          backupName: message.backupName,
          backupType: message.backupType,
          softwareVersion: message.softwareVersion,
          fragments: message.action === "RESTORE" && !isPlaceholder(message.fragments) ? message.fragments : []
        }
        if (message.action === "BACKUP") {
          run(builder, info, settings.apiVersion === "2.0" ? "EXECUTION" : "PREPARATION", settings.apiVersion === "2.0")
        } else if (isPlaceholder(message.fragments)) {
          setPhase(builder, { _tag: "Collecting", info })
        } else {
          run(builder, info, "PREPARATION")
        }
      } else if (message._tag === "Cancel") {
        if (phase.record === undefined) {
          const action = isAction(message.action) ? message.action : "BACKUP"
          builder.commands.push(stageComplete(settings, action, true, nothingToCancel))
        } else {
          startCancel(builder, phase.record, [])
        }
      } else {
        builder.commands.push(log("Warning", `Ignored ${describe(message)}: the agent is in no action`))
      }
      return
    }
    case "Collecting": {
      if (message._tag === "FragmentListEntry") {
        const info = { ...phase.info, fragments: [...phase.info.fragments, message.fragment] }
        if (message.last) run(builder, info, "PREPARATION")
        else setPhase(builder, { _tag: "Collecting", info })
      } else if (message._tag === "Cancel") {
        startCancel(builder, phase.info, [])
      } else {
        builder.commands.push(stageComplete(settings, "RESTORE", false, unexpectedTexts.restore))
        builder.commands.push(log("Warning", `Answered ${describe(message)} as unexpected while the fragment list arrives`))
        setPhase(builder, { _tag: "Idle", record: phase.info })
      }
      return
    }
    case "StageDone": {
      const { info, stage } = phase
      if (message._tag === "Cancel") {
        startCancel(builder, info, [])
      } else if (stage === "PREPARATION" && message._tag === "Execution") {
        run(builder, info, "EXECUTION")
      } else if (stage === "EXECUTION" && message._tag === "PostActions") {
        run(builder, info, "POST_ACTIONS")
      } else if (stage === "PREPARATION" && info.action === "RESTORE" && message._tag === "FragmentListEntry") {
        builder.commands.push(log("Warning", "Ignored a FRAGMENT_LIST_ENTRY after the fragment list was complete"))
      } else {
        builder.commands.push(stageComplete(settings, info.action, false, unexpectedText(info, stage)))
        builder.commands.push(log("Warning", `Answered ${describe(message)} as unexpected after the ${stage} stage`))
        setPhase(builder, { _tag: "Idle", record: info })
      }
      return
    }
  }
}

// Messages that waited for a step are handled in order until a step starts again.
const drain = (settings: Settings, builder: Builder, waiting: ReadonlyArray<OrchestratorMessage>): void => {
  for (const [index, message] of waiting.entries()) {
    const phase = builder.state.phase
    if (phase._tag === "Running" || phase._tag === "Cancelling") {
      setPhase(builder, { ...phase, waiting: [...phase.waiting, ...waiting.slice(index)] })
      return
    }
    receive(settings, builder, message)
  }
}

/**
 * Whether an action is in progress: a stage runs, has answered and waits
 * for the next, or the fragment list is arriving. (An action whose
 * post-actions answered is over.)
 *
 * @since 0.1.0
 * @category queries
 */
export const inProgress = (state: State): ActionInfo | undefined => {
  const phase = state.phase
  switch (phase._tag) {
    case "Idle":
      return undefined
    default:
      return phase.info
  }
}

/**
 * The machine.
 *
 * @since 0.1.0
 * @category transitions
 */
export const step = (settings: Settings, state: State, event: Event): Transition => {
  const builder: Builder = { state, commands: [] }
  const phase = state.phase
  switch (event._tag) {
    case "Received":
      receive(settings, builder, event.message)
      break
    case "StepEnded": {
      if (phase._tag === "Running" && phase.stepId === event.stepId) {
        builder.commands.push(stageComplete(settings, phase.info.action, event.success, event.message))
        const finished = phase.only || phase.stage === "POST_ACTIONS"
        setPhase(
          builder,
          finished ? { _tag: "Idle", record: phase.info } : { _tag: "StageDone", info: phase.info, stage: phase.stage }
        )
        drain(settings, builder, phase.waiting)
      } else if (phase._tag === "Cancelling" && phase.stepId === event.stepId) {
        builder.commands.push(stageComplete(settings, phase.info.action, event.success, event.message))
        setPhase(builder, { _tag: "Idle", record: phase.info })
        drain(settings, builder, phase.waiting)
      }
      // Otherwise the step was interrupted and its end is not reported.
      break
    }
    case "StreamEnded": {
      // A stage step is interrupted and the cancel step runs; a cancel step
      // already running is left to finish. Neither is answered: the stream
      // an answer would go to has ended.
      if (phase._tag === "Running") {
        builder.commands.push({ _tag: "Interrupt", stepId: phase.stepId })
      }
      if (phase._tag === "Cancelling") {
        builder.commands.push({ _tag: "AwaitUnanswered", stepId: phase.stepId })
      } else {
        const info = inProgress(state)
        if (info !== undefined) builder.commands.push({ _tag: "RunUnanswered", step: "cancel", info })
      }
      builder.state = { ...initial, nextStepId: state.nextStepId }
      break
    }
  }
  return { state: builder.state, commands: builder.commands }
}
