/**
 * What the test kit reports: plain data, built with `Data.Class` so that a
 * test compares it with `toEqual` or `Equal.equals`.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { ControlAction, Stage } from "../../core/Action.js"
import type { FragmentInformation } from "../../core/Fragment.js"
import type { FieldProblem } from "../Settings.js"

/**
 * A question the orchestrator asks, which BRO waits to see answered: one of
 * the three stages, or a cancel.
 *
 * @since 0.1.0
 */
export type Step = Stage | "CANCEL"

/**
 * One stage-complete the agent wrote, with the question BRO counts it for
 * (`NONE` when no question was waiting: an answer too many).
 *
 * @since 0.1.0
 */
export class Answer extends Data.Class<{
  readonly step: Step | "NONE"
  readonly action: ControlAction
  readonly success: boolean
  readonly message: string
}> {}

/**
 * The rules {@link Violation} names:
 * - `ExactlyOneAnswerPerStage`: a stage got no answer, or an answer came that
 *   nothing asked for (a stage answered twice, an idle message answered);
 *   BRO counts a second answer for the next stage.
 * - `EveryCancelAnswered`: a cancel got no answer; BRO waits for ever.
 * - `NoFileLeftOpen`: a file opened through the `FileSystem` was still open
 *   when the stage was answered, or when the run ended.
 * - `NoCallLeftOpen`: an upload or download was still open then.
 * - `NothingWrittenOutsideRestoreFolder`: a restore wrote (through the
 *   `FileSystem` or a download) outside the restore folder and the
 *   temporary folders it made.
 * - `RegistersAgain`: after the orchestrator went away mid-action, the
 *   agent did not register again (its cancel step never returned, say).
 * - `UploadsFollowTheProtocol`: an upload BRO would abort (metadata, order,
 *   a checksum that differs), or one half-closed, not cancelled, after its
 *   stage was cancelled (BRO would keep a truncated fragment).
 *
 * @since 0.1.0
 */
export type Rule =
  | "ExactlyOneAnswerPerStage"
  | "EveryCancelAnswered"
  | "NoFileLeftOpen"
  | "NoCallLeftOpen"
  | "NothingWrittenOutsideRestoreFolder"
  | "RegistersAgain"
  | "UploadsFollowTheProtocol"

/**
 * A rule the agent broke, in which sequence, and what happened.
 *
 * @since 0.1.0
 */
export class Violation extends Data.Class<{
  readonly rule: Rule
  readonly sequence: string
  readonly detail: string
}> {}

/**
 * One file of a fragment as the kit received it (backup) or serves it
 * (restore).
 *
 * @since 0.1.0
 */
export class FragmentFile extends Data.Class<{
  readonly name: string
  readonly bytes: Uint8Array
  /** The MD5 (upper-case hex) the agent sent; on a served file, the file's own. */
  readonly checksum: string
  /** Whether `checksum` is the MD5 of `bytes`. */
  readonly checksumVerified: boolean
}> {
  /** The bytes as UTF-8 text. */
  get text(): string {
    return Buffer.from(this.bytes).toString("utf8")
  }
}

/**
 * A fragment as the orchestrator received it in a backup, put back
 * together from its chunks:
 * - `finished`: half-closed and accepted;
 * - `refused`: half-closed, and answered ABORTED, as BRO would (see
 *   `problems`), or aborted by a fault the test asked for;
 * - `cancelled`: the agent cancelled the call.
 *
 * @since 0.1.0
 */
export class ReceivedFragment extends Data.Class<{
  readonly information: FragmentInformation
  readonly backupFile: FragmentFile | undefined
  readonly customMetadataFile: FragmentFile | undefined
  readonly outcome: "finished" | "refused" | "cancelled"
  /** What BRO would abort the upload for; empty when it follows the protocol. */
  readonly problems: ReadonlyArray<string>
}> {
  get fragmentId(): string {
    return this.information.fragmentId
  }
}

/**
 * A fragment the kit serves in a restore.
 *
 * @since 0.1.0
 */
export class ServedFragment extends Data.Class<{
  readonly information: FragmentInformation
  readonly backupFile: FragmentFile
  readonly customMetadataFile: FragmentFile | undefined
}> {}

/**
 * One download the agent asked for in a restore: how much of the backup
 * file was served, and how the call ended (`failed`: the served stream
 * failed, by a fault or an unknown fragment; `interrupted`: the agent
 * stopped reading, or was cancelled, before the end).
 *
 * @since 0.1.0
 */
export class Download extends Data.Class<{
  readonly fragmentId: string
  readonly bytesServed: number
  readonly outcome: "completed" | "failed" | "interrupted"
}> {}

/**
 * One file of the restore folder, after the run.
 *
 * @since 0.1.0
 */
export class FolderEntry extends Data.Class<{
  /** Relative to the restore folder, with `/` between folders. */
  readonly path: string
  readonly size: number
  readonly checksum: string
}> {}

/**
 * How the restore folder differs after the run from before it.
 *
 * @since 0.1.0
 */
export class FolderChanges extends Data.Class<{
  readonly added: ReadonlyArray<string>
  readonly changed: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
}> {
  get unchanged(): boolean {
    return this.added.length === 0 && this.changed.length === 0 && this.removed.length === 0
  }
}

