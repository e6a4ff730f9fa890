/**
 * The test kit's orchestrator: one run starts the agent under test on a
 * fresh in-memory transport, takes its registration, and lets a script
 * ask questions (stages, cancels) and tell it things (idle messages,
 * fragment-list entries), counting every answer as BRO counts it and
 * recording every rule broken.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { Scope } from "effect"
import { Cause, Chunk, Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Queue, Ref, Stream } from "effect"
import type * as TestClock from "effect/TestClock"
import * as Agent from "../../Agent.js"
import type { AgentBehavior } from "../../behavior/AgentBehavior.js"
import type { ApiVersion } from "../../core/Action.js"
import type { AgentMessage, OrchestratorMessage, RestoreMessage } from "../../core/Message.js"
import { FilePart } from "../../core/Message.js"
import * as Registration from "../../core/Registration.js"
import type { SoftwareVersionFields } from "../../core/SoftwareVersion.js"
import type { StatusCode } from "../../core/Status.js"
import * as InMemoryTransport from "../../transport/InMemoryTransport.js"
import { InMemoryOrchestrator } from "../../transport/InMemoryTransport.js"
import type { InMemoryControl } from "../../transport/InMemoryTransport.js"
import { DataChannelError, OrchestratorTransport } from "../../transport/OrchestratorTransport.js"
import { md5Of } from "../Checksum.js"
import type { Rule, ServedFragment, Step } from "./model.js"
import { Answer, Leftovers, TestRunFailed, Violation } from "./model.js"
import * as Probe from "./probe.js"

/**
 * Which clock the agent runs on: `live`, real time (for behaviours that run
 * real processes), or `test`, the `TestClock` of the test, which the kit
 * moves on to the next pending sleep whenever it waits for the agent.
 *
 * @since 0.1.0
 */
export type ClockMode = "live" | "test"

/**
 * The clock kit functions use when their options name none.
 *
 * @since 0.1.0
 */
export class DefaultClock extends Context.Reference<DefaultClock>()("bro-agent/testing/DefaultClock", {
  defaultValue: (): ClockMode => "live"
}) {}

/**
 * What the agent under test is: a behaviour the kit runs with `Agent.start`,
 * or any Effect that plays an agent over the `OrchestratorTransport` (an
 * app's own wiring, a hand-written agent).
 *
 * @since 0.1.0
 */
export type Subject<E, R> =
  | { readonly _tag: "Behavior"; readonly behavior: AgentBehavior<E, R> }
  | { readonly _tag: "BehaviorEffect"; readonly make: Effect.Effect<AgentBehavior<E, R>, unknown, R | FileSystem.FileSystem> }
  | {
    readonly _tag: "Custom"
    readonly run: Effect.Effect<unknown, unknown, OrchestratorTransport | FileSystem.FileSystem | R>
  }

/**
 * How one run goes.
 *
 * @since 0.1.0
 */
export interface RunSettings {
  readonly function: string
  readonly sequence: string
  readonly clock: ClockMode | undefined
  readonly answerTimeout: Duration.Duration
  readonly settle: Duration.Duration
  readonly agent: Agent.AgentOptions
  readonly apiVersion: ApiVersion | undefined
  /** How the orchestrator answers registrations. */
  readonly refuse?: { readonly status: StatusCode; readonly details: string; readonly times: number } | undefined
}

/**
 * A run in progress, as a script sees it.
 *
 * @since 0.1.0
 */
