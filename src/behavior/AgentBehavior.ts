/**
 * What a service team writes: its agent's registration information and one
 * Effect per stage. The library runs each stage's Effect when the
 * orchestrator asks for it and answers the orchestrator with its outcome.
 *
 * @since 0.1.0
 */
import type { Effect, Stream } from "effect"
import { Data } from "effect"
import type { Action } from "../core/Action.js"
import type { FragmentInformation } from "../core/Fragment.js"
import type { RegistrationInformation, RegistrationInput } from "../core/Registration.js"
import type { SoftwareVersionFields } from "../core/SoftwareVersion.js"
import type {
  BackupFragment,
  DownloadedFragment,
  DownloadStreamOptions,
  FailedToDownload,
  FailedToTransferBackup,
  SentFragment
} from "./Fragments.js"

/**
 * What every stage's Effect is given.
 *
 * @since 0.1.0
 * @category contexts
 */
export interface StageContext {
  readonly agentId: string
  readonly action: Action
  readonly backupName: string
  /** The backup manager the action runs in (`DEFAULT` unless the agent has a scope). */
  readonly backupType: string
}

/**
 * Backup preparation and post-actions.
 *
 * @since 0.1.0
 * @category contexts
 */
export interface BackupContext extends StageContext {
  readonly action: "BACKUP"
}

/**
 * Backup execution: where the agent creates and sends its fragments.
 *
 * @since 0.1.0
 * @category contexts
 */
export interface BackupExecutionContext extends BackupContext {
  /**
   * Sends one fragment over the data channel; see `Fragments.sendFragment`.
   * Call it as often as needed, one after another or concurrently.
   */
  readonly sendFragment: (fragment: BackupFragment) => Effect.Effect<SentFragment, FailedToTransferBackup>
  /** Sends fragments, `concurrency` at a time (one by default); fails with the first failure. */
  readonly sendFragments: (
    fragments: Iterable<BackupFragment>,
    options?: { readonly concurrency?: number }
  ) => Effect.Effect<ReadonlyArray<SentFragment>, FailedToTransferBackup>
}

/**
 * Every restore stage.
 *
 * @since 0.1.0
 * @category contexts
 */
export interface RestoreContext extends StageContext {
  readonly action: "RESTORE"
  /** The software version the backup was made with: check that the service can take it. */
  readonly softwareVersion: SoftwareVersionFields | undefined
  /** This agent's fragments of the backup, in no particular order. */
  readonly fragments: ReadonlyArray<FragmentInformation>
  /** Downloads a fragment into a folder; see `Fragments.downloadFragment`. */
  readonly downloadFragment: (
    fragment: FragmentInformation,
    folder: string
  ) => Effect.Effect<DownloadedFragment, FailedToDownload>
  /**
   * Downloads a fragment's backup file as bytes, its last chunk held back
   * until the whole fragment checked out; `onCustomMetadata` is given its
   * custom-metadata file before that chunk. See `Fragments.downloadFragmentStream`.
   */
  readonly downloadFragmentStream: <E = never, R = never>(
    fragment: FragmentInformation,
    options?: DownloadStreamOptions<E, R>
  ) => Stream.Stream<Uint8Array, FailedToDownload | E, R>
}

/**
 * The cancel step: given the action that is cancelled.
 *
 * @since 0.1.0
 * @category contexts
 */
export type CancelContext = BackupContext | RestoreContext

/**
 * What any stage is given: the backup's contexts with their data-channel
 * operations.
 *
 * @since 0.1.0
 * @category contexts
 */
export type AnyStageContext = BackupExecutionContext | RestoreContext

/**
 * What a stage's Effect succeeds with. A string is the message the
 * stage-complete carries; any other value (nothing, the fragments sent, ...)
 * leaves the default message.
 *
 * @since 0.1.0
 * @category models
 */
export type StageOutcome = unknown

/**
 * A ready-made error for a stage that fails with a message: the stage is
 * answered `success = false` with `message`. Any typed error works the same
 * way; its `message` (or its text) is what the orchestrator is told.
 *
 * @since 0.1.0
 * @category errors
 */
export class StageFailure extends Data.TaggedError("StageFailure")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * An agent's behaviour. Only the registration, `executeBackup` and
 * `executeRestore` are required; every other stage succeeds at once by
 * default.
 *
 * A stage's Effect that succeeds answers `success = true` (with its message,
 * if it returns one); one that fails answers `success = false` with the
 * error's message; one that dies (a throw, a bug) answers `success = false`
 * and is logged with its cause. Exactly one answer per stage, always.
 *
 * A cancel interrupts the stage that runs (closing what its scopes hold:
 * files, data streams), then runs `cancel`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentBehavior<E = never, R = never> {
  readonly registration: RegistrationInput | RegistrationInformation
  readonly prepareBackup?: (context: BackupContext) => Effect.Effect<StageOutcome, E, R>
  readonly executeBackup: (context: BackupExecutionContext) => Effect.Effect<StageOutcome, E, R>
  readonly postBackup?: (context: BackupContext) => Effect.Effect<StageOutcome, E, R>
  readonly prepareRestore?: (context: RestoreContext) => Effect.Effect<StageOutcome, E, R>
  readonly executeRestore: (context: RestoreContext) => Effect.Effect<StageOutcome, E, R>
  readonly postRestore?: (context: RestoreContext) => Effect.Effect<StageOutcome, E, R>
  readonly cancel?: (context: CancelContext) => Effect.Effect<StageOutcome, E, R>
}

type StageEffect<T> = T extends (context: never) => Effect.Effect<unknown, infer E, infer R> ? [E, R] : [never, never]

/**
 * The errors any stage of a behaviour may fail with.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ErrorOf<B> = { [K in keyof B]-?: StageEffect<Exclude<B[K], undefined>>[0] }[keyof B]

/**
 * The services any stage of a behaviour needs.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ContextOf<B> = { [K in keyof B]-?: StageEffect<Exclude<B[K], undefined>>[1] }[keyof B]

/**
 * Any behaviour, whatever its stages fail with or need.
 *
 * @since 0.1.0
 * @category models
 */
export type AnyAgentBehavior = AgentBehavior<unknown, unknown>

/**
 * Builds a behaviour, checking its type. The error and requirement types are
 * the unions of every stage's (TypeScript alone would take them from the
 * first stage and refuse the others).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <B extends AnyAgentBehavior>(behavior: B): AgentBehavior<ErrorOf<B>, ContextOf<B>> =>
  behavior as AgentBehavior<ErrorOf<B>, ContextOf<B>>

/**
 * The texts of the default answers (those of the reference agents, which
 * BRO's users know), and of ours for the two required stages.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMessages = {
  prepareBackup: "Preparation for backup is successful",
  executeBackup: "Backup completed",
  postBackup: "Post backup actions completed",
  prepareRestore: "Preparation for restore is successful",
  executeRestore: "Restore completed",
  postRestore: "Post restore actions completed",
  cancel: "Cancel actions completed"
} as const
