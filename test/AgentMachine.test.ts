// The agent's state machine, one rule a row: a state and an event, and the
// state and commands that follow, exactly. The rules are those of
// shared/protocol/behaviour.md §3 (stages, unexpected messages, cancel) and
// §2 (the stream's end), with our departures: a cancel interrupts the
// running step, and every cancel is answered.
import { describe, expect, it } from "@effect/vitest"
import type { Action, ApiVersion, ControlAction, Stage } from "../src/core/Action.js"
import type { FragmentInformation } from "../src/core/Fragment.js"
import { AgentMessage, OrchestratorMessage } from "../src/core/Message.js"
import * as Machine from "../src/internal/AgentMachine.js"
import {
  agentId,
  backupPreparation,
  cancel,
  execution,
  fragment,
  placeholder,
  postActions,
  restorePreparation,
  softwareVersion
} from "./support/agentHarness.js"

// The action information each preparation of the harness gives.
const backup: Machine.ActionInfo = {
  action: "BACKUP",
  backupName: "nightly",
  backupType: "DEFAULT",
  softwareVersion: undefined,
  fragments: []
}
const restore = (fragments: ReadonlyArray<FragmentInformation>): Machine.ActionInfo => ({
  action: "RESTORE",
  backupName: "nightly",
  backupType: "DEFAULT",
  softwareVersion: { ...softwareVersion, commercialVersion: "5.1.0", semanticVersion: "5.1.0" },
  fragments
})
const f1 = fragment("f-1")
const f2 = fragment("f-2")
const restoreOf12 = restore([f1, f2])

// States. A Running or Cancelling step is always the last one started.
const idle = (record: Machine.ActionInfo | undefined, nextStepId: number): Machine.State => ({
  phase: { _tag: "Idle", record },
  nextStepId
})
const collecting = (info: Machine.ActionInfo, nextStepId: number): Machine.State => ({
  phase: { _tag: "Collecting", info },
  nextStepId
})
const running = (
  info: Machine.ActionInfo,
  stage: Stage,
  stepId: number,
  waiting: ReadonlyArray<OrchestratorMessage> = [],
  only = false
): Machine.State => ({ phase: { _tag: "Running", info, stage, stepId, only, waiting }, nextStepId: stepId + 1 })
const stageDone = (info: Machine.ActionInfo, stage: Stage, nextStepId: number): Machine.State => ({
  phase: { _tag: "StageDone", info, stage },
  nextStepId
})
const cancelling = (
  info: Machine.ActionInfo,
  stepId: number,
  waiting: ReadonlyArray<OrchestratorMessage> = []
): Machine.State => ({ phase: { _tag: "Cancelling", info, stepId, waiting }, nextStepId: stepId + 1 })

// Events.
const received = (message: OrchestratorMessage): Machine.Event => ({ _tag: "Received", message })
const stepEnded = (stepId: number, success: boolean, message: string): Machine.Event => ({
  _tag: "StepEnded",
  stepId,
  success,
  message
})
const streamEnded: Machine.Event = { _tag: "StreamEnded" }

// Commands.
const runs = (stepId: number, step: Machine.StepName, info: Machine.ActionInfo): Machine.Command => ({
  _tag: "Run",
  stepId,
  step,
  info
})
const answers = (action: Action, success: boolean, message: string): Machine.Command => ({
  _tag: "Send",
  message: AgentMessage.StageComplete({ action, success, agentId, message })
})
const interrupts = (stepId: number): Machine.Command => ({ _tag: "Interrupt", stepId })
const cancelsUnanswered = (info: Machine.ActionInfo): Machine.Command => ({ _tag: "RunUnanswered", step: "cancel", info })
const awaitsUnanswered = (stepId: number): Machine.Command => ({ _tag: "AwaitUnanswered", stepId })
const warns = (message: string): Machine.Command => ({ _tag: "Log", level: "Warning", message })
const ignoredAcknowledgement: Machine.Command = {
  _tag: "Log",
  level: "Info",
  message: "Ignored a REGISTER_ACKNOWLEDGE: the agent is already registered"
}