export interface Session {
  readonly agentId: string
  readonly apiVersion: string
  readonly softwareVersion: SoftwareVersionFields
  readonly probe: Probe.Probe
  readonly settings: RunSettings
  /** Sends a question and waits for its one answer; `undefined` (and a violation) when none came in time. */
  readonly ask: (message: OrchestratorMessage, step: Step) => Effect.Effect<Answer | undefined>
  /** Sends a message that needs no answer. */
  readonly tell: (message: OrchestratorMessage) => Effect.Effect<void>
  /** Waits for the first of: the answer to the last message told (as `step`), or `other`. */
  readonly answerOr: <A>(step: Step, other: Effect.Effect<A>) => Effect.Effect<AnswerOr<A>>
  readonly violation: (rule: Rule, detail: string) => Effect.Effect<void>
  readonly answers: Effect.Effect<ReadonlyArray<Answer>>
  readonly violations: Effect.Effect<ReadonlyArray<Violation>>
  /** Ends the control stream, as an orchestrator that goes away does. */
  readonly endControl: (status: StatusCode, details: string) => Effect.Effect<void>
  /** Waits for the agent to register on a new stream. */
  readonly awaitRegistration: Effect.Effect<boolean, Agent.StartError>
  readonly registrations: Effect.Effect<number>
  /** How the agent ended by itself, if it has. */
  readonly agentEnded: Effect.Effect<Option.Option<Exit.Exit<unknown, unknown>>>
  /** Waits for `effect` as long as an answer may take, moving the test clock on. */
  readonly waitFor: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<Option.Option<A>, E>
  /** Waits `settle`, then counts every answer nobody asked for. */
  readonly settle: Effect.Effect<void>
  /** Records a violation for every file and call open now. */
  readonly checkOpen: (when: string) => Effect.Effect<void>
  /** Serves these fragments to the agent's downloads. */
  readonly serve: (fragments: ReadonlyArray<ServedFragment>, options: ServeOptions) => Effect.Effect<void>
  readonly leftovers: Effect.Effect<Leftovers>
}

/**
 * The answer to the last question, or what else came first.
 *
 * @since 0.1.0
 */
export type AnswerOr<A> =
  | { readonly _tag: "Answer"; readonly answer: Answer | undefined }
  | { readonly _tag: "Other"; readonly value: A }

/**
 * How fragments are served: chunk size, and the file faults.
 *
 * @since 0.1.0
 */
export interface ServeOptions {
  readonly chunkSize: number
  readonly wrongChecksum: boolean
  readonly fileName: string | undefined
  readonly backupName: string
}

const isTestClock = (clock: Clock.Clock): clock is TestClock.TestClock =>
  "adjust" in clock && "setTime" in clock && "sleeps" in clock

/**
 * Runs `script` against a fresh agent. The agent and everything it opened
 * are stopped when the run ends.
 *
 * @since 0.1.0
 */
export const run = <A, E, R, E2, R2>(
  subject: Subject<E, R>,
  settings: RunSettings,
  script: (session: Session) => Effect.Effect<A, E2, R2>
): Effect.Effect<A, E2 | TestRunFailed | Agent.StartError, FileSystem.FileSystem | R | Exclude<R2, Scope.Scope>> =>
  Effect.gen(function*() {
    const ambient = yield* Effect.clock
    const mode = settings.clock ?? (yield* DefaultClock)
    if (mode === "test" && !isTestClock(ambient)) {
      return yield* new TestRunFailed({
        function: settings.function,
        reason: `clock "test" needs the TestClock of it.effect, it.scoped or layer(...) (without excludeTestServices); ` +
          `use clock "live" under it.live`
      })
    }
    const live = Clock.make()
    const testClock = mode === "test" && isTestClock(ambient) ? ambient : undefined
    const body = Effect.scoped(runScoped(subject, settings, script, live, testClock))
    // The agent runs on the clock chosen; the kit's own waits are always in real time.
    return yield* (testClock === undefined ? Effect.withClock(body, live) : body)
  })

