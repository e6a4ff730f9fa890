/**
 * The messages of the control and data channels, in the domain's words and
 * free of protobuf. The transports convert between these and the wire; the
 * agent's logic and its tests see only these.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { AgentFeature, ApiVersion, BackendType, ControlAction } from "./Action.js"
import type { FragmentInformation } from "./Fragment.js"
import type { SoftwareVersionFields } from "./SoftwareVersion.js"

/**
 * What an orchestrator writes on the control stream.
 *
 * A stage message counts only when its sub-message is present on the wire;
 * one without it, and every message type nothing uses (checkpoints, metrics,
 * dependencies), arrives as `Unsupported`.
 *
 * @since 0.1.0
 * @category models
 */
export type OrchestratorMessage = Data.TaggedEnum<{
  Preparation: {
    readonly action: ControlAction
    readonly backupName: string
    readonly backupType: string
    /** Present for a restore: the version of the software that made the backup. */
    readonly softwareVersion: SoftwareVersionFields | undefined
    /** API 2.0/3.0: the whole list; API 4.0: one empty placeholder when entries follow. */
    readonly fragments: ReadonlyArray<FragmentInformation>
  }
  Execution: { readonly action: ControlAction }
  PostActions: { readonly action: ControlAction }
  Cancel: { readonly action: ControlAction; readonly message: string }
  FragmentListEntry: {
    readonly action: ControlAction
    readonly fragment: FragmentInformation
    readonly last: boolean
  }
  RegisterAcknowledge: {
    readonly message: string
    readonly features: ReadonlyArray<AgentFeature>
  }
  Unsupported: { readonly action: ControlAction; readonly messageType: string }
}>

/**
 * @since 0.1.0
 * @category constructors
 */
export const OrchestratorMessage = Data.taggedEnum<OrchestratorMessage>()

/**
 * What an agent writes on the control stream.
 *
 * @since 0.1.0
 * @category models
 */
export type AgentMessage = Data.TaggedEnum<{
  Register: {
    readonly agentId: string
    readonly scope: string
    /** One of {@link ApiVersion} when written by an agent; read as sent, for the orchestrator to judge. */
    readonly apiVersion: string
    readonly softwareVersion: SoftwareVersionFields
    /** Sent with API 4.0 only. */
    readonly backendType: BackendType
    /** Sent with API 4.0 only. */
    readonly features: ReadonlyArray<AgentFeature>
    /** The message's `action`; `REGISTER` in every valid registration. */
    readonly action: ControlAction
  }
  StageComplete: {
    readonly action: ControlAction
    readonly success: boolean
    readonly agentId: string
    readonly message: string
  }
  Unsupported: { readonly action: ControlAction; readonly messageType: string }
}>

/**
 * @since 0.1.0
 * @category constructors
 */
export const AgentMessage = Data.taggedEnum<AgentMessage>()

/**
 * Which of a fragment's two files a data message is about.
 *
 * @since 0.1.0
 * @category models
 */
export type FragmentFile = "BACKUP_FILE" | "CUSTOM_METADATA_FILE"

/**
 * One part of a file on the data channel. A file travels as its name, its
 * content in chunks (never an empty one: the orchestrator would read it as a
 * new name), then its checksum.
 *
 * @since 0.1.0
 * @category models
 */
export type FilePart = Data.TaggedEnum<{
  FileName: { readonly file: FragmentFile; readonly fileName: string }
  Content: { readonly file: FragmentFile; readonly content: Uint8Array }
  Checksum: { readonly file: FragmentFile; readonly checksum: string }
}>

/**
 * @since 0.1.0
 * @category constructors
 */
export const FilePart = Data.taggedEnum<FilePart>()

/**
 * The request that opens a backup upload or a restore download.
 *
 * @since 0.1.0
 * @category models
 */
export interface FragmentRequest {
  readonly agentId: string
  readonly backupName: string
  readonly backupType: string
  readonly fragment: FragmentInformation
}

/**
 * What an agent writes on a backup upload: the metadata first, then the
 * parts of the backup file, then those of the custom-metadata file.
 *
 * @since 0.1.0
 * @category models
 */
export type BackupMessage =
  | { readonly _tag: "Metadata"; readonly metadata: FragmentRequest }
  | FilePart
  | { readonly _tag: "Unsupported"; readonly messageType: string }

/**
 * What an orchestrator writes on a restore download.
 *
 * @since 0.1.0
 * @category models
 */
export type RestoreMessage = FilePart | { readonly _tag: "Unsupported"; readonly messageType: string }