// Messages beyond the harness's.
const acknowledge = OrchestratorMessage.RegisterAcknowledge({ message: "Registered Agent", features: ["PLAINTEXT"] })
const entry = (fragment: FragmentInformation, last: boolean) =>
  OrchestratorMessage.FragmentListEntry({ action: "RESTORE", fragment, last })
const unsupported = (action: ControlAction, messageType: string) =>
  OrchestratorMessage.Unsupported({ action, messageType })

interface Row {
  readonly rule: string
  readonly apiVersion?: ApiVersion
  readonly given: Machine.State
  readonly on: Machine.Event
  readonly becomes: Machine.State
  readonly commands: ReadonlyArray<Machine.Command>
}

// A loop rather than it.each: its "$rule" would quote and cut the names.
const check = (rows: ReadonlyArray<Row>) => {
  for (const { apiVersion = "4.0", becomes, commands, given, on, rule } of rows) {
    it(rule, () => {
      expect(Machine.step({ agentId, apiVersion }, given, on)).toEqual({ state: becomes, commands })
    })
  }
}

describe("the machine after registration, per API version", () => {
  it.each(["2.0", "3.0", "4.0"] as const)("API %s: starts idle with no action on record", (apiVersion) => {
    expect(Machine.initial).toEqual(idle(undefined, 1))
    // Nothing to cancel yet, under every version.
    expect(Machine.step({ agentId, apiVersion }, Machine.initial, received(cancel("BACKUP")))).toEqual({
      state: Machine.initial,
      commands: [answers("BACKUP", true, Machine.nothingToCancel)]
    })
  })

  check([
    {
      rule: "API 2.0: a backup preparation runs the one stage, which creates and sends the fragments",
      apiVersion: "2.0",
      given: Machine.initial,
      on: received(backupPreparation),
      becomes: running(backup, "EXECUTION", 1, [], true),
      commands: [runs(1, "executeBackup", backup)]
    },
    {
      rule: "API 2.0: the one stage's answer ends the backup, which stays on record",
      apiVersion: "2.0",
      given: running(backup, "EXECUTION", 1, [], true),
      on: stepEnded(1, true, "Backup completed"),
      becomes: idle(backup, 2),
      commands: [answers("BACKUP", true, "Backup completed")]
    },
    {
      rule: "API 2.0: the one stage's failure ends the backup too",
      apiVersion: "2.0",
      given: running(backup, "EXECUTION", 1, [], true),
      on: stepEnded(1, false, "Disk full"),
      becomes: idle(backup, 2),
      commands: [answers("BACKUP", false, "Disk full")]
    },
    {
      rule: "API 2.0: post-actions after the one stage are ignored, as while idle",
      apiVersion: "2.0",
      given: idle(backup, 2),
      on: received(postActions("BACKUP")),
      becomes: idle(backup, 2),
      commands: [warns("Ignored PostActions (action BACKUP): the agent is in no action")]
    },
    {
      rule: "API 3.0: a backup preparation runs the preparation step",
      apiVersion: "3.0",
      given: Machine.initial,
      on: received(backupPreparation),
      becomes: running(backup, "PREPARATION", 1),
      commands: [runs(1, "prepareBackup", backup)]
    },
    {
      rule: "API 4.0: a backup preparation runs the preparation step",
      apiVersion: "4.0",
      given: Machine.initial,
      on: received(backupPreparation),
      becomes: running(backup, "PREPARATION", 1),
      commands: [runs(1, "prepareBackup", backup)]
    },
    ...(["2.0", "3.0", "4.0"] as const).map((apiVersion): Row => ({
      rule: `API ${apiVersion}: a restore preparation with the whole fragment list runs the preparation step at once`,
      apiVersion,
      given: Machine.initial,
      on: received(restorePreparation([f1, f2])),
      becomes: running(restoreOf12, "PREPARATION", 1),
      commands: [runs(1, "prepareRestore", restoreOf12)]
    }))
  ])
})

