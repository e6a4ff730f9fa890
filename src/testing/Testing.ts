/**
 * A test kit for agents: put a behaviour through every sequence a Backup
 * and Restore Orchestrator plays, on the in-memory transport, in
 * milliseconds, and get plain data back.
 *
 * - {@link backup}: the stages of a backup (API 2.0, 3.0 or 4.0), every
 *   answer, and every fragment put back together with its checksum checked.
 * - {@link restore}: serves fragments (from bytes, files or a previous
 *   backup), plays the restore (API 4.0: a placeholder fragment and one
 *   FRAGMENT_LIST_ENTRY each), and returns the answers, the downloads and
 *   what the restore folder holds.
 * - `cancel` (an option of both): after any stage, or part-way through a
 *   transfer (after N bytes); `fault`: ABORTED at byte N, a wrong checksum,
 *   an unsafe file name, a stalled stream.
 * - {@link reconnect}: the orchestrator goes away in the middle of an action
 *   and comes back; {@link refuseRegistration}: it refuses the agent.
 * - {@link conformance}: every reference sequence, each rule broken.
 *
 * Every function starts a fresh agent on a fresh in-memory orchestrator and
 * stops it at the end; it needs a `FileSystem` (`NodeFileSystem.layer`, or
 * {@link layer}), and the services the behaviour needs.
 *
 * Clocks: by default (`clock: "live"`) the agent runs in real time whatever
 * the test's clock, so that `it.effect`, `it.scoped` and `layer(...)`,
 * whose `TestClock` would freeze a stage that waits on a real process, work
 * as `it.live` does. With `clock: "test"` (or the {@link testClock} Layer)
 * the agent runs on the test's `TestClock`, and the kit moves it on to the
 * next pending sleep whenever it waits for the agent: a data-channel
 * timeout, a retry schedule, a reconnection back-off pass in microseconds.
 * Use it for behaviours with no real processes. The kit's own limits
 * (`answerTimeout`, `settle`) are real time in both.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Duration, Effect, Layer, Schema } from "effect"
import { basename } from "node:path"
import type * as Agent from "../Agent.js"
import type { AgentBehavior } from "../behavior/AgentBehavior.js"
import { ApiVersion, Stage } from "../core/Action.js"
import { FragmentInformation } from "../core/Fragment.js"
import { OrchestratorMessage } from "../core/Message.js"
import type { SoftwareVersionFields } from "../core/SoftwareVersion.js"
import type { StatusCode } from "../core/Status.js"
import type { OrchestratorTransport } from "../transport/OrchestratorTransport.js"
import { md5Of } from "../internal/Checksum.js"
import * as Settings from "../internal/Settings.js"
import * as Driver from "../internal/testing/driver.js"
import {
  BackupResult,
  ConformanceReport,
  FragmentFile,
  InvalidTestOptions,
  ReceivedFragment,
  SequenceReport,
  ServedFragment,
  TestRunFailed
} from "../internal/testing/model.js"
import type { ReconnectResult, RegistrationResult, RestoreResult, Violation } from "../internal/testing/model.js"
import * as Scripts from "../internal/testing/scripts.js"

export {
  /**
   * One stage-complete, with the question BRO counts it for.
   *
   * @since 0.1.0
   * @category models
   */
  Answer,
  /**
   * What {@link backup} returns.
   *
   * @since 0.1.0
   * @category models
   */
  BackupResult,
  /**
   * What {@link conformance} returns: `passed`, every sequence, every violation.
   *
   * @since 0.1.0
   * @category models
   */
  ConformanceReport,
  /**
   * One download a restore asked for.
   *
   * @since 0.1.0
   * @category models
   */
  Download,
  /**
   * A file of the restore folder after the run.
   *
   * @since 0.1.0
   * @category models
   */
  FolderEntry,
  /**
   * How the restore folder changed.
   *
   * @since 0.1.0
   * @category models
   */
  FolderChanges,
  /**
   * A file of a fragment: name, bytes, checksum and whether it matched; `text` reads it as UTF-8.
   *
   * @since 0.1.0
   * @category models
   */
  FragmentFile,
  /**
   * Files and calls left open, and every path written.
   *
   * @since 0.1.0
   * @category models
   */
  Leftovers,
  /**
   * A fragment a backup sent, put back together.
   *
   * @since 0.1.0
   * @category models
   */
  ReceivedFragment,
  /**
   * What {@link reconnect} returns.
   *
   * @since 0.1.0
   * @category models
   */
  ReconnectResult,
  /**
   * What {@link refuseRegistration} returns.
   *
   * @since 0.1.0
   * @category models
   */
  RegistrationResult,
  /**
   * What {@link restore} returns; `cleanedUp` says whether a failed run left things as they were.
   *
   * @since 0.1.0
   * @category models
   */
  RestoreResult,
  /**
   * One sequence of a conformance run.
   *
   * @since 0.1.0
   * @category models
   */
  SequenceReport,
  /**
   * A fragment served in a restore.
   *
   * @since 0.1.0
   * @category models
   */
  ServedFragment,
  /**
   * A rule broken, in which sequence, and what happened.
   *
   * @since 0.1.0
   * @category models
   */
  Violation,
  /**
   * Options that cannot be used, every bad field named.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidTestOptions,
  /**
   * The run could not be carried out (the agent never registered, a file to serve cannot be read, ...).
   *
   * @since 0.1.0
   * @category errors
   */
  TestRunFailed
} from "../internal/testing/model.js"

