// The agent's state machine fed with random, valid-but-wrong orchestrator
// messages interleaved with the ends of the steps it runs, in random order
// (and, now and then, the end of the control stream), with its invariants
// checked after every event. Pure: no I/O, no time.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Action, ApiVersion } from "../../src/core/Action.js"
import type { OrchestratorMessage } from "../../src/core/Message.js"
import { isAction } from "../../src/core/Action.js"
import * as Machine from "../../src/internal/AgentMachine.js"
import * as Fuzz from "../support/FaultFuzz.js"
import * as FaultHygiene from "../support/FaultHygiene.js"

const agentId = "fuzz-agent"
const events = 1000
const unexpectedTexts: ReadonlyArray<string> = Object.values(Machine.unexpectedTexts)

interface TrackedStep {
  readonly step: Machine.StepName
  readonly action: Action
  ended: boolean
  interrupted: boolean
  /** Whether its end was given to the machine (a step ends once, or never when interrupted first). */
  reported: boolean
}

/** How much of the machine a run went through: a fuzz that never left Idle would prove nothing. */
interface Coverage {
  stageAnswers: number
  cancelAnswers: number
  unexpectedAnswers: number
  interrupts: number
  staleEnds: number
  streamEnds: number
}

class InvariantBroken extends Error {}

/**
 * behaviour.md §3: the answer a message gets at once, as unexpected, in a phase where no step runs;
 * undefined when it gets none (it is the next stage's, a cancel, a fragment-list entry where one
 * fits, or the agent is idle or busy with a step).
 */
const unexpectedAnswer = (
  phase: Machine.Phase,
  message: OrchestratorMessage
): { readonly action: Action; readonly text: string } | undefined => {
  if (message._tag === "Cancel" || message._tag === "RegisterAcknowledge") return undefined
  switch (phase._tag) {
    case "Idle":
    case "Running":
    case "Cancelling":
      return undefined
    case "Collecting":
      return message._tag === "FragmentListEntry" ? undefined : { action: "RESTORE", text: Machine.unexpectedTexts.restore }
    case "StageDone": {
      const { info, stage } = phase
      if (stage === "PREPARATION" && message._tag === "Execution") return undefined
      if (stage === "EXECUTION" && message._tag === "PostActions") return undefined
      if (stage === "PREPARATION" && info.action === "RESTORE" && message._tag === "FragmentListEntry") return undefined
      const text = info.action === "RESTORE"
        ? Machine.unexpectedTexts.restore
        : stage === "PREPARATION"
        ? Machine.unexpectedTexts.backupPreparation
        : Machine.unexpectedTexts.backupExecution
      return { action: info.action, text }
    }
  }
}

/**
 * Runs `events` random events through the machine and checks, after each:
 * - only StageComplete messages are sent, with the agent's id and an action the agent can be in;
 * - a received message is answered at most once, at once;
 * - while idle, nothing but a cancel is answered; after a stage, a message that is not the next stage's
 *   is answered at once as unexpected, with the text and action of behaviour.md §3;
 * - a step's end is answered exactly once (with its result and its action), and never after its interrupt;
 * - at most one step runs at a time;
 * - every cancel is answered exactly once, once its cancel step ended (checked at the end, after the
 *   running steps were let end);
 * - when the stream ends (now and then), nothing is sent, the running stage step is interrupted, the
 *   cancel step runs unanswered for an action in progress, and the agent is as just registered.
 */