describe("a REGISTER_ACKNOWLEDGE is never an action: logged, never answered, in every phase", () => {
  const phases: ReadonlyArray<readonly [string, Machine.State]> = [
    ["just registered", Machine.initial],
    ["idle after an action", idle(backup, 4)],
    ["collecting the fragment list", collecting(restore([f1]), 1)],
    ["running a step (it does not wait for the step)", running(backup, "EXECUTION", 2)],
    ["after a stage", stageDone(backup, "PREPARATION", 2)],
    ["cancelling", cancelling(backup, 2)]
  ]
  check(phases.map(([phase, state]): Row => ({
    rule: phase,
    given: state,
    on: received(acknowledge),
    becomes: state,
    commands: [ignoredAcknowledgement]
  })))
})

// The three stages, the same for both actions once the preparation's step runs.
const stages = (
  info: Machine.ActionInfo,
  steps: { readonly execute: Machine.StepName; readonly post: Machine.StepName },
  texts: { readonly prepared: string; readonly executed: string; readonly posted: string }
): ReadonlyArray<Row> => [
  {
    rule: "the preparation's answer is sent; the agent waits for the execution",
    given: running(info, "PREPARATION", 1),
    on: stepEnded(1, true, texts.prepared),
    becomes: stageDone(info, "PREPARATION", 2),
    commands: [answers(info.action, true, texts.prepared)]
  },
  {
    rule: "the execution runs the execution step",
    given: stageDone(info, "PREPARATION", 2),
    on: received(execution(info.action)),
    becomes: running(info, "EXECUTION", 2),
    commands: [runs(2, steps.execute, info)]
  },
  {
    rule: "the execution's answer is sent; the agent waits for the post-actions",
    given: running(info, "EXECUTION", 2),
    on: stepEnded(2, true, texts.executed),
    becomes: stageDone(info, "EXECUTION", 3),
    commands: [answers(info.action, true, texts.executed)]
  },
  {
    rule: `the post-actions run the ${steps.post} step`,
    given: stageDone(info, "EXECUTION", 3),
    on: received(postActions(info.action)),
    becomes: running(info, "POST_ACTIONS", 3),
    commands: [runs(3, steps.post, info)]
  },
  {
    rule: "the post-actions' answer ends the action, which stays on record",
    given: running(info, "POST_ACTIONS", 3),
    on: stepEnded(3, true, texts.posted),
    becomes: idle(info, 4),
    commands: [answers(info.action, true, texts.posted)]
  }
]

describe("backup stages", () => {
  check([
    ...stages(backup, { execute: "executeBackup", post: "postBackup" }, {
      prepared: "Preparation for backup is successful",
      executed: "Backup completed",
      posted: "Post backup actions completed"
    }),
    {
      rule: "a step that fails is answered with success false, and leaves the agent in its stage",
      given: running(backup, "PREPARATION", 1),
      on: stepEnded(1, false, "Database locked"),
      becomes: stageDone(backup, "PREPARATION", 2),
      commands: [answers("BACKUP", false, "Database locked")]
    }
  ])
})