export type {
  /**
   * The rules a {@link Violation} names; see the `Rule` type's documentation.
   *
   * @since 0.1.0
   * @category models
   */
  Rule,
  /**
   * A stage, or `CANCEL`.
   *
   * @since 0.1.0
   * @category models
   */
  Step
} from "../internal/testing/model.js"

export type {
  /**
   * `live` (real time) or `test` (the test's `TestClock`, moved on by the kit).
   *
   * @since 0.1.0
   * @category models
   */
  ClockMode
} from "../internal/testing/driver.js"

// ---------------------------------------------------------------------------
// Layers and subjects
// ---------------------------------------------------------------------------

/**
 * What the kit needs beside the behaviour's own services: the Node file
 * system. For `layer(Testing.layer)(...)` of `@effect/vitest`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<FileSystem.FileSystem> = NodeFileSystem.layer

/**
 * Makes `clock: "test"` the default of every kit function run with it; see
 * the module's documentation.
 *
 * @since 0.1.0
 * @category layers
 */
export const testClock: Layer.Layer<never> = Layer.succeed(Driver.DefaultClock, "test")

/**
 * Makes `clock: "live"` the default (it is already, unless {@link testClock} is provided further out).
 *
 * @since 0.1.0
 * @category layers
 */
export const liveClock: Layer.Layer<never> = Layer.succeed(Driver.DefaultClock, "live")

/**
 * An agent that is not (only) a behaviour: any Effect that plays an agent
 * over the `OrchestratorTransport` and the `FileSystem` in its context (an
 * app's own wiring of `Agent.run`, a hand-written agent). It runs until the
 * kit's run ends.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentUnderTest<R = never> {
  readonly _tag: "AgentUnderTest"
  readonly run: Effect.Effect<unknown, unknown, OrchestratorTransport | FileSystem.FileSystem | R>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const agent = <R>(
  run: Effect.Effect<unknown, unknown, R>
): AgentUnderTest<Exclude<R, OrchestratorTransport | FileSystem.FileSystem>> => ({
  _tag: "AgentUnderTest",
  run: run as Effect.Effect<unknown, unknown, OrchestratorTransport | FileSystem.FileSystem | Exclude<R, OrchestratorTransport | FileSystem.FileSystem>>
})

/**
 * What a kit function puts to the test: a behaviour, an Effect that builds
 * one (built for each run with the kit's `FileSystem`, so that the files a
 * behaviour opens and writes through the one it took at construction are
 * seen too, as with the examples' `folderAgent(options)`), or an
 * {@link AgentUnderTest}.
 *
 * @since 0.1.0
 * @category models
 */
export type Subject<E, R> =
  | AgentBehavior<E, R>
  | AgentUnderTest<R>
  | Effect.Effect<AgentBehavior<E, R>, unknown, R | FileSystem.FileSystem>

const subjectOf = <E, R>(subject: Subject<E, R>): Driver.Subject<E, R> => {
  if (Effect.isEffect(subject)) return { _tag: "BehaviorEffect", make: subject }
  return "_tag" in subject && subject._tag === "AgentUnderTest"
    ? { _tag: "Custom", run: subject.run }
    : { _tag: "Behavior", behavior: subject as AgentBehavior<E, R> }
}

