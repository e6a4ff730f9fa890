/**
 * The sequences the test kit plays, each as BRO plays it (behaviour.md §3,
 * §5, §6, §8): a backup, a restore (API 4.0 with its placeholder fragment
 * and fragment-list entries), a cancel after a stage or part-way through a
 * transfer, the cancel round after a failed stage, the orchestrator going
 * away, a refused registration.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Cause, Deferred, Duration, Effect, Exit, Option } from "effect"
import { join, relative, resolve, sep } from "node:path"
import type { Action, Stage } from "../../core/Action.js"
import { FragmentInformation } from "../../core/Fragment.js"
import type { BackupMessage, FragmentFile as FileKind, OrchestratorMessage } from "../../core/Message.js"
import { OrchestratorMessage as Messages } from "../../core/Message.js"
import { idProblem } from "../../core/Registration.js"
import type { SoftwareVersionFields } from "../../core/SoftwareVersion.js"
import type { StatusCode } from "../../core/Status.js"
import { md5Of } from "../Checksum.js"
import type { Session } from "./driver.js"
import type { Answer, ServedFragment } from "./model.js"
import {
  BackupResult,
  Download,
  FolderChanges,
  FolderEntry,
  FragmentFile,
  ReceivedFragment,
  ReconnectResult,
  RegistrationResult,
  RestoreResult
} from "./model.js"
import type { UploadRecord } from "./probe.js"
import * as Probe from "./probe.js"

/**
 * A cancel after a stage was answered, or, with `afterBytes`, while that
 * stage's first transfer is held at that byte.
 *
 * @since 0.1.0
 */
export interface CancelPlan {
  readonly stage: Stage
  readonly afterBytes?: number | undefined
}

/**
 * @since 0.1.0
 */
export interface BackupPlan {
  readonly backupName: string
  readonly backupType: string
  readonly stages: ReadonlyArray<Stage> | undefined
  readonly cancel: CancelPlan | undefined
  readonly fault: { readonly kind: "abort" | "stall"; readonly bytes: number } | undefined
}

/**
 * @since 0.1.0
 */
export interface RestorePlan {
  readonly backupName: string
  readonly backupType: string
  readonly stages: ReadonlyArray<Stage> | undefined
  readonly fragments: ReadonlyArray<ServedFragment>
  readonly softwareVersion: SoftwareVersionFields | undefined
  readonly restoreFolder: string | undefined
  readonly chunkSize: number
  readonly cancel: CancelPlan | undefined
  readonly fault:
    | { readonly kind: "abort" | "stall"; readonly bytes: number }
    | { readonly kind: "wrongChecksum" }
    | { readonly kind: "unsafeFileName"; readonly fileName: string }
    | undefined
  /** A message sent after this stage's answer, in place of the next stage's (an unexpected one). */
  readonly unexpectedAfter?: { readonly stage: Stage; readonly message: OrchestratorMessage } | undefined
}

const stagesOf = (action: Action, apiVersion: string, stages: ReadonlyArray<Stage> | undefined): ReadonlyArray<Stage> =>
  stages ?? (action === "BACKUP" && apiVersion === "2.0" ? ["PREPARATION"] : ["PREPARATION", "EXECUTION", "POST_ACTIONS"])

const placeholder = FragmentInformation.make({ fragmentId: "", version: "", sizeInBytes: "", customInformation: {} })

// The messages of a stage, in order: BRO waits for the answer after the last.
const stageMessages = (
  session: Session,
  action: Action,
  stage: Stage,
  target: { readonly backupName: string; readonly backupType: string },
  restore?: { readonly fragments: ReadonlyArray<FragmentInformation>; readonly softwareVersion: SoftwareVersionFields }
): ReadonlyArray<OrchestratorMessage> => {
  if (stage === "EXECUTION") return [Messages.Execution({ action })]
  if (stage === "POST_ACTIONS") return [Messages.PostActions({ action })]
  if (restore === undefined) {
    return [Messages.Preparation({ action, ...target, softwareVersion: undefined, fragments: [] })]
  }
  const fragments = restore.fragments
  if (session.apiVersion !== "4.0" || fragments.length === 0) {
    return [Messages.Preparation({ action, ...target, softwareVersion: restore.softwareVersion, fragments })]
  }
  return [
    Messages.Preparation({ action, ...target, softwareVersion: restore.softwareVersion, fragments: [placeholder] }),
    ...fragments.map((fragment, index) =>
      Messages.FragmentListEntry({ action, fragment, last: index === fragments.length - 1 })
    )
  ]
}