describe("restore stages", () => {
  check([
    {
      rule: "API 4.0: a preparation with the one empty placeholder waits for the fragment list",
      given: Machine.initial,
      on: received(restorePreparation([placeholder])),
      becomes: collecting(restore([]), 1),
      commands: []
    },
    {
      rule: "API 4.0: each fragment list entry but the last is collected, and nothing runs",
      given: collecting(restore([]), 1),
      on: received(entry(f1, false)),
      becomes: collecting(restore([f1]), 1),
      commands: []
    },
    {
      rule: "API 4.0: the last entry runs the preparation step with the whole list",
      given: collecting(restore([f1]), 1),
      on: received(entry(f2, true)),
      becomes: running(restoreOf12, "PREPARATION", 1),
      commands: [runs(1, "prepareRestore", restoreOf12)]
    },
    {
      rule: "API 4.0: a preparation with no fragments (no entries follow) runs the preparation step at once",
      given: Machine.initial,
      on: received(restorePreparation([])),
      becomes: running(restore([]), "PREPARATION", 1),
      commands: [runs(1, "prepareRestore", restore([]))]
    },
    ...stages(restoreOf12, { execute: "executeRestore", post: "postRestore" }, {
      prepared: "Preparation for restore is successful",
      executed: "Restore completed",
      posted: "Post restore actions completed"
    }),
    {
      rule: "a failed software version check is answered, and leaves the agent in the preparation",
      given: running(restoreOf12, "PREPARATION", 1),
      on: stepEnded(1, false, "Backup made by version 4 cannot be restored"),
      becomes: stageDone(restoreOf12, "PREPARATION", 2),
      commands: [answers("RESTORE", false, "Backup made by version 4 cannot be restored")]
    },
    {
      rule: "API 4.0: an entry after the list was complete is ignored",
      given: stageDone(restoreOf12, "PREPARATION", 2),
      on: received(entry(f1, true)),
      becomes: stageDone(restoreOf12, "PREPARATION", 2),
      commands: [warns("Ignored a FRAGMENT_LIST_ENTRY after the fragment list was complete")]
    }
  ])
})

describe("a message that arrives while a step runs", () => {
  check([
    {
      rule: "the next stage's message waits for the step",
      given: running(backup, "EXECUTION", 2),
      on: received(postActions("BACKUP")),
      becomes: running(backup, "EXECUTION", 2, [postActions("BACKUP")]),
      commands: []
    },
    {
      rule: "a preparation waits too, and is not started",
      given: running(backup, "EXECUTION", 2, [postActions("BACKUP")]),
      on: received(restorePreparation([])),
      becomes: running(backup, "EXECUTION", 2, [postActions("BACKUP"), restorePreparation([])]),
      commands: []
    },
    {
      rule: "a fragment list entry waits too",
      given: running(restoreOf12, "PREPARATION", 1),
      on: received(entry(f1, true)),
      becomes: running(restoreOf12, "PREPARATION", 1, [entry(f1, true)]),
      commands: []
    },
    {
      rule: "the waiting message is taken once the step has answered",
      given: running(backup, "EXECUTION", 2, [postActions("BACKUP")]),
      on: stepEnded(2, true, "Backup completed"),
      becomes: running(backup, "POST_ACTIONS", 3),
      commands: [answers("BACKUP", true, "Backup completed"), runs(3, "postBackup", backup)]
    },
    {
      rule: "waiting messages are taken in order until a step runs again; the rest wait for that step",
      given: running(backup, "PREPARATION", 1, [execution("BACKUP"), postActions("BACKUP")]),
      on: stepEnded(1, true, "Preparation for backup is successful"),
      becomes: running(backup, "EXECUTION", 2, [postActions("BACKUP")]),
      commands: [answers("BACKUP", true, "Preparation for backup is successful"), runs(2, "executeBackup", backup)]
    },
    {
      rule: "a waiting message the next stage does not expect is answered as unexpected, after the step's answer",
      given: running(backup, "PREPARATION", 1, [backupPreparation]),
      on: stepEnded(1, true, "Preparation for backup is successful"),
      becomes: idle(backup, 2),
      commands: [
        answers("BACKUP", true, "Preparation for backup is successful"),
        answers("BACKUP", false, "Unsuccessful backup stage"),
        warns("Answered Preparation (action BACKUP) as unexpected after the PREPARATION stage")
      ]
    },
    {
      rule: "the end of a step other than the running one (an interrupted one) is not reported",
      given: running(backup, "EXECUTION", 3),
      on: stepEnded(2, true, "Backup completed"),
      becomes: running(backup, "EXECUTION", 3),
      commands: []
    },
    {
      rule: "the end of an interrupted stage step is not reported while the cancel step runs",
      given: cancelling(backup, 3),
      on: stepEnded(2, true, "Backup completed"),
      becomes: cancelling(backup, 3),
      commands: []
    },
    {
      rule: "the end of an interrupted step is not reported once idle",
      given: idle(backup, 4),
      on: stepEnded(2, false, "interrupted"),
      becomes: idle(backup, 4),
      commands: []
    }
  ])
})