// ---------------------------------------------------------------------------
// Fragments to serve
// ---------------------------------------------------------------------------

/**
 * Where a served file comes from: bytes, or a file read when the run starts.
 *
 * @since 0.1.0
 * @category models
 */
export type FileInput =
  | { readonly _tag: "Bytes"; readonly name: string; readonly bytes: Uint8Array }
  | { readonly _tag: "Path"; readonly path: string }

/**
 * A served file of bytes (or text), under `name`.
 *
 * @since 0.1.0
 * @category fragments
 */
export const fromBytes = (name: string, bytes: Uint8Array | string): FileInput => ({
  _tag: "Bytes",
  name,
  bytes: typeof bytes === "string" ? new Uint8Array(Buffer.from(bytes)) : bytes
})

/**
 * A served file read from disk, under its base name.
 *
 * @since 0.1.0
 * @category fragments
 */
export const fromPath = (path: string): FileInput => ({ _tag: "Path", path })

/**
 * A fragment to serve, as a test writes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface FragmentInput {
  readonly fragmentId: string
  /** `"1.0"` unless given. */
  readonly version?: string
  readonly customInformation?: Readonly<Record<string, string>>
  readonly backupFile: FileInput
  readonly customMetadataFile?: FileInput
}

/**
 * What {@link restore} can serve: fragments written by the test, those a
 * {@link backup} received (finished ones), or a whole backup result.
 *
 * @since 0.1.0
 * @category models
 */
export type Fragments = BackupResult | ReadonlyArray<FragmentInput | ReceivedFragment | ServedFragment>

const servedFile = (input: FileInput, fs: FileSystem.FileSystem, fn: string) =>
  input._tag === "Bytes"
    ? Effect.succeed(fileOf(input.name, input.bytes))
    : fs.readFile(input.path).pipe(
      Effect.map((bytes) => fileOf(basename(input.path), bytes)),
      Effect.mapError((cause) => new TestRunFailed({ function: fn, reason: `cannot read ${input.path}: ${cause.message}`, cause }))
    )

const fileOf = (name: string, bytes: Uint8Array) =>
  new FragmentFile({ name, bytes, checksum: md5Of(bytes), checksumVerified: true })

const servedFragments = (fragments: Fragments, fn: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const list = fragments instanceof BackupResult ? fragments.fragments : fragments
    const served: Array<ServedFragment> = []
    for (const fragment of list) {
      if (fragment instanceof ServedFragment) served.push(fragment)
      else if (fragment instanceof ReceivedFragment) {
        if (fragment.outcome !== "finished" || fragment.backupFile === undefined) continue
        served.push(new ServedFragment({
          information: fragment.information,
          backupFile: fileOf(fragment.backupFile.name, fragment.backupFile.bytes),
          customMetadataFile: fragment.customMetadataFile === undefined
            ? undefined
            : fileOf(fragment.customMetadataFile.name, fragment.customMetadataFile.bytes)
        }))
      } else {
        const backupFile = yield* servedFile(fragment.backupFile, fs, fn)
        const customMetadataFile = fragment.customMetadataFile === undefined
          ? undefined
          : yield* servedFile(fragment.customMetadataFile, fs, fn)
        served.push(new ServedFragment({
          information: FragmentInformation.make({
            fragmentId: fragment.fragmentId,
            version: fragment.version ?? "1.0",
            sizeInBytes: String(backupFile.bytes.length),
            customInformation: { ...fragment.customInformation }
          }),
          backupFile,
          customMetadataFile
        }))
      }
    }
    return served
  })

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const Bytes = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1, { message: () => "must be a whole number of bytes, at least 1" }))
const Name = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))

const CommonFields = {
  clock: Schema.optional(Schema.Literal("live", "test")),
  answerTimeout: Schema.optional(Settings.PositiveDuration),
  settle: Schema.optional(Settings.PositiveDuration),
  apiVersion: Schema.optional(ApiVersion)
}

const ActionFields = {
  ...CommonFields,
  backupName: Schema.optional(Name),
  backupType: Schema.optional(Name),
  stages: Schema.optional(Schema.NonEmptyArray(Stage)),
  cancel: Schema.optional(Schema.Struct({ stage: Stage, afterBytes: Schema.optional(Bytes) }))
}

