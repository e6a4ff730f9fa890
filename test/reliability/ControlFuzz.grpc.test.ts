// The running agent over real gRPC, its control stream flooded with random,
// valid-but-wrong orchestrator messages from a TestServer; then a real backup
// on the same stream.
import { NodeFileSystem } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Effect, Fiber, Logger, LogLevel, Option, Ref, Stream } from "effect"
import { randomBytes } from "node:crypto"
import type { AgentStatus } from "../../src/Agent.js"
import { StageFailure } from "../../src/behavior/AgentBehavior.js"
import type { AnyStageContext, CancelContext, StageContext } from "../../src/behavior/AgentBehavior.js"
import * as Fragments from "../../src/behavior/Fragments.js"
import * as Machine from "../../src/internal/AgentMachine.js"
import { md5Of } from "../../src/internal/Checksum.js"
import type { AgentMessage, OrchestratorMessage } from "../../src/core/Message.js"
import { FilePart, OrchestratorMessage as Messages } from "../../src/core/Message.js"
import { behaviorWith, softwareVersion } from "../support/agentHarness.js"
import { pollUntil, startAgentOn, within } from "../support/FaultHarness.js"
import * as Fuzz from "../support/FaultFuzz.js"
import * as FaultHygiene from "../support/FaultHygiene.js"
import { layerLive } from "../support/layers.js"
import * as TestServer from "../support/TestServer.js"

const agentId = "fuzzed-agent"
const messages = 1000
const unexpectedTexts: ReadonlyArray<string> = Object.values(Machine.unexpectedTexts)

type StageComplete = Extract<AgentMessage, { _tag: "StageComplete" }>