const fuzz = (seed: number, apiVersion: ApiVersion): Coverage => {
  const random = Fuzz.random(seed)
  const settings: Machine.Settings = { agentId, apiVersion }
  const steps = new Map<number, TrackedStep>()
  const coverage: Coverage = { stageAnswers: 0, cancelAnswers: 0, unexpectedAnswers: 0, interrupts: 0, staleEnds: 0, streamEnds: 0 }
  const history: Array<string> = []
  let state = Machine.initial
  // Cancels received and answered on the current stream; those pending when it ends are lost with it.
  let cancelsReceived = 0
  let cancelsAnswered = 0

  const check = (condition: boolean, rule: string) => {
    if (!condition) {
      throw new InvariantBroken(
        `${rule}\nseed ${seed}, API ${apiVersion}; the last events (newest last):\n  ${history.slice(-12).join("\n  ")}`
      )
    }
  }

  const live = () => [...steps.values()].filter((step) => !step.ended && !step.interrupted)

  const apply = (event: Machine.Event) => {
    const before = state
    const { commands, state: after } = Machine.step(settings, before, event)
    state = after
    history.push(`${JSON.stringify(event)} in ${before.phase._tag} -> ${JSON.stringify(commands.map((c) => c._tag === "Send" ? c.message : c._tag))}`)
    const sends = commands.flatMap((command) => (command._tag === "Send" ? [command.message] : []))
    // The step whose end this is stops running before anything it leads to starts.
    const ending = event._tag === "StepEnded" ? steps.get(event.stepId) : undefined
    const stale = ending === undefined || ending.ended || ending.interrupted
    if (ending !== undefined && !stale) ending.ended = true

    for (const message of sends) {
      check(message._tag === "StageComplete", "only StageComplete messages are sent")
      if (message._tag !== "StageComplete") return
      check(message.agentId === agentId, "a stage-complete carries the agent's id")
      check(isAction(message.action), "a stage-complete carries BACKUP or RESTORE")
    }
    for (const command of commands) {
      switch (command._tag) {
        case "Run": {
          check(!steps.has(command.stepId), `step ${command.stepId} is run once`)
          check(live().length === 0, `step ${command.stepId} starts while another step runs`)
          steps.set(command.stepId, { step: command.step, action: command.info.action, ended: false, interrupted: false, reported: false })
          break
        }
        case "Interrupt": {
          const step = steps.get(command.stepId)
          check(step !== undefined && !step.ended && !step.interrupted, `only a running step is interrupted (${command.stepId})`)
          if (step !== undefined) step.interrupted = true
          coverage.interrupts++
          break
        }
        case "RunUnanswered":
          check(event._tag === "StreamEnded", "the cancel step runs unanswered only when the stream ended")
          check(Machine.inProgress(before) !== undefined, "the cancel step runs on a lost stream only for an action in progress")
          break
        case "AwaitUnanswered": {
          const step = steps.get(command.stepId)
          check(event._tag === "StreamEnded", "a step is left to finish unanswered only when the stream ended")
          check(step?.step === "cancel" && !step.ended && !step.interrupted, "only a running cancel step is left to finish")
          // Its end goes to the stream that ended: the machine never hears of it.
          if (step !== undefined) {
            step.ended = true
            step.reported = true
          }
          break
        }
        default:
          break
      }
    }

    if (event._tag === "StreamEnded") check(sends.length === 0, "nothing is sent on a stream that ended")

    const isUnexpectedAnswer = (message: (typeof sends)[number]) =>
      message._tag === "StageComplete" && !message.success && unexpectedTexts.includes(message.message)

    if (event._tag === "Received") {
      const message = event.message
      check(sends.length <= 1, "a received message is answered at most once")
      if (message._tag === "Cancel") {
        cancelsReceived++
        if (sends.length === 1) {
          // Answered at once only when there is nothing to cancel; otherwise the cancel step's end answers it.
          check(
            before.phase._tag === "Idle" && before.phase.record === undefined,
            "a cancel is answered at once only when no action happened since registration"
          )
          check(
            sends[0]?._tag === "StageComplete" && sends[0].success && sends[0].message === Machine.nothingToCancel,
            "a cancel with nothing to cancel is answered success, saying so"
          )
          coverage.cancelAnswers++
          cancelsAnswered++
        }
      } else {
        if (before.phase._tag === "Idle") check(sends.length === 0, "while idle, nothing but a cancel is answered")
        const expected = unexpectedAnswer(before.phase, message)
        check(
          expected === undefined
            ? sends.length === 0
            : sends.length === 1 && sends[0]?._tag === "StageComplete" && sends[0].action === expected.action &&
              sends[0].message === expected.text,
          expected === undefined
            ? `${message._tag} is not answered in ${before.phase._tag}`
            : `${message._tag} in ${before.phase._tag} is answered as unexpected: ${expected.action}, "${expected.text}"`
        )
        for (const send of sends) {
          check(isUnexpectedAnswer(send), "a message is answered at once only as unexpected")
          coverage.unexpectedAnswers++
        }
      }
    }

    if (event._tag === "StepEnded") {
      const step = ending
      check(step !== undefined, `the end of an unknown step ${event.stepId}`)
      if (step === undefined) return
      if (stale) {
        check(commands.length === 0, `the end of step ${event.stepId} (${step.step}) after its interrupt is ignored`)
        coverage.staleEnds++
        return
      }
      const [answer, ...drained] = sends
      check(
        answer?._tag === "StageComplete" && answer.success === event.success && answer.message === event.message &&
          answer.action === step.action,
        `the end of step ${event.stepId} (${step.step}) is answered with its result and its action, first`
      )
      if (step.step === "cancel") {
        coverage.cancelAnswers++
        cancelsAnswered++
      } else {
        coverage.stageAnswers++
      }
      // The messages that waited for the step are handled now: each answered at most once, as unexpected.
      const waiting = before.phase._tag === "Running" || before.phase._tag === "Cancelling" ? before.phase.waiting.length : 0
      check(drained.length <= waiting, "after a step's end, only messages that waited are answered")
      for (const send of drained) {
        check(isUnexpectedAnswer(send), "a message that waited is answered only as unexpected")
        coverage.unexpectedAnswers++
      }
    }
  }

  const endStream = () => {
    const before = state
    apply({ _tag: "StreamEnded" })
    check(state.phase._tag === "Idle" && state.phase.record === undefined, "after the stream ended the agent is as just registered")
    check(
      before.phase._tag !== "Running" || steps.get(before.phase.stepId)?.interrupted === true,
      "a running stage step is interrupted when the stream ends"
    )
    check(live().length === 0, "no step runs for the new stream")
    cancelsReceived = 0
    cancelsAnswered = 0
    coverage.streamEnds++
  }

  const endOne = (candidates: ReadonlyArray<[number, TrackedStep]>) => {
    const [stepId, step] = random.pick(candidates)
    step.reported = true
    // An interrupted step's fiber usually dies before it reports; sometimes its end was already queued.
    if (step.interrupted && random.chance(0.5)) return
    const success = random.chance(0.8)
    apply({ _tag: "StepEnded", stepId, success, message: `step ${stepId} ${success ? "succeeded" : "failed"}` })
  }

  for (let index = 0; index < events; index++) {
    const unreported = [...steps.entries()].filter(([, step]) => !step.reported)
    if (random.chance(0.01)) endStream()
    else if (unreported.length > 0 && random.chance(0.45)) endOne(unreported)
    else apply({ _tag: "Received", message: Fuzz.randomMessage(random, { backupNames: ["fuzz-a", "fuzz-b", ""] }) })
  }
  // No more messages: the running steps end, one after another, until none runs.
  for (let guard = 0; guard < 10 * events; guard++) {
    const running = [...steps.entries()].filter(([, step]) => !step.reported && !step.interrupted)
    if (running.length === 0) break
    endOne(running)
  }
  check(live().length === 0, "every step has ended")
  check(state.phase._tag !== "Running" && state.phase._tag !== "Cancelling", "no step runs once every step ended")
  check(cancelsAnswered === cancelsReceived, `every cancel is answered once: ${cancelsReceived} received, ${cancelsAnswered} answered`)
  return coverage
}

const seeds = [1, 42, 0xc0ffee, Fuzz.seedFromEnvironment()]

describe("the agent's state machine under random control messages", () => {
  for (const seed of seeds) {
    for (const apiVersion of ["4.0", "3.0", "2.0"] as const) {
      it.effect(`keeps its invariants over ${events} random messages, step ends and stream ends (seed ${seed}, API ${apiVersion})`, () =>
        Effect.sync(() => {
          const coverage = fuzz(seed, apiVersion)
          // The run went through every kind of answer, so the invariants were put to the test.
          expect(coverage.stageAnswers).toBeGreaterThan(0)
          expect(coverage.cancelAnswers).toBeGreaterThan(0)
          expect(coverage.unexpectedAnswers).toBeGreaterThan(0)
          expect(coverage.interrupts).toBeGreaterThan(0)
        }))
    }
  }
})

FaultHygiene.checkNothingLeftOpen()