describe("cancel, in every phase", () => {
  const steps: ReadonlyArray<readonly [Machine.ActionInfo, Stage, Machine.StepName]> = [
    [backup, "PREPARATION", "prepareBackup"],
    [backup, "EXECUTION", "executeBackup"],
    [backup, "POST_ACTIONS", "postBackup"],
    [restoreOf12, "PREPARATION", "prepareRestore"],
    [restoreOf12, "EXECUTION", "executeRestore"],
    [restoreOf12, "POST_ACTIONS", "postRestore"]
  ]
  check([
    {
      rule: "idle with no action since registration: answered at once with the message's action, nothing run",
      given: idle(undefined, 1),
      on: received(cancel("RESTORE")),
      becomes: idle(undefined, 1),
      commands: [answers("RESTORE", true, Machine.nothingToCancel)]
    },
    {
      rule: "idle with no action since registration: a cancel whose action is no action is answered for BACKUP",
      given: idle(undefined, 1),
      on: received(cancel("REGISTER")),
      becomes: idle(undefined, 1),
      commands: [answers("BACKUP", true, Machine.nothingToCancel)]
    },
    {
      rule: "idle after an action: the cancel step runs for the action on record, whatever the message says",
      given: idle(restoreOf12, 4),
      on: received(cancel("BACKUP")),
      becomes: cancelling(restoreOf12, 4),
      commands: [runs(4, "cancel", restoreOf12)]
    },
    {
      rule: "while the fragment list arrives: the cancel step runs with the entries so far",
      given: collecting(restore([f1]), 1),
      on: received(cancel("RESTORE")),
      becomes: cancelling(restore([f1]), 1),
      commands: [runs(1, "cancel", restore([f1]))]
    },
    ...steps.map(([info, stage, step]): Row => ({
      rule: `while ${step} runs: the step is interrupted, then the cancel step runs`,
      given: running(info, stage, 2),
      on: received(cancel(info.action)),
      becomes: cancelling(info, 3),
      commands: [interrupts(2), runs(3, "cancel", info)]
    })),
    {
      rule: "while a step runs: what waited for the step waits for the cancel step",
      given: running(backup, "EXECUTION", 2, [postActions("BACKUP")]),
      on: received(cancel("BACKUP")),
      becomes: cancelling(backup, 3, [postActions("BACKUP")]),
      commands: [interrupts(2), runs(3, "cancel", backup)]
    },
    {
      rule: "after a backup stage: the cancel step runs",
      given: stageDone(backup, "PREPARATION", 2),
      on: received(cancel("BACKUP")),
      becomes: cancelling(backup, 2),
      commands: [runs(2, "cancel", backup)]
    },
    {
      rule: "after a restore stage: the cancel step runs",
      given: stageDone(restoreOf12, "EXECUTION", 3),
      on: received(cancel("RESTORE")),
      becomes: cancelling(restoreOf12, 3),
      commands: [runs(3, "cancel", restoreOf12)]
    },
    {
      rule: "while the cancel step runs: a second cancel waits for it",
      given: cancelling(backup, 2),
      on: received(cancel("BACKUP")),
      becomes: cancelling(backup, 2, [cancel("BACKUP")]),
      commands: []
    },
    {
      rule: "while the cancel step runs: a stage message waits for it",
      given: cancelling(backup, 2),
      on: received(execution("BACKUP")),
      becomes: cancelling(backup, 2, [execution("BACKUP")]),
      commands: []
    },
    {
      rule: "the cancel step's end is answered with the action the agent was in; the agent is idle, the action on record",
      given: cancelling(restoreOf12, 3),
      on: stepEnded(3, true, "Cancel actions completed"),
      becomes: idle(restoreOf12, 4),
      commands: [answers("RESTORE", true, "Cancel actions completed")]
    },
    {
      rule: "a cancel step that fails is answered with success false",
      given: cancelling(backup, 2),
      on: stepEnded(2, false, "Could not roll back"),
      becomes: idle(backup, 3),
      commands: [answers("BACKUP", false, "Could not roll back")]
    },
    {
      rule: "a cancel that waited for the cancel step runs the cancel step again once it is answered",
      given: cancelling(backup, 2, [cancel("BACKUP")]),
      on: stepEnded(2, true, "Cancel actions completed"),
      becomes: cancelling(backup, 3),
      commands: [answers("BACKUP", true, "Cancel actions completed"), runs(3, "cancel", backup)]
    },
    {
      rule: "a stage message that waited for the cancel step is ignored, as while idle",
      given: cancelling(backup, 2, [execution("BACKUP")]),
      on: stepEnded(2, true, "Cancel actions completed"),
      becomes: idle(backup, 3),
      commands: [
        answers("BACKUP", true, "Cancel actions completed"),
        warns("Ignored Execution (action BACKUP): the agent is in no action")
      ]
    }
  ])
})