/** What an answer of the agent is, from its text: every step's text names the step, its run and its backup. */
const classify = (answer: StageComplete): "step" | "cancel" | "unexpected" | "unknown" => {
  if (/^(prepareBackup|executeBackup|postBackup|prepareRestore|executeRestore|postRestore) #\d+ /.test(answer.message)) {
    return "step"
  }
  if (/^cancel #\d+ /.test(answer.message) || answer.message === Machine.nothingToCancel) return "cancel"
  if (!answer.success && unexpectedTexts.includes(answer.message)) return "unexpected"
  return "unknown"
}

layerLive(NodeFileSystem.layer)("the running agent under random control messages over gRPC", (it) => {
  const seed = Fuzz.seedFromEnvironment()

  it.scoped(
    `stays registered, answers at most once per message, then completes a real backup and ignores what comes while idle (seed ${seed}, ${messages} messages)`,
    () =>
      Effect.gen(function*() {
        const random = Fuzz.random(seed)
        const server = yield* TestServer.make()
        const backupBytes = randomBytes(100_000)
        const runs = yield* Ref.make(0)
        // Every step ends at once, with a text naming the step, its run and its backup; a backup named
        // fail-* fails. Only the real backup's execution sends a fragment.
        const label = (step: string, context: StageContext) =>
          Ref.updateAndGet(runs, (count) => count + 1).pipe(Effect.map((run) => `${step} #${run} ${context.backupName}`))
        const answer = (step: string) => (context: AnyStageContext | CancelContext) =>
          Effect.flatMap(label(step, context), (text) =>
            context.backupName.startsWith("fail") ? Effect.fail(new StageFailure({ message: text })) : Effect.succeed(text))
        const agent = yield* startAgentOn(
          server.port,
          behaviorWith<StageFailure | Fragments.FailedToTransferBackup>({
            registration: { agentId, softwareVersion },
            prepareBackup: answer("prepareBackup"),
            executeBackup: (context) =>
              context.backupName.startsWith("real")
                ? context.sendFragment({
                  fragmentId: `${agentId}_0`,
                  version: "1.0",
                  backupFile: Fragments.fromBytes("dump.bin", backupBytes)
                }).pipe(Effect.zipRight(label("executeBackup", context)))
                : answer("executeBackup")(context),
            postBackup: answer("postBackup"),
            prepareRestore: answer("prepareRestore"),
            executeRestore: answer("executeRestore"),
            postRestore: answer("postRestore"),
            cancel: answer("cancel")
          }),
          { acknowledgeTimeout: 0 }
        )
        const statuses = yield* Ref.make<ReadonlyArray<AgentStatus["connection"]["_tag"]>>([])
        yield* agent.statusChanges.pipe(
          Stream.runForEach((status) => Ref.update(statuses, (all) => [...all, status.connection._tag])),
          Effect.forkScoped
        )
        const ended = yield* Effect.forkScoped(agent.join)

        const control = yield* within("the agent's control stream")(server.connections)
        expect((yield* within("the registration")(control.next))._tag).toBe("Register")
        yield* control.send(Messages.RegisterAcknowledge({ message: "Registered Agent", features: ["PLAINTEXT"] }))

        // Everything the agent answers, checked as it arrives against what was sent so far.
        const sent = yield* Ref.make(0)
        const answers = yield* Ref.make<ReadonlyArray<StageComplete>>([])
        const strays = yield* Ref.make<ReadonlyArray<string>>([])
        yield* control.next.pipe(
          Effect.flatMap((message) =>
            Effect.gen(function*() {
              if (message._tag !== "StageComplete") return yield* Ref.update(strays, (all) => [...all, message._tag])
              const count = (yield* Ref.updateAndGet(answers, (all) => [...all, message])).length
              if (count > (yield* Ref.get(sent))) {
                yield* Ref.update(strays, (all) => [...all, `answer ${count} came when ${count - 1} messages were sent`])
              }
            })
          ),
          Effect.forever,
          Effect.forkScoped
        )
        const send = (message: OrchestratorMessage) => Ref.update(sent, (count) => count + 1).pipe(Effect.zipRight(control.send(message)))

        let cancels = 0
        for (let index = 0; index < messages; index++) {
          const message = Fuzz.randomMessage(random, { backupNames: ["fuzz-a", "fuzz-b", "fail-c"] })
          if (message._tag === "Cancel") cancels++
          yield* send(message)
        }

        // Two backup preparations, one after the other: whatever state the flood left the agent in,
        // exactly one of them starts a preparation step (the other is answered as unexpected), and that
        // step starts only once every message before it was handled.
        const isPreparationOf = (names: ReadonlyArray<string>) => (answer: StageComplete) =>
          names.some((name) => new RegExp(`^prepareBackup #\\d+ ${name}$`).test(answer.message))
        const preparation = (backupName: string) =>
          Messages.Preparation({ action: "BACKUP", backupName, backupType: "DEFAULT", softwareVersion: undefined, fragments: [] })
        yield* send(preparation("real-1"))
        yield* send(preparation("real-2"))
        const afterFlood = yield* pollUntil("the answer to one of the two preparations", Ref.get(answers), (all) =>
          all.some(isPreparationOf(["real-1", "real-2"])))
        const first = afterFlood.findIndex(isPreparationOf(["real-1", "real-2"]))
        const flood = afterFlood.slice(0, first)

        // What the flood got back.
        expect(yield* Ref.get(strays)).toEqual([])
        expect(flood.length).toBeLessThanOrEqual(messages)
        expect(flood.filter((answer) => answer.agentId !== agentId || !["BACKUP", "RESTORE"].includes(answer.action))).toEqual([])
        expect(flood.filter((answer) => classify(answer) === "unknown")).toEqual([])
        // A step's text is unique to its run: a text seen twice is a step answered twice.
        const stepTexts = flood.filter((answer) => classify(answer) !== "unexpected").map((answer) => answer.message)
        expect(stepTexts.filter((text, index) => text !== Machine.nothingToCancel && stepTexts.indexOf(text) !== index)).toEqual([])
        // Every cancel sent was answered, once, before the preparation that followed them started.
        expect(flood.filter((answer) => classify(answer) === "cancel").length).toBe(cancels)

        // The real backup, on the same stream, from a known state.
        let backupName = "real-2"
        let answered = first + 1
        if (isPreparationOf(["real-1"])(afterFlood[first] as StageComplete)) {
          // real-1 started, so real-2 is answered as unexpected and the agent is idle: prepare again.
          const unexpected = yield* pollUntil("the answer to the second preparation", Ref.get(answers), (all) => all.length > first + 1)
          expect(unexpected[first + 1]).toMatchObject({ success: false, message: Machine.unexpectedTexts.backupPreparation })
          backupName = "real-3"
          yield* send(preparation(backupName))
          const prepared = yield* pollUntil("the answer to the third preparation", Ref.get(answers), (all) => all.length > first + 2)
          expect(prepared[first + 2]?.message).toMatch(new RegExp(`^prepareBackup #\\d+ ${backupName}$`))
          answered = first + 3
        }
        const nextAnswer = (what: string) =>
          pollUntil(what, Ref.get(answers), (all) => all.length > answered).pipe(
            Effect.map((all) => all[answered++])
          )
        yield* send(Messages.Execution({ action: "BACKUP" }))
        expect(yield* nextAnswer("the answer to the execution")).toMatchObject({
          action: "BACKUP",
          success: true,
          agentId,
          message: expect.stringMatching(new RegExp(`^executeBackup #\\d+ ${backupName}$`))
        })
        const upload = yield* within("the fragment upload")(Effect.flatMap(server.uploads, (call) => call.outcome))
        expect(upload._tag).toBe("Completed")
        expect(upload.messages).toContainEqual(FilePart.Checksum({ file: "BACKUP_FILE", checksum: md5Of(backupBytes) }))
        yield* send(Messages.PostActions({ action: "BACKUP" }))
        expect(yield* nextAnswer("the answer to the post-actions")).toMatchObject({
          action: "BACKUP",
          success: true,
          message: expect.stringMatching(new RegExp(`^postBackup #\\d+ ${backupName}$`))
        })
        // The action is over and the agent idle: random messages that start no action are not answered...
        for (let index = 0; index < 100; index++) {
          const message = Fuzz.randomMessage(random, { backupNames: ["fuzz-a"] })
          const startsAction = message._tag === "Preparation" && (message.action === "BACKUP" || message.action === "RESTORE")
          if (message._tag !== "Cancel" && !startsAction) yield* send(message)
        }
        // ...and a cancel is, for the action that finished: the next answer is the cancel's, so nothing
        // came in between, and each stage was answered once.
        yield* send(Messages.Cancel({ action: "BACKUP", message: "" }))
        expect(yield* nextAnswer("the answer to the cancel")).toMatchObject({
          success: true,
          message: expect.stringMatching(new RegExp(`^cancel #\\d+ ${backupName}$`))
        })
        expect((yield* Ref.get(answers)).length).toBe(answered)

        // Alive and registered all along, on its first stream.
        expect(yield* Fiber.poll(ended)).toEqual(Option.none())
        expect((yield* agent.status).connection).toMatchObject({ _tag: "Registered", acknowledged: true })
        expect((yield* Ref.get(statuses)).filter((tag) => tag !== "Connecting" && tag !== "Registered")).toEqual([])
        expect(yield* Ref.get(strays)).toEqual([])
      }).pipe(
        // A thousand warnings about unexpected messages say nothing here; errors still show.
        Logger.withMinimumLogLevel(LogLevel.Error)
      )
  )
})

FaultHygiene.checkNothingLeftOpen()