const cancelMessage = (action: Action) => Messages.Cancel({ action, message: "" })

/**
 * Plays the stages, the cancel the plan asks for, and BRO's cancel round
 * after a failed stage. Returns the bytes the held transfer had reached
 * when the cancel was sent, if it was.
 *
 * @since 0.1.0
 */
const playStages = (
  session: Session,
  action: Action,
  stages: ReadonlyArray<Stage>,
  messagesOf: (stage: Stage) => ReadonlyArray<OrchestratorMessage>,
  hold: (reached: Deferred.Deferred<number>, bytes: number) => Effect.Effect<void>,
  cancel: CancelPlan | undefined,
  unexpectedAfter?: { readonly stage: Stage; readonly message: OrchestratorMessage }
): Effect.Effect<number | undefined> =>
  Effect.gen(function*() {
    // BRO sends no cancel to a 2.0 agent after a failed backup.
    const cancelRound = action === "RESTORE" || session.apiVersion !== "2.0"
    for (const stage of stages) {
      const messages = messagesOf(stage)
      const last = messages[messages.length - 1]
      if (last === undefined) continue
      for (const message of messages.slice(0, -1)) yield* session.tell(message)
      if (cancel?.stage === stage && cancel.afterBytes !== undefined) {
        const reached = yield* Deferred.make<number>()
        yield* hold(reached, cancel.afterBytes)
        yield* session.tell(last)
        const outcome = yield* session.answerOr(stage, Deferred.await(reached))
        if (outcome._tag === "Other") {
          yield* session.ask(cancelMessage(action), "CANCEL")
          return outcome.value
        }
        if (outcome.answer !== undefined) yield* session.ask(cancelMessage(action), "CANCEL")
        return undefined
      }
      const answer: Answer | undefined = yield* session.ask(last, stage)
      if (answer === undefined) return undefined
      if (cancel?.stage === stage || (!answer.success && cancelRound)) {
        yield* session.ask(cancelMessage(action), "CANCEL")
        return undefined
      }
      if (!answer.success) return undefined
      if (unexpectedAfter?.stage === stage) {
        const unexpected = yield* session.ask(unexpectedAfter.message, stages[stages.indexOf(stage) + 1] ?? stage)
        if (unexpected !== undefined) yield* session.ask(cancelMessage(action), "CANCEL")
        return undefined
      }
    }
    return undefined
  })

/**
 * What BRO would abort an upload for (behaviour.md §5), as it checks the
 * messages in order.
 *
 * @since 0.1.0
 */
export const uploadProblems = (
  messages: ReadonlyArray<BackupMessage>,
  agentId: string,
  backupName: string
): ReadonlyArray<string> => parseUpload({ messages, outcome: "finished", problems: [] }, agentId, backupName).problems