const runScoped = <A, E, R, E2, R2>(
  subject: Subject<E, R>,
  settings: RunSettings,
  script: (session: Session) => Effect.Effect<A, E2, R2>,
  live: Clock.Clock,
  testClock: TestClock.TestClock | undefined
): Effect.Effect<A, E2 | TestRunFailed | Agent.StartError, FileSystem.FileSystem | R | R2 | Scope.Scope> =>
  Effect.gen(function*() {
    const memory = yield* Layer.build(InMemoryTransport.layer())
    const orchestrator = Context.get(memory, InMemoryOrchestrator)
    const probe = yield* Probe.make
    const transport = probe.transport(Context.get(memory, OrchestratorTransport))
    const provide = <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) =>
      effect.pipe(
        Effect.provideService(OrchestratorTransport, transport),
        Effect.provideService(FileSystem.FileSystem, probe.fileSystem)
      )

    // Real-time waits, whatever clock the agent runs on.
    const liveSleep = (duration: Duration.Duration) => Effect.withClock(Effect.sleep(duration), live)
    const advance: Effect.Effect<never> = testClock === undefined ? Effect.never : Effect.forever(
      Effect.gen(function*() {
        yield* liveSleep(Duration.millis(2))
        const sleeps = yield* testClock.sleeps
        const next = Chunk.head(sleeps)
        if (Option.isSome(next)) yield* testClock.setTime(Math.min(...Chunk.toReadonlyArray(sleeps)))
      })
    )
    const waitFor = <X, Y>(effect: Effect.Effect<X, Y>): Effect.Effect<Option.Option<X>, Y> =>
      Effect.raceFirst(
        Effect.map(effect, Option.some),
        Effect.raceFirst(advance, Effect.as(liveSleep(settings.answerTimeout), Option.none<X>()))
      )

    const answersIn = yield* Queue.unbounded<Extract<AgentMessage, { _tag: "StageComplete" }>>()
    const registered = yield* Queue.unbounded<InMemoryControl>()
    const registrations = yield* Ref.make(0)
    const refusals = yield* Ref.make(0)
    const current = yield* Ref.make<InMemoryControl | undefined>(undefined)
    const answers = yield* Ref.make<ReadonlyArray<Answer>>([])
    const violations = yield* Ref.make<ReadonlyArray<Violation>>([])
    const firstRegistration = yield* Deferred.make<Extract<AgentMessage, { _tag: "Register" }>>()

    const violation = (rule: Rule, detail: string) =>
      Ref.update(violations, (list) => [...list, new Violation({ rule, sequence: settings.sequence, detail })])

    const readControl = (control: InMemoryControl) =>
      Effect.forever(Effect.gen(function*() {
        const message = yield* control.receive
        switch (message._tag) {
          case "Register": {
            yield* Ref.update(registrations, (count) => count + 1)
            yield* Deferred.succeed(firstRegistration, message)
            const refuse = settings.refuse
            if (refuse !== undefined && (yield* Ref.get(refusals)) < refuse.times) {
              yield* Ref.update(refusals, (count) => count + 1)
              return yield* control.end(refuse.status, refuse.details)
            }
            if (message.apiVersion === "4.0") {
              yield* control.send({
                _tag: "RegisterAcknowledge",
                message: "Registered Agent",
                features: ["PLAINTEXT", "TLS", "MTLS", "PREPARE_STAGE", "POST_STAGE", "MULTIPLE_BACKUP_TYPES", "SELECTIVE_BACKUP"]
              })
            }
            // A registration re-sent on a stream already registered changes nothing.
            if ((yield* Ref.get(current)) !== control) {
              yield* Ref.set(current, control)
              yield* registered.offer(control)
            }
            return
          }
          case "StageComplete":
            // Answers on a stream that is no longer the current one are lost, as with BRO.
            if ((yield* Ref.get(current)) === control) yield* answersIn.offer(message)
            return
          case "Unsupported":
            return
        }
      }))
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(orchestrator.nextControl, (control) =>
      Effect.forkScoped(Effect.raceFirst(readControl(control), control.closed)))))

    const ended = yield* Ref.make<Option.Option<Exit.Exit<unknown, unknown>>>(Option.none())
    const behaviorRun: Effect.Effect<unknown, unknown, R | OrchestratorTransport | FileSystem.FileSystem | Scope.Scope> =
      subject._tag !== "Custom"
        ? Effect.gen(function*() {
          // Built here, so that the FileSystem it takes is the kit's, which sees every file it opens and writes.
          const own = subject._tag === "Behavior" ? subject.behavior : yield* subject.make
          const registration = yield* Registration.make(own.registration)
          const behavior = settings.apiVersion === undefined ? own : {
            ...own,
            registration: Registration.RegistrationInformation.make({ ...registration, apiVersion: settings.apiVersion })
          }
          const agent = yield* Agent.start(behavior, { acknowledgeTimeout: 0, ...settings.agent })
          return agent.join
        }).pipe(Effect.flatten)
        : subject.run
    // The start errors (bad registration, bad settings) come back to the caller.
    const started = yield* Deferred.make<void, Agent.StartError>()
    const agentFiber = yield* Effect.forkScoped(
      provide(behaviorRun).pipe(
        Effect.onExit((exit) => Ref.set(ended, Option.some(exit))),
        Effect.tapErrorCause((cause) => {
          const failure = Cause.failureOption(cause)
          if (Option.isSome(failure) && isStartError(failure.value)) return Deferred.fail(started, failure.value)
          return Effect.void
        })
      )
    )
    const agentEnded = Ref.get(ended)

    const waitRegistration = Effect.raceFirst(
      Effect.as(registered.take, true),
      Effect.raceFirst(
        Effect.as(Deferred.await(started), false),
        Effect.as(Fiber.await(agentFiber), false)
      )
    )
    const awaitRegistration = waitFor(waitRegistration).pipe(Effect.map(Option.getOrElse(() => false)))

    const firstRegister = yield* waitFor(
      Effect.raceFirst(Deferred.await(firstRegistration), Effect.zipRight(Deferred.await(started), Effect.never))
    ).pipe(
      Effect.flatMap(Option.match({
        onNone: () =>
          Effect.fail(new TestRunFailed({
            function: settings.function,
            reason: `the agent did not register within ${Duration.format(settings.answerTimeout)}`
          })),
        onSome: Effect.succeed
      }))
    )
    if (settings.refuse === undefined) {
      const ok = yield* awaitRegistration
      if (!ok) {
        return yield* new TestRunFailed({ function: settings.function, reason: "the agent stopped before it was registered" })
      }
    }

    const send = (message: OrchestratorMessage) =>
      Effect.flatMap(Ref.get(current), (control) => control === undefined ? Effect.void : control.send(message))

    const checkOpen = (when: string) =>
      Effect.gen(function*() {
        for (const file of yield* probe.openFiles) yield* violation("NoFileLeftOpen", `${file} was open ${when}`)
        for (const call of yield* probe.openCalls) yield* violation("NoCallLeftOpen", `${call} was open ${when}`)
      })

    const toAnswer = (step: Step | "NONE", message: Extract<AgentMessage, { _tag: "StageComplete" }>) =>
      new Answer({ step, action: message.action, success: message.success, message: message.message })

    const received = (step: Step, message: Extract<AgentMessage, { _tag: "StageComplete" }> | undefined) =>
      Effect.gen(function*() {
        if (message === undefined) {
          yield* violation(
            step === "CANCEL" ? "EveryCancelAnswered" : "ExactlyOneAnswerPerStage",
            `${step === "CANCEL" ? "the cancel" : `the ${step} stage`} got no answer within ${
              Duration.format(settings.answerTimeout)
            }`
          )
          return undefined
        }
        const answer = toAnswer(step, message)
        yield* Ref.update(answers, (list) => [...list, answer])
        yield* checkOpen(`when the ${step} answer came`)
        return answer
      })

    const session: Session = {
      agentId: firstRegister.agentId,
      apiVersion: firstRegister.apiVersion,
      softwareVersion: firstRegister.softwareVersion,
      probe,
      settings,
      ask: (message, step) =>
        Effect.zipRight(send(message), waitFor(answersIn.take)).pipe(
          Effect.flatMap((answer) => received(step, Option.getOrUndefined(answer)))
        ),
      tell: send,
      answerOr: <X>(step: Step, other: Effect.Effect<X>): Effect.Effect<AnswerOr<X>> =>
        waitFor(Effect.raceFirst(
          Effect.map(answersIn.take, (message) => ({ _tag: "Answer" as const, message })),
          Effect.map(other, (value) => ({ _tag: "Other" as const, value }))
        )).pipe(Effect.flatMap((outcome): Effect.Effect<AnswerOr<X>> => {
          if (Option.isNone(outcome)) return Effect.map(received(step, undefined), (answer) => ({ _tag: "Answer", answer }))
          const value = outcome.value
          return value._tag === "Other"
            ? Effect.succeed({ _tag: "Other", value: value.value })
            : Effect.map(received(step, value.message), (answer) => ({ _tag: "Answer", answer }))
        })),
      violation,
      answers: Ref.get(answers),
      violations: Ref.get(violations),
      endControl: (status, details) =>
        Effect.gen(function*() {
          const control = yield* Ref.getAndSet(current, undefined)
          if (control !== undefined) yield* control.end(status, details)
        }),
      awaitRegistration,
      registrations: Ref.get(registrations),
      agentEnded,
      waitFor,
      settle: Effect.gen(function*() {
        yield* liveSleep(settings.settle)
        const extra = yield* answersIn.takeAll
        for (const message of extra) {
          yield* Ref.update(answers, (list) => [...list, toAnswer("NONE", message)])
          yield* violation(
            "ExactlyOneAnswerPerStage",
            `an answer came that nothing asked for (success ${message.success}, "${message.message}"): ` +
              "a stage answered twice, or a message that needs no answer was answered; BRO counts it for the next stage"
          )
        }
      }),
      checkOpen,
      serve: (fragments, options) =>
        orchestrator.serveDownloads((request) => {
          const fragment = fragments.find((candidate) => candidate.information.fragmentId === request.fragment.fragmentId)
          if (request.agentId !== firstRegister.agentId || request.backupName !== options.backupName) {
            return Stream.fail(new DataChannelError({
              status: "ABORTED",
              details: `Agent ${request.agentId} and backup ${request.backupName} are not those of the running restore`
            }))
          }
          if (fragment === undefined) {
            return Stream.fail(new DataChannelError({
              status: "ABORTED",
              details: `Fragment ${request.fragment.fragmentId} is not in backup ${options.backupName}`
            }))
          }
          return serveFragment(fragment, options)
        }),
      leftovers: Effect.gen(function*() {
        return new Leftovers({
          openFiles: yield* probe.openFiles,
          openCalls: yield* probe.openCalls,
          written: [...new Set((yield* probe.writes).map((write) => write.path))]
        })
      })
    }
    return yield* script(session)
  })