describe("the control stream's end, in every phase: nothing is answered, the agent starts afresh", () => {
  check([
    {
      rule: "idle with no action: nothing to do",
      given: idle(undefined, 1),
      on: streamEnded,
      becomes: idle(undefined, 1),
      commands: []
    },
    {
      rule: "idle after an action: nothing runs, and the action is no longer on record",
      given: idle(backup, 4),
      on: streamEnded,
      becomes: idle(undefined, 4),
      commands: []
    },
    {
      rule: "while the fragment list arrives: the cancel step runs, unanswered",
      given: collecting(restore([f1]), 1),
      on: streamEnded,
      becomes: idle(undefined, 1),
      commands: [cancelsUnanswered(restore([f1]))]
    },
    {
      rule: "while a step runs: the step is interrupted and the cancel step runs, unanswered",
      given: running(backup, "EXECUTION", 2, [postActions("BACKUP")]),
      on: streamEnded,
      becomes: idle(undefined, 3),
      commands: [interrupts(2), cancelsUnanswered(backup)]
    },
    {
      rule: "after a stage: the cancel step runs, unanswered",
      given: stageDone(restoreOf12, "PREPARATION", 2),
      on: streamEnded,
      becomes: idle(undefined, 2),
      commands: [cancelsUnanswered(restoreOf12)]
    },
    {
      rule: "while the cancel step runs: it is left to finish, unanswered",
      given: cancelling(backup, 2, [cancel("BACKUP")]),
      on: streamEnded,
      becomes: idle(undefined, 3),
      commands: [awaitsUnanswered(2)]
    }
  ])
})

describe("messages while idle are ignored, not answered", () => {
  const messages: ReadonlyArray<readonly [OrchestratorMessage, string]> = [
    [execution("BACKUP"), "Execution (action BACKUP)"],
    [postActions("RESTORE"), "PostActions (action RESTORE)"],
    [entry(f1, true), "FragmentListEntry (action RESTORE)"],
    [
      OrchestratorMessage.Preparation({
        action: "REGISTER",
        backupName: "nightly",
        backupType: "DEFAULT",
        softwareVersion: undefined,
        fragments: []
      }),
      "Preparation (action REGISTER)"
    ],
    [unsupported("BACKUP", "EXECUTION"), "EXECUTION (action BACKUP)"],
    [unsupported("BACKUP", "CHECKPOINT_LIST_ENTRY"), "CHECKPOINT_LIST_ENTRY (action BACKUP)"]
  ]
  const idles: ReadonlyArray<readonly [string, Machine.State]> = [
    ["with no action since registration", idle(undefined, 1)],
    ["after an action's post-actions", idle(backup, 4)]
  ]
  check(idles.flatMap(([when, state]) =>
    messages.map(([message, described]): Row => ({
      rule: `${when}: ${described}`,
      given: state,
      on: received(message),
      becomes: state,
      commands: [warns(`Ignored ${described}: the agent is in no action`)]
    }))
  ))
})