const BackupOptionsSchema = Schema.Struct({
  ...ActionFields,
  fault: Schema.optional(Schema.Union(
    Schema.Struct({ abortAt: Bytes }),
    Schema.Struct({ stallAt: Bytes })
  ))
})

const RestoreOptionsSchema = Schema.Struct({
  ...ActionFields,
  restoreFolder: Schema.optional(Name),
  chunkSize: Schema.optional(Bytes),
  fault: Schema.optional(Schema.Union(
    Schema.Struct({ abortAt: Bytes }),
    Schema.Struct({ stallAt: Bytes }),
    Schema.Struct({ wrongChecksum: Schema.Literal(true) }),
    Schema.Struct({ unsafeFileName: Schema.String })
  ))
})

/**
 * What every kit function takes.
 *
 * @since 0.1.0
 * @category options
 */
export interface CommonOptions {
  /** `live` by default; see the module's documentation. */
  readonly clock?: Driver.ClockMode
  /** How long (real time) the kit waits for an answer before it records none: 10 s by default. */
  readonly answerTimeout?: Duration.DurationInput
  /**
   * How long (real time) the kit waits at the end of a run for answers
   * nothing asked for: 25 ms by default. An agent that answers correctly
   * never sends one, whatever this is; it bounds how late an extra answer
   * can come and still be seen.
   */
  readonly settle?: Duration.DurationInput
  /** Registers with this API version instead of the behaviour's own (behaviours only). */
  readonly apiVersion?: ApiVersion
  /** Options of `Agent.start` (behaviours only). The acknowledgement re-send is off unless set. */
  readonly agent?: Agent.AgentOptions
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ActionOptions extends CommonOptions {
  /** `backup-1` by default. */
  readonly backupName?: string
  /** The backup manager, `DEFAULT` by default. */
  readonly backupType?: string
  /** The stages sent, in order; all of them by default (a 2.0 backup has one). */
  readonly stages?: readonly [Stage, ...Array<Stage>]
  /**
   * A cancel: after `stage` was answered (as BRO cancels), or, with
   * `afterBytes`, while that stage's first transfer is held once it has
   * carried that many bytes of file content.
   */
  readonly cancel?: { readonly stage: Stage; readonly afterBytes?: number }
}

/**
 * @since 0.1.0
 * @category options
 */
export interface BackupOptions extends ActionOptions {
  /**
   * The orchestrator aborts the first upload with ABORTED once it carried
   * `abortAt` bytes, or stops reading it (`stallAt`), so that the agent's
   * data-channel timeout fires (1 s under the live clock unless
   * `agent.dataChannelTimeout` says otherwise).
   */
  readonly fault?: { readonly abortAt: number } | { readonly stallAt: number }
}

/**
 * @since 0.1.0
 * @category options
 */
export interface RestoreOptions extends ActionOptions {
  readonly fragments: Fragments
  /**
   * Where the behaviour restores. What it holds is reported before and
   * after, and anything written elsewhere (through the `FileSystem` or a
   * download), but for temporary folders made with `makeTempDirectory`,
   * breaks `NothingWrittenOutsideRestoreFolder`.
   */
  readonly restoreFolder?: string
  /** Bytes per served chunk: 64 KiB by default. */
  readonly chunkSize?: number
  /** The software version of the backup: the agent's own by default. */
  readonly softwareVersion?: SoftwareVersionFields
  /**
   * A fault of every download: ABORTED after `abortAt` bytes of the backup
   * file, a stall after `stallAt` bytes (see {@link BackupOptions}), a
   * checksum that does not match, or the backup file served under
   * `unsafeFileName` (`../outside.txt`, say).
   */
  readonly fault?:
    | { readonly abortAt: number }
    | { readonly stallAt: number }
    | { readonly wrongChecksum: true }
    | { readonly unsafeFileName: string }
}

const decode = <A, I>(schema: Schema.Schema<A, I>, fn: string) =>
  Settings.decodeOptions(schema, "options", (problems) => new InvalidTestOptions({ function: fn, problems }))

const stallTimeout = "1 second"

const runSettings = (
  fn: string,
  sequence: string,
  options: CommonOptions,
  decoded: {
    readonly clock?: Driver.ClockMode | undefined
    readonly answerTimeout?: Duration.DurationInput | undefined
    readonly settle?: Duration.DurationInput | undefined
    readonly apiVersion?: ApiVersion | undefined
  },
  stall: boolean
): Driver.RunSettings => ({
  function: fn,
  sequence,
  clock: decoded.clock,
  // A stalled transfer ends only after the agent's data-channel timeout: the answer may take that long more.
  answerTimeout: Duration.sum(
    Duration.decode(decoded.answerTimeout ?? "10 seconds"),
    stall ? Duration.decode(options.agent?.dataChannelTimeout ?? stallTimeout) : Duration.zero
  ),
  settle: Duration.decode(decoded.settle ?? "25 millis"),
  apiVersion: decoded.apiVersion,
  agent: stall && options.agent?.dataChannelTimeout === undefined && decoded.clock !== "test"
    ? { ...options.agent, dataChannelTimeout: stallTimeout }
    : { ...options.agent }
})

/**
 * Everything a kit run can fail with: bad options, a run that could not be
 * carried out, or an agent that could not start (its registration
 * information or settings).
 *
 * @since 0.1.0
 * @category errors
 */
export type TestError = InvalidTestOptions | TestRunFailed | Agent.StartError

// ---------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------

/**
 * Runs a backup as BRO sequences it: PREPARATION, EXECUTION, POST_ACTIONS
 * (API 2.0: the one PREPARATION), each answered once; after a failed stage
 * the cancel BRO sends (not to 2.0 agents). Every upload is checked as BRO
 * checks it and answered ABORTED when BRO would abort it.
 *
 * @example
 * ```ts
 * const result = yield* Testing.backup(behavior)
 * expect(result.succeeded).toBe(true)
 * expect(result.fragments.map((fragment) => fragment.backupFile?.text)).toEqual(["hello"])
 * ```
 *
 * @since 0.1.0
 * @category runs
 */
export const backup = <E, R>(
  subject: Subject<E, R>,
  options: BackupOptions = {}
): Effect.Effect<BackupResult, TestError, FileSystem.FileSystem | R> =>
  Effect.gen(function*() {
    const decoded = yield* decode(BackupOptionsSchema, "backup")(options)
    const fault = decoded.fault === undefined
      ? undefined
      : "abortAt" in decoded.fault
      ? { kind: "abort" as const, bytes: decoded.fault.abortAt }
      : { kind: "stall" as const, bytes: decoded.fault.stallAt }
    return yield* Driver.run(
      subjectOf(subject),
      runSettings("backup", "backup", options, decoded, fault?.kind === "stall"),
      Scripts.backup({
        backupName: decoded.backupName ?? "backup-1",
        backupType: decoded.backupType ?? "DEFAULT",
        stages: decoded.stages,
        cancel: decoded.cancel,
        fault
      })
    )
  })

/**
 * Runs a restore as BRO sequences it, serving `fragments`: PREPARATION
 * (API 4.0: one empty placeholder fragment, then one FRAGMENT_LIST_ENTRY per
 * fragment, the last marked; 2.0 and 3.0: the whole list), EXECUTION,
 * POST_ACTIONS, and the cancel round after a failed stage. Downloads are
 * served in chunks of `chunkSize`, with MD5 checksums.
 *
 * @since 0.1.0
 * @category runs
 */
export const restore = <E, R>(
  subject: Subject<E, R>,
  options: RestoreOptions
): Effect.Effect<RestoreResult, TestError, FileSystem.FileSystem | R> =>
  Effect.gen(function*() {
    const { fragments, softwareVersion, agent: _agent, ...rest } = options
    const decoded = yield* decode(RestoreOptionsSchema, "restore")(rest)
    const served = yield* servedFragments(fragments, "restore")
    const fault = decoded.fault === undefined
      ? undefined
      : "abortAt" in decoded.fault
      ? { kind: "abort" as const, bytes: decoded.fault.abortAt }
      : "stallAt" in decoded.fault
      ? { kind: "stall" as const, bytes: decoded.fault.stallAt }
      : "wrongChecksum" in decoded.fault
      ? { kind: "wrongChecksum" as const }
      : { kind: "unsafeFileName" as const, fileName: decoded.fault.unsafeFileName }
    return yield* Driver.run(
      subjectOf(subject),
      runSettings("restore", "restore", options, decoded, fault?.kind === "stall"),
      Scripts.restore({
        backupName: decoded.backupName ?? "backup-1",
        backupType: decoded.backupType ?? "DEFAULT",
        stages: decoded.stages,
        fragments: served,
        softwareVersion,
        restoreFolder: decoded.restoreFolder,
        chunkSize: decoded.chunkSize ?? 64 * 1024,
        cancel: decoded.cancel,
        fault
      })
    )
  })

/**
 * @since 0.1.0
 * @category options
 */
export interface ReconnectOptions extends CommonOptions {
  /** `BACKUP` by default. */
  readonly action?: "BACKUP" | "RESTORE"
  /** The stage during which the orchestrator goes away: EXECUTION by default. */
  readonly stage?: Stage
  /** Go away while the stage's first transfer is held at this byte. */
  readonly afterBytes?: number
  /** How the control stream ends: UNAVAILABLE by default (a restarting orchestrator). */
  readonly status?: StatusCode
  readonly backupName?: string
  /** What a restore serves. */
  readonly fragments?: Fragments
}

const ReconnectOptionsSchema = Schema.Struct({
  ...CommonFields,
  action: Schema.optional(Schema.Literal("BACKUP", "RESTORE")),
  stage: Schema.optional(Stage),
  afterBytes: Schema.optional(Bytes),
  status: Schema.optional(Schema.String),
  backupName: Schema.optional(Name)
})

/**
 * The orchestrator goes away while a stage runs (the control stream ends
 * with `status`) and comes back: the agent must register again, answer
 * nothing of the lost action on the new stream, leave no file or call open,
 * and run the next backup as if nothing happened.
 *
 * @since 0.1.0
 * @category runs
 */
export const reconnect = <E, R>(
  subject: Subject<E, R>,
  options: ReconnectOptions = {}
): Effect.Effect<ReconnectResult, TestError, FileSystem.FileSystem | R> =>
  Effect.gen(function*() {
    const { fragments, agent: _agent, ...rest } = options
    const decoded = yield* decode(ReconnectOptionsSchema, "reconnect")(rest)
    const served = fragments === undefined ? [] : yield* servedFragments(fragments, "reconnect")
    return yield* Driver.run(
      subjectOf(subject),
      runSettings("reconnect", "reconnect", options, decoded, false),
      Scripts.reconnect({
        action: decoded.action ?? "BACKUP",
        stage: decoded.stage ?? "EXECUTION",
        afterBytes: decoded.afterBytes,
        status: options.status ?? "UNAVAILABLE",
        backupName: decoded.backupName ?? "backup-1",
        backupType: "DEFAULT",
        fragments: served,
        chunkSize: 64 * 1024
      })
    )
  })

/**
 * @since 0.1.0
 * @category options
 */
export interface RefuseOptions extends CommonOptions {
  /** INVALID_ARGUMENT by default. */
  readonly status?: StatusCode
  /** The description, one reason per line: `Invalid api version. Only [2.0, 3.0, 4.0] are supported.\n` by default. */
  readonly details?: string
  /** How many registrations are refused before one is accepted: every one by default. */
  readonly times?: number
}

const RefuseOptionsSchema = Schema.Struct({
  ...CommonFields,
  status: Schema.optional(Schema.String),
  details: Schema.optional(Schema.String),
  times: Schema.optional(Bytes)
})

/**
 * The orchestrator refuses the agent's registrations (`times` of them, or
 * all) by ending each stream with `status` and `details`, as BRO does; the
 * result says how many registrations came, and whether the agent stopped
 * (with what) or was registered in the end.
 *
 * @since 0.1.0
 * @category runs
 */
export const refuseRegistration = <E, R>(
  subject: Subject<E, R>,
  options: RefuseOptions = {}
): Effect.Effect<RegistrationResult, TestError, FileSystem.FileSystem | R> =>
  Effect.gen(function*() {
    const { agent: _agent, ...rest } = options
    const decoded = yield* decode(RefuseOptionsSchema, "refuseRegistration")(rest)
    return yield* Driver.run(
      subjectOf(subject),
      {
        ...runSettings("refuseRegistration", "registration refused", options, decoded, false),
        refuse: {
          status: options.status ?? "INVALID_ARGUMENT",
          details: decoded.details ?? "Invalid api version. Only [2.0, 3.0, 4.0] are supported.\n",
          times: decoded.times ?? Number.POSITIVE_INFINITY
        }
      },
      Scripts.refused
    )
  })

// ---------------------------------------------------------------------------
// Conformance
// ---------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category options
 */
export interface ConformanceOptions extends CommonOptions {
  /** Where the behaviour restores; see {@link RestoreOptions}. */
  readonly restoreFolder?: string
  /**
   * What the restores serve: by default the fragments the behaviour's own
   * backup sent.
   */
  readonly fragments?: Fragments
  /** The API versions to register with: the behaviour's own by default. */
  readonly apiVersions?: ReadonlyArray<ApiVersion>
}

const ConformanceOptionsSchema = Schema.Struct({
  ...CommonFields,
  restoreFolder: Schema.optional(Name),
  apiVersions: Schema.optional(Schema.NonEmptyArray(ApiVersion))
})

/**
 * Plays every reference sequence of the orchestrator's behaviour, each on a
 * fresh agent, and reports each rule broken (see `Rule`): exactly one
 * answer per stage, every cancel answered, no file or call left open,
 * nothing written outside the restore folder, uploads as BRO accepts them.
 *
 * The sequences, per API version: messages an idle agent must not answer
 * (EXECUTION, POST_ACTIONS, a FRAGMENT_LIST_ENTRY, an unknown type, an
 * acknowledgement) before a cancel it must; a whole backup; a backup
 * cancelled after each stage and part-way through its first upload; an
 * upload aborted by the orchestrator; a whole restore of what the backup
 * sent; a restore cancelled after each stage and part-way through a
 * download; an unexpected message after the restore preparation; a
 * download aborted, with a wrong checksum, under an unsafe file name, and
 * stalled; the orchestrator going away during the backup execution.
 *
 * @since 0.1.0
 * @category runs
 */
export const conformance = <E, R>(
  subject: Subject<E, R>,
  options: ConformanceOptions = {}
): Effect.Effect<ConformanceReport, TestError, FileSystem.FileSystem | R> =>
  Effect.gen(function*() {
    const { fragments, agent: _agent, apiVersions: _versions, ...rest } = options
    const decoded = yield* decode(ConformanceOptionsSchema, "conformance")({ ...rest, apiVersions: options.apiVersions })
    const sequences: Array<SequenceReport> = []
    let agentId = ""
    const versions: ReadonlyArray<ApiVersion | undefined> = decoded.apiVersions ?? [undefined]
    for (const apiVersion of versions) {
      const prefix = apiVersion === undefined ? "" : `API ${apiVersion}: `
      const settingsFor = (sequence: string, stall = false) =>
        runSettings("conformance", `${prefix}${sequence}`, options, { ...decoded, apiVersion }, stall)
      const record = (name: string, result: { readonly answers: ReadonlyArray<SequenceReport["answers"][number]>; readonly violations: ReadonlyArray<Violation> }) =>
        sequences.push(new SequenceReport({ name: `${prefix}${name}`, answers: result.answers, violations: result.violations }))
      const backupRun = (name: string, plan: Partial<Scripts.BackupPlan>, stall = false) =>
        Driver.run(subjectOf(subject), settingsFor(name, stall), Scripts.backup({
          backupName: "conformance",
          backupType: "DEFAULT",
          stages: undefined,
          cancel: undefined,
          fault: undefined,
          ...plan
        })).pipe(Effect.tap((result) => {
          agentId = result.agentId
          record(name, result)
        }))

      // Idle: nothing is answered until the cancel, which is.
      yield* Driver.run(subjectOf(subject), settingsFor("idle messages"), (session) =>
        Effect.gen(function*() {
          for (const message of idleMessages) yield* session.tell(message)
          yield* session.ask(OrchestratorMessage.Cancel({ action: "BACKUP", message: "" }), "CANCEL")
          yield* session.settle
          yield* session.checkOpen("when the run ended")
          record("idle messages", { answers: yield* session.answers, violations: yield* session.violations })
        }))

      const whole = yield* backupRun("backup", {})
      const stages: ReadonlyArray<Stage> = whole.apiVersion === "2.0"
        ? ["PREPARATION"]
        : ["PREPARATION", "EXECUTION", "POST_ACTIONS"]
      for (const stage of stages) yield* backupRun(`backup cancelled after ${stage}`, { cancel: { stage } })
      const firstUpload = whole.fragments[0]?.backupFile?.bytes.length ?? 0
      const transferStage: Stage = whole.apiVersion === "2.0" ? "PREPARATION" : "EXECUTION"
      if (firstUpload > 0) {
        const half = Math.max(1, Math.floor(firstUpload / 2))
        yield* backupRun("backup cancelled part-way through an upload", { cancel: { stage: transferStage, afterBytes: half } })
        yield* backupRun("upload aborted by the orchestrator", { fault: { kind: "abort", bytes: half } })
      }

      const served = fragments === undefined
        ? yield* servedFragments(whole, "conformance")
        : yield* servedFragments(fragments, "conformance")
      const restoreRun = (name: string, plan: Partial<Scripts.RestorePlan>, stall = false) =>
        Driver.run(subjectOf(subject), settingsFor(name, stall), Scripts.restore({
          backupName: "conformance",
          backupType: "DEFAULT",
          stages: undefined,
          fragments: served,
          softwareVersion: undefined,
          restoreFolder: decoded.restoreFolder,
          chunkSize: 64 * 1024,
          cancel: undefined,
          fault: undefined,
          ...plan
        })).pipe(Effect.tap((result) => record(name, result)))
      yield* restoreRun("restore", {})
      for (const stage of ["PREPARATION", "EXECUTION", "POST_ACTIONS"] as const) {
        yield* restoreRun(`restore cancelled after ${stage}`, { cancel: { stage } })
      }
      yield* restoreRun("unexpected POST_ACTIONS after the restore preparation", {
        unexpectedAfter: { stage: "PREPARATION", message: OrchestratorMessage.PostActions({ action: "RESTORE" }) }
      })
      const firstServed = served[0]?.backupFile.bytes.length ?? 0
      if (firstServed > 0) {
        const half = Math.max(1, Math.floor(firstServed / 2))
        yield* restoreRun("restore cancelled part-way through a download", { cancel: { stage: "EXECUTION", afterBytes: half } })
        yield* restoreRun("download aborted by the orchestrator", { fault: { kind: "abort", bytes: half } })
        yield* restoreRun("download stalled", { fault: { kind: "stall", bytes: half } }, true)
      }
      if (served.length > 0) {
        yield* restoreRun("download with a wrong checksum", { fault: { kind: "wrongChecksum" } })
        yield* restoreRun("download under an unsafe file name", { fault: { kind: "unsafeFileName", fileName: "../outside.txt" } })
      }
      if (whole.apiVersion !== "2.0") {
        const name = "the orchestrator goes away during the backup execution"
        const result = yield* Driver.run(subjectOf(subject), settingsFor(name), Scripts.reconnect({
          action: "BACKUP",
          stage: "EXECUTION",
          afterBytes: firstUpload > 0 ? Math.max(1, Math.floor(firstUpload / 2)) : undefined,
          status: "UNAVAILABLE",
          backupName: "conformance",
          backupType: "DEFAULT",
          fragments: [],
          chunkSize: 64 * 1024
        }))
        record(name, {
          answers: [...result.answersBefore, ...result.answersUnasked, ...(result.backupAfter?.answers ?? [])],
          violations: result.violations
        })
      }
    }
    return new ConformanceReport({
      agentId,
      sequences,
      violations: sequences.flatMap((sequence) => sequence.violations)
    })
  })

const idleMessages: ReadonlyArray<OrchestratorMessage> = [
  OrchestratorMessage.Execution({ action: "BACKUP" }),
  OrchestratorMessage.PostActions({ action: "BACKUP" }),
  OrchestratorMessage.Execution({ action: "RESTORE" }),
  OrchestratorMessage.FragmentListEntry({
    action: "RESTORE",
    fragment: FragmentInformation.make({ fragmentId: "f", version: "1.0", sizeInBytes: "1", customInformation: {} }),
    last: true
  }),
  OrchestratorMessage.Unsupported({ action: "BACKUP", messageType: "METRICS_REQUEST" }),
  OrchestratorMessage.RegisterAcknowledge({ message: "Registered Agent", features: [] })
]