const parseUpload = (record: UploadRecord, agentId: string, backupName: string): ReceivedFragment => {
  const problems: Array<string> = [...record.problems]
  const [first, ...rest] = record.messages
  let information = placeholder
  if (first === undefined || first._tag !== "Metadata") {
    problems.push("the first message is not METADATA")
  } else {
    const { metadata } = first
    information = metadata.fragment
    if (metadata.agentId !== agentId) problems.push(`the metadata names agent "${metadata.agentId}", not "${agentId}"`)
    if (metadata.backupName !== backupName) {
      problems.push(`the metadata names backup "${metadata.backupName}", not "${backupName}"`)
    }
    const idIssue = idProblem(metadata.fragment.fragmentId)
    if (idIssue !== undefined) problems.push(`the fragment id ${idIssue}`)
    if (metadata.fragment.version === "") problems.push("the fragment version is empty")
    if (metadata.fragment.sizeInBytes === "") problems.push("the fragment's sizeInBytes is empty")
  }
  const files = new Map<FileKind, { name: string; chunks: Array<Uint8Array>; checksum: string | undefined }>()
  let open: FileKind | undefined
  for (const message of first?._tag === "Metadata" ? rest : record.messages) {
    if (message._tag === "Metadata") {
      problems.push("a second METADATA message")
      continue
    }
    if (message._tag === "Unsupported") {
      problems.push(`an unknown message (${message.messageType})`)
      continue
    }
    const file = message.file
    switch (message._tag) {
      case "FileName":
        if (files.has(file)) problems.push(`${file} is named twice`)
        else if (file === "BACKUP_FILE" && files.size > 0) problems.push("the backup file comes after the custom metadata file")
        else if (file === "CUSTOM_METADATA_FILE" && files.get("BACKUP_FILE")?.checksum === undefined) {
          problems.push("the custom metadata file comes before the backup file's checksum")
        }
        files.set(file, { name: message.fileName, chunks: [], checksum: undefined })
        open = file
        break
      case "Content": {
        const entry = files.get(file)
        if (entry === undefined || open !== file) problems.push(`content of ${file} before its name`)
        else if (message.content.length === 0) problems.push(`an empty content chunk of ${file} (BRO reads it as a file name)`)
        else entry.chunks.push(message.content)
        break
      }
      case "Checksum": {
        const entry = files.get(file)
        if (entry === undefined || open !== file) problems.push(`a checksum of ${file} before its name`)
        else {
          entry.checksum = message.checksum
          open = undefined
        }
        break
      }
    }
  }
  const fileOf = (kind: FileKind): FragmentFile | undefined => {
    const entry = files.get(kind)
    if (entry === undefined) return undefined
    const bytes = new Uint8Array(Buffer.concat(entry.chunks))
    const computed = md5Of(bytes)
    if (entry.checksum === undefined) problems.push(`${kind} has no checksum`)
    else if (entry.checksum !== computed) {
      problems.push(`the checksum of ${kind} is ${entry.checksum}, its content's MD5 is ${computed}`)
    }
    return new FragmentFile({
      name: entry.name,
      bytes,
      checksum: entry.checksum ?? "",
      checksumVerified: entry.checksum === computed
    })
  }
  const backupFile = fileOf("BACKUP_FILE")
  const customMetadataFile = fileOf("CUSTOM_METADATA_FILE")
  if (backupFile === undefined && record.outcome !== "cancelled") problems.push("no backup file")
  return new ReceivedFragment({
    information,
    backupFile,
    customMetadataFile,
    outcome: record.outcome === "open" || record.outcome === "cancelled" ? "cancelled" : record.outcome,
    problems: record.outcome === "cancelled" ? [] : problems
  })
}

const endRun = (session: Session) =>
  Effect.gen(function*() {
    yield* session.settle
    yield* session.checkOpen("when the run ended")
  })

/**
 * @since 0.1.0
 */
export const backup = (plan: BackupPlan, offsets = { answers: 0, uploads: 0 }) => (session: Session) =>
  Effect.gen(function*() {
    yield* session.probe.setUploadCheck((messages) => uploadProblems(messages, session.agentId, plan.backupName))
    if (plan.fault !== undefined) {
      const reached = yield* Deferred.make<number>()
      yield* session.probe.setUploadFault({ kind: plan.fault.kind, bytes: plan.fault.bytes, reached })
    }
    const target = { backupName: plan.backupName, backupType: plan.backupType }
    const cancelledAfterBytes = yield* playStages(
      session,
      "BACKUP",
      stagesOf("BACKUP", session.apiVersion, plan.stages),
      (stage) => stageMessages(session, "BACKUP", stage, target),
      (reached, bytes) => session.probe.setUploadFault({ kind: "hold", bytes, reached }),
      plan.cancel
    )
    yield* endRun(session)
    const uploads = (yield* session.probe.uploads).slice(offsets.uploads)
    const fragments = uploads.map((record) => parseUpload(record, session.agentId, plan.backupName))
    for (const fragment of fragments) {
      for (const problem of fragment.outcome === "finished" || fragment.problems.some((p) => p.startsWith("aborted by"))
        ? []
        : fragment.problems) {
        yield* session.violation("UploadsFollowTheProtocol", `fragment ${fragment.fragmentId}: ${problem}`)
      }
    }
    return new BackupResult({
      agentId: session.agentId,
      apiVersion: session.apiVersion,
      backupName: plan.backupName,
      answers: (yield* session.answers).slice(offsets.answers),
      fragments,
      cancelledAfterBytes,
      violations: yield* session.violations,
      leftovers: yield* session.leftovers
    })
  })