const isStartError = (error: unknown): error is Agent.StartError =>
  typeof error === "object" && error !== null && "_tag" in error &&
  (error._tag === "InvalidRegistrationInformation" || error._tag === "InvalidDataChannelSettings" ||
    error._tag === "ConfigError")

const fileMessages = (
  file: "BACKUP_FILE" | "CUSTOM_METADATA_FILE",
  name: string,
  bytes: Uint8Array,
  checksum: string,
  chunkSize: number
): ReadonlyArray<RestoreMessage> => {
  const chunks: Array<RestoreMessage> = []
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    chunks.push(FilePart.Content({ file, content: bytes.subarray(offset, offset + chunkSize) }))
  }
  return [FilePart.FileName({ file, fileName: name }), ...chunks, FilePart.Checksum({ file, checksum })]
}

const serveFragment = (fragment: ServedFragment, options: ServeOptions): Stream.Stream<RestoreMessage> => {
  const backupChecksum = options.wrongChecksum
    ? md5Of(Buffer.concat([fragment.backupFile.bytes, Buffer.from("not the same")]))
    : fragment.backupFile.checksum
  const messages = [
    ...fileMessages(
      "BACKUP_FILE",
      options.fileName ?? fragment.backupFile.name,
      fragment.backupFile.bytes,
      backupChecksum,
      options.chunkSize
    ),
    ...(fragment.customMetadataFile === undefined ? [] : fileMessages(
      "CUSTOM_METADATA_FILE",
      fragment.customMetadataFile.name,
      fragment.customMetadataFile.bytes,
      fragment.customMetadataFile.checksum,
      options.chunkSize
    ))
  ]
  return Stream.fromIterable(messages)
}