describe("a message a stage did not expect: answered with success false, and the agent is idle", () => {
  const unexpected = (
    given: Machine.State,
    message: OrchestratorMessage,
    described: string,
    record: Machine.ActionInfo,
    text: string,
    after: string
  ): Row => ({
    rule: `${described} ${after}`,
    given,
    on: received(message),
    becomes: idle(record, given.nextStepId),
    commands: [answers(record.action, false, text), warns(`Answered ${described} as unexpected ${after}`)]
  })
  const { backupExecution, backupPreparation: backupPreparationText, restore: restoreText } = Machine.unexpectedTexts
  check([
    unexpected(
      stageDone(backup, "PREPARATION", 2),
      postActions("BACKUP"),
      "PostActions (action BACKUP)",
      backup,
      backupPreparationText,
      "after the PREPARATION stage"
    ),
    unexpected(
      stageDone(backup, "PREPARATION", 2),
      backupPreparation,
      "Preparation (action BACKUP)",
      backup,
      backupPreparationText,
      "after the PREPARATION stage"
    ),
    unexpected(
      stageDone(backup, "PREPARATION", 2),
      unsupported("BACKUP", "METRICS_REQUEST"),
      "METRICS_REQUEST (action BACKUP)",
      backup,
      backupPreparationText,
      "after the PREPARATION stage"
    ),
    unexpected(
      stageDone(backup, "EXECUTION", 3),
      execution("BACKUP"),
      "Execution (action BACKUP)",
      backup,
      backupExecution,
      "after the EXECUTION stage"
    ),
    unexpected(
      stageDone(backup, "EXECUTION", 3),
      restorePreparation([]),
      "Preparation (action RESTORE)",
      backup,
      backupExecution,
      "after the EXECUTION stage"
    ),
    unexpected(
      stageDone(restoreOf12, "PREPARATION", 2),
      postActions("RESTORE"),
      "PostActions (action RESTORE)",
      restoreOf12,
      restoreText,
      "after the PREPARATION stage"
    ),
    unexpected(
      stageDone(restoreOf12, "EXECUTION", 3),
      backupPreparation,
      "Preparation (action BACKUP)",
      restoreOf12,
      restoreText,
      "after the EXECUTION stage"
    ),
    unexpected(
      collecting(restore([f1]), 1),
      execution("RESTORE"),
      "Execution (action RESTORE)",
      restore([f1]),
      restoreText,
      "while the fragment list arrives"
    ),
    unexpected(
      collecting(restore([f1]), 1),
      unsupported("RESTORE", "FRAGMENT_LIST_ENTRY"),
      "FRAGMENT_LIST_ENTRY (action RESTORE)",
      restore([f1]),
      restoreText,
      "while the fragment list arrives"
    )
  ])

  it("uses the reference agent's texts", () => {
    expect(Machine.unexpectedTexts).toEqual({
      backupPreparation: "Unsuccessful backup stage",
      backupExecution: "Unsuccessful backup stage.",
      restore: "Unsuccessful restore stage"
    })
  })
})

describe("whether an action is in progress", () => {
  const rows: ReadonlyArray<readonly [string, Machine.State, Machine.ActionInfo | undefined]> = [
    ["not with no action since registration", idle(undefined, 1), undefined],
    ["not after an action's post-actions", idle(backup, 4), undefined],
    ["while the fragment list arrives", collecting(restore([f1]), 1), restore([f1])],
    ["while a step runs", running(backup, "EXECUTION", 2), backup],
    ["after a stage", stageDone(restoreOf12, "EXECUTION", 3), restoreOf12],
    ["while the cancel step runs", cancelling(backup, 2), backup]
  ]
  it.each(rows)("%s", (_, state, info) => {
    expect(Machine.inProgress(state)).toEqual(info)
  })
})