const snapshot = (folder: string | undefined) =>
  Effect.gen(function*() {
    if (folder === undefined) return []
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(folder))) return []
    const entries: Array<FolderEntry> = []
    const walk = (at: string): Effect.Effect<void, import("@effect/platform/Error").PlatformError> =>
      Effect.gen(function*() {
        for (const name of (yield* fs.readDirectory(at)).sort()) {
          const path = join(at, name)
          const info = yield* fs.stat(path)
          if (info.type === "Directory") yield* walk(path)
          else if (info.type === "File") {
            const bytes = yield* fs.readFile(path)
            entries.push(new FolderEntry({
              path: relative(folder, path).split(sep).join("/"),
              size: bytes.length,
              checksum: md5Of(bytes)
            }))
          }
        }
      })
    yield* walk(folder)
    return entries
  }).pipe(Effect.orDie)

const changesBetween = (before: ReadonlyArray<FolderEntry>, after: ReadonlyArray<FolderEntry>) => {
  const earlier = new Map(before.map((entry) => [entry.path, entry.checksum]))
  const later = new Map(after.map((entry) => [entry.path, entry.checksum]))
  return new FolderChanges({
    added: after.filter((entry) => !earlier.has(entry.path)).map((entry) => entry.path),
    changed: after.filter((entry) => earlier.has(entry.path) && earlier.get(entry.path) !== entry.checksum)
      .map((entry) => entry.path),
    removed: before.filter((entry) => !later.has(entry.path)).map((entry) => entry.path)
  })
}

/**
 * @since 0.1.0
 */
export const restore = (plan: RestorePlan) => (session: Session) =>
  Effect.gen(function*() {
    const before = yield* snapshot(plan.restoreFolder)
    const writesBefore = (yield* session.probe.writes).length
    const fault = plan.fault
    yield* session.serve(plan.fragments, {
      chunkSize: plan.chunkSize,
      backupName: plan.backupName,
      wrongChecksum: fault?.kind === "wrongChecksum",
      fileName: fault?.kind === "unsafeFileName" ? fault.fileName : undefined
    })
    if (fault?.kind === "abort" || fault?.kind === "stall") {
      const reached = yield* Deferred.make<number>()
      yield* session.probe.setDownloadFault({ kind: fault.kind, bytes: fault.bytes, reached })
    }
    const target = { backupName: plan.backupName, backupType: plan.backupType }
    const restoreInfo = {
      fragments: plan.fragments.map((fragment) => fragment.information),
      softwareVersion: plan.softwareVersion ?? session.softwareVersion
    }
    const cancelledAfterBytes = yield* playStages(
      session,
      "RESTORE",
      stagesOf("RESTORE", session.apiVersion, plan.stages),
      (stage) => stageMessages(session, "RESTORE", stage, target, restoreInfo),
      (reached, bytes) => session.probe.setDownloadFault({ kind: "hold", bytes, reached }),
      plan.cancel,
      plan.unexpectedAfter
    )
    yield* endRun(session)
    const folder = plan.restoreFolder === undefined ? undefined : resolve(plan.restoreFolder)
    const outside = new Set<string>()
    for (const write of (yield* session.probe.writes).slice(writesBefore)) {
      if (!write.temporary && (folder === undefined || !Probe.inside(write.path, folder))) outside.add(write.path)
    }
    for (const path of outside) {
      yield* session.violation(
        "NothingWrittenOutsideRestoreFolder",
        folder === undefined
          ? `${path} was written, and no restore folder was given`
          : `${path} was written, outside the restore folder ${folder}`
      )
    }
    const after = yield* snapshot(plan.restoreFolder)
    return new RestoreResult({
      agentId: session.agentId,
      apiVersion: session.apiVersion,
      backupName: plan.backupName,
      answers: yield* session.answers,
      downloads: (yield* session.probe.downloads).map((record) =>
        new Download({
          fragmentId: record.fragmentId,
          bytesServed: record.bytesServed,
          outcome: record.outcome === "open" ? "interrupted" : record.outcome
        })
      ),
      folder: after,
      folderChanges: changesBetween(before, after),
      cancelledAfterBytes,
      violations: yield* session.violations,
      leftovers: yield* session.leftovers
    })
  })

/**
 * @since 0.1.0
 */