/**
 * What was left open when the run ended, and what the agent wrote.
 *
 * @since 0.1.0
 */
export class Leftovers extends Data.Class<{
  /** Files opened through the `FileSystem` and still open. */
  readonly openFiles: ReadonlyArray<string>
  /** Uploads and downloads still open. */
  readonly openCalls: ReadonlyArray<string>
  /** Every path written, created, renamed to or removed through the `FileSystem` (absolute). */
  readonly written: ReadonlyArray<string>
}> {}

/**
 * What a backup run returns: every answer, every fragment received, the
 * rules broken, and what was left.
 *
 * @since 0.1.0
 */
export class BackupResult extends Data.Class<{
  readonly agentId: string
  readonly apiVersion: string
  readonly backupName: string
  readonly answers: ReadonlyArray<Answer>
  readonly fragments: ReadonlyArray<ReceivedFragment>
  /** Content bytes the agent had sent when the cancel was sent, for a cancel part-way through. */
  readonly cancelledAfterBytes: number | undefined
  readonly violations: ReadonlyArray<Violation>
  readonly leftovers: Leftovers
}> {
  /** Whether every stage was answered with success. */
  get succeeded(): boolean {
    return this.answers.length > 0 && this.answers.every((answer) => answer.success && answer.step !== "NONE")
  }
}

/**
 * What a restore run returns: every answer, the downloads asked for, what
 * the restore folder holds and how it changed, the rules broken, and what
 * was left.
 *
 * @since 0.1.0
 */
export class RestoreResult extends Data.Class<{
  readonly agentId: string
  readonly apiVersion: string
  readonly backupName: string
  readonly answers: ReadonlyArray<Answer>
  readonly downloads: ReadonlyArray<Download>
  /** The restore folder's files after the run (empty without `restoreFolder`). */
  readonly folder: ReadonlyArray<FolderEntry>
  readonly folderChanges: FolderChanges
  readonly cancelledAfterBytes: number | undefined
  readonly violations: ReadonlyArray<Violation>
  readonly leftovers: Leftovers
}> {
  get succeeded(): boolean {
    return this.answers.length > 0 && this.answers.every((answer) => answer.success && answer.step !== "NONE")
  }

  /**
   * Whether a failed run left things as they were: no file or call open,
   * and the restore folder unchanged.
   */
  get cleanedUp(): boolean {
    return this.leftovers.openFiles.length === 0 && this.leftovers.openCalls.length === 0 &&
      this.folderChanges.unchanged
  }
}

/**
 * What happened when the orchestrator went away in the middle of an action
 * and came back.
 *
 * @since 0.1.0
 */
export class ReconnectResult extends Data.Class<{
  /** Answers on the stream that was ended. */
  readonly answersBefore: ReadonlyArray<Answer>
  /** Registrations the agent sent, on every stream. */
  readonly registrations: number
  /** Answers written on the new stream before any question was asked there. */
  readonly answersUnasked: ReadonlyArray<Answer>
  /** A whole backup run on the new stream; none when the agent did not register again. */
  readonly backupAfter: BackupResult | undefined
  readonly violations: ReadonlyArray<Violation>
}> {}

/**
 * What happened when the orchestrator refused the registration.
 *
 * @since 0.1.0
 */
export class RegistrationResult extends Data.Class<{
  /** Registrations the agent sent before it stopped (or was accepted). */
  readonly attempts: number
  /** Whether the agent was registered in the end (the refusal was lifted). */
  readonly registered: boolean
  /** The error the agent stopped with (`RegistrationRejected`, ...), when it stopped. */
  readonly stoppedWith: { readonly _tag: string; readonly message: string } | undefined
}> {}

/**
 * One sequence of behaviour.md the conformance run played.
 *
 * @since 0.1.0
 */
export class SequenceReport extends Data.Class<{
  readonly name: string
  readonly answers: ReadonlyArray<Answer>
  readonly violations: ReadonlyArray<Violation>
}> {}

/**
 * Every sequence played, and every rule broken.
 *
 * @since 0.1.0
 */
export class ConformanceReport extends Data.Class<{
  readonly agentId: string
  readonly sequences: ReadonlyArray<SequenceReport>
  readonly violations: ReadonlyArray<Violation>
}> {
  get passed(): boolean {
    return this.violations.length === 0
  }
}

/**
 * The options given to a kit function cannot be used: every bad field is
 * named, with why.
 *
 * @since 0.1.0
 */
export class InvalidTestOptions extends Data.TaggedError("InvalidTestOptions")<{
  readonly function: string
  readonly problems: ReadonlyArray<FieldProblem>
}> {
  override get message(): string {
    return `Invalid options for Testing.${this.function}: ${
      this.problems.map((problem) => `${problem.field} ${problem.reason}`).join("; ")
    }`
  }
}

/**
 * The run could not be carried out: the agent never registered, a file to
 * serve could not be read, or `clock: "test"` was asked for outside a test
 * that has a `TestClock`.
 *
 * @since 0.1.0
 */
export class TestRunFailed extends Data.TaggedError("TestRunFailed")<{
  readonly function: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Testing.${this.function} could not run: ${this.reason}`
  }
}