export interface ReconnectPlan {
  readonly action: Action
  readonly stage: Stage
  readonly afterBytes: number | undefined
  readonly status: StatusCode
  readonly backupName: string
  readonly backupType: string
  readonly fragments: ReadonlyArray<ServedFragment>
  readonly chunkSize: number
}

/**
 * The orchestrator goes away while `stage` runs (or while its first
 * transfer is held at `afterBytes`), the agent registers again, and a whole
 * backup runs on the new stream.
 *
 * @since 0.1.0
 */
export const reconnect = (plan: ReconnectPlan) => (session: Session) =>
  Effect.gen(function*() {
    const target = { backupName: plan.backupName, backupType: plan.backupType }
    const restoreInfo = plan.action === "RESTORE"
      ? { fragments: plan.fragments.map((fragment) => fragment.information), softwareVersion: session.softwareVersion }
      : undefined
    if (plan.action === "RESTORE") {
      yield* session.serve(plan.fragments, {
        chunkSize: plan.chunkSize,
        backupName: plan.backupName,
        wrongChecksum: false,
        fileName: undefined
      })
    } else {
      yield* session.probe.setUploadCheck((messages) => uploadProblems(messages, session.agentId, plan.backupName))
    }
    const stages = stagesOf(plan.action, session.apiVersion, undefined)
    for (const stage of stages) {
      const messages = stageMessages(session, plan.action, stage, target, restoreInfo)
      if (stage !== plan.stage) {
        const answer = yield* session.ask(messages[messages.length - 1] ?? Messages.Execution({ action: plan.action }), stage)
        if (answer === undefined || !answer.success) break
        continue
      }
      for (const message of messages.slice(0, -1)) yield* session.tell(message)
      if (plan.afterBytes !== undefined) {
        const reached = yield* Deferred.make<number>()
        const fault = { kind: "hold" as const, bytes: plan.afterBytes, reached }
        yield* plan.action === "BACKUP" ? session.probe.setUploadFault(fault) : session.probe.setDownloadFault(fault)
        const last = messages[messages.length - 1]
        if (last !== undefined) yield* session.tell(last)
        yield* session.answerOr(stage, Deferred.await(reached))
      } else {
        for (const message of messages.slice(-1)) yield* session.tell(message)
      }
      break
    }
    const answersBefore = yield* session.answers
    yield* session.endControl(plan.status, "The orchestrator went away (a test)")
    const registered = yield* session.awaitRegistration.pipe(Effect.orDie)
    if (!registered) {
      yield* session.violation(
        "RegistersAgain",
        `the agent did not register again within ${Duration.format(session.settings.answerTimeout)}`
      )
    }
    yield* session.probe.setUploadFault(undefined)
    yield* session.probe.setDownloadFault(undefined)
    yield* session.settle
    const unasked = (yield* session.answers).slice(answersBefore.length)
    yield* session.checkOpen("after the agent registered again")
    const uploads = (yield* session.probe.uploads).length
    const backupAfter = !registered ? undefined : yield* backup(
      { backupName: `${plan.backupName}-after`, backupType: plan.backupType, stages: undefined, cancel: undefined, fault: undefined },
      { answers: answersBefore.length + unasked.length, uploads }
    )(session)
    return new ReconnectResult({
      answersBefore,
      registrations: yield* session.registrations,
      answersUnasked: unasked,
      backupAfter,
      violations: yield* session.violations
    })
  })

/**
 * The agent's registrations are refused; waits until it stops, or is
 * registered once the refusals run out.
 *
 * @since 0.1.0
 */
export const refused = (session: Session) =>
  Effect.gen(function*() {
    const registered = yield* session.awaitRegistration.pipe(Effect.orDie)
    const ended = yield* session.agentEnded
    const stoppedWith = Option.flatMap(ended, (exit) =>
      Exit.isFailure(exit) ? Option.map(Cause.failureOption(exit.cause), describeError) : Option.none())
    return new RegistrationResult({
      attempts: yield* session.registrations,
      registered,
      stoppedWith: Option.getOrUndefined(stoppedWith)
    })
  })

const describeError = (error: unknown): { readonly _tag: string; readonly message: string } => {
  const tag = typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : "Error"
  const message = error instanceof Error ? error.message : String(error)
  return { _tag: tag, message }
}
