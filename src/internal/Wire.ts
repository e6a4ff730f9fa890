/**
 * The wire: the protobuf definitions of `proto/` loaded with proto-loader,
 * and the one place that converts between protobuf messages and the
 * domain's messages (`core/Message`).
 *
 * @since 0.1.0
 */
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { AgentFeature, ControlAction } from "../core/Action.js"
import { FragmentInformation } from "../core/Fragment.js"
import type {
  AgentMessage,
  BackupMessage,
  FilePart,
  FragmentFile,
  FragmentRequest,
  OrchestratorMessage,
  RestoreMessage
} from "../core/Message.js"
import { AgentMessage as AgentMessages, FilePart as FileParts, OrchestratorMessage as OrchestratorMessages } from "../core/Message.js"
import type { SoftwareVersionFields } from "../core/SoftwareVersion.js"
import type { Fragment, Fragment__Output } from "./generated/Fragment.js"
import type { SoftwareVersionInfo, SoftwareVersionInfo__Output } from "./generated/SoftwareVersionInfo.js"
import type { AgentControl, AgentControl__Output } from "./generated/com/ericsson/adp/mgmt/control/AgentControl.js"
import type {
  OrchestratorControl,
  OrchestratorControl__Output
} from "./generated/com/ericsson/adp/mgmt/control/OrchestratorControl.js"
import type { BackupData, BackupData__Output } from "./generated/com/ericsson/adp/mgmt/data/BackupData.js"
import type { Metadata, Metadata__Output } from "./generated/com/ericsson/adp/mgmt/data/Metadata.js"
import type { RestoreData, RestoreData__Output } from "./generated/com/ericsson/adp/mgmt/data/RestoreData.js"

export type {
  AgentControl,
  AgentControl__Output,
  BackupData,
  BackupData__Output,
  Metadata,
  Metadata__Output,
  OrchestratorControl,
  OrchestratorControl__Output,
  RestoreData,
  RestoreData__Output
}

/**
 * The folder holding the `.proto` files, found by walking up from this
 * module so that it works from the sources and from the build alike.
 */
const findProtoDirectory = (): string => {
  let folder = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(folder, "proto")
    if (existsSync(join(candidate, "INT_BR_ORCH_CTRL.proto"))) return candidate
    const parent = dirname(folder)
    if (parent === folder) throw new Error("bro-agent: the proto/ folder of the package cannot be found")
    folder = parent
  }
}

// The zero value of each enum field, by field name (each name belongs to one enum).
const enumZero: Record<string, string> = {
  action: "REGISTER",
  agentMessageType: "AGENT_DEPENDENCIES",
  orchestratorMessageType: "REQUEST_DEPENDENCIES",
  dataMessageType: "METADATA",
  backendType: "BRO",
  responseType: "NONE"
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)

/**
 * Drops the scalar fields that hold their proto3 default, recursively.
 * protobufjs encodes a default value that is set explicitly, the reference
 * encoder does not; dropping them gives the reference's bytes. Sub-messages
 * are kept even when empty: their presence is part of the contract. Map
 * values are left alone.
 *
 * @since 0.1.0
 * @category codecs
 */
export const withoutDefaults = <A extends object>(message: A): A => {
  const result: Record<string, unknown> = {}
  for (const [field, value] of Object.entries(message)) {
    if (value === undefined || value === null || value === "" || value === false) continue
    if (value instanceof Uint8Array) {
      if (value.length > 0) result[field] = value
    } else if (Array.isArray(value)) {
      if (value.length > 0) result[field] = value.map((item) => (isPlainObject(item) ? withoutDefaults(item) : item))
    } else if (field === "customInformation") {
      result[field] = value
    } else if (isPlainObject(value)) {
      result[field] = withoutDefaults(value)
    } else if (enumZero[field] !== value) {
      result[field] = value
    }
  }
  return result as A
}

const service = (packageDefinition: protoLoader.PackageDefinition, name: string): grpc.ServiceDefinition => {
  const definition = packageDefinition[name]
  if (definition === undefined || !("establishControlChannel" in definition || "backup" in definition)) {
    throw new Error(`bro-agent: service ${name} is missing from proto/`)
  }
  // Every message grpc-js writes goes through withoutDefaults first.
  return Object.fromEntries(
    Object.entries(definition as grpc.ServiceDefinition).map(([methodName, method]) => [
      methodName,
      {
        ...method,
        requestSerialize: (message: object) => method.requestSerialize(withoutDefaults(message)),
        responseSerialize: (message: object) => method.responseSerialize(withoutDefaults(message))
      }
    ])
  )
}

const method = (definition: grpc.ServiceDefinition, name: string): grpc.MethodDefinition<object, object> => {
  const found = definition[name]
  if (found === undefined) throw new Error(`bro-agent: method ${name} is missing from proto/`)
  return found
}

/**
 * A message type's encoder and decoder, as grpc-js uses them on the wire.
 *
 * @since 0.1.0
 * @category codecs
 */
export interface Codec<In, Out> {
  readonly encode: (message: In) => Buffer
  readonly decode: (bytes: Buffer) => Out
}

const codec = <In, Out>(
  serialize: grpc.serialize<object>,
  deserialize: grpc.deserialize<object>
): Codec<In, Out> => ({
  encode: serialize as (message: In) => Buffer,
  decode: deserialize as (bytes: Buffer) => Out
})

/**
 * The loaded protos: the folder they came from, the two services'
 * definitions ready for a grpc-js client or server (`ControlInterface`, the
 * control channel; `DataInterface`, the data channel), their methods, and
 * each message type's codec.
 *
 * @since 0.1.0
 * @category loading
 */
export interface Protos {
  readonly protoDirectory: string
  readonly packageDefinition: protoLoader.PackageDefinition
  readonly controlService: grpc.ServiceDefinition
  readonly dataService: grpc.ServiceDefinition
  readonly controlMethod: grpc.MethodDefinition<object, object>
  readonly backupMethod: grpc.MethodDefinition<object, object>
  readonly restoreMethod: grpc.MethodDefinition<object, object>
  readonly codecs: {
    readonly AgentControl: Codec<AgentControl, AgentControl__Output>
    readonly OrchestratorControl: Codec<OrchestratorControl, OrchestratorControl__Output>
    readonly BackupData: Codec<BackupData, BackupData__Output>
    readonly Metadata: Codec<Metadata, Metadata__Output>
    readonly RestoreData: Codec<RestoreData, RestoreData__Output>
  }
}

const load = (): Protos => {
  const protoDirectory = findProtoDirectory()
  // How the messages are turned into JavaScript objects. The generated types
  // in `generated/` were made with the same choices (see
  // `scripts/proto-types.mjs`): field names as in the protos, enums as their
  // names, 64-bit numbers as decimal text, and every field present (absent
  // sub-messages as `null`, so presence can be tested).
  const packageDefinition = protoLoader.loadSync(["INT_BR_ORCH_CTRL.proto", "INT_BR_ORCH_DATA.proto"], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    includeDirs: [protoDirectory]
  })
  const controlService = service(packageDefinition, "com.ericsson.adp.mgmt.control.ControlInterface")
  const dataService = service(packageDefinition, "com.ericsson.adp.mgmt.data.DataInterface")
  const controlMethod = method(controlService, "establishControlChannel")
  const backupMethod = method(dataService, "backup")
  const restoreMethod = method(dataService, "restore")
  return {
    protoDirectory,
    packageDefinition,
    controlService,
    dataService,
    controlMethod,
    backupMethod,
    restoreMethod,
    codecs: {
      AgentControl: codec(controlMethod.requestSerialize, controlMethod.requestDeserialize),
      OrchestratorControl: codec(controlMethod.responseSerialize, controlMethod.responseDeserialize),
      BackupData: codec(backupMethod.requestSerialize, backupMethod.requestDeserialize),
      Metadata: codec(restoreMethod.requestSerialize, restoreMethod.requestDeserialize),
      RestoreData: codec(restoreMethod.responseSerialize, restoreMethod.responseDeserialize)
    }
  }
}

let loaded: Protos | undefined

/**
 * The protos, loaded from disk on the first call and kept: importing this
 * module does no I/O.
 *
 * @since 0.1.0
 * @category loading
 */
export const protos = (): Protos => (loaded ??= load())

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

const softwareVersionFromWire = (wire: SoftwareVersionInfo__Output): SoftwareVersionFields => ({
  productName: wire.productName,
  productNumber: wire.productNumber,
  revision: wire.revision,
  productionDate: wire.productionDate,
  description: wire.description,
  type: wire.type,
  commercialVersion: wire.commercialVersion,
  semanticVersion: wire.semanticVersion
})

const softwareVersionToWire = (version: SoftwareVersionFields): SoftwareVersionInfo => ({ ...version })

const emptyFragment: Fragment__Output = { fragmentId: "", version: "", sizeInBytes: "", customInformation: {} }

/**
 * @since 0.1.0
 * @category conversions
 */
export const fragmentFromWire = (wire: Fragment__Output | null): FragmentInformation => {
  const fragment = wire ?? emptyFragment
  return FragmentInformation.make({
    fragmentId: fragment.fragmentId,
    version: fragment.version,
    sizeInBytes: fragment.sizeInBytes,
    customInformation: { ...fragment.customInformation }
  })
}

/**
 * @since 0.1.0
 * @category conversions
 */
export const fragmentToWire = (fragment: FragmentInformation): Fragment => ({
  fragmentId: fragment.fragmentId,
  version: fragment.version,
  sizeInBytes: fragment.sizeInBytes,
  customInformation: { ...fragment.customInformation }
})

// ---------------------------------------------------------------------------
// Control channel
// ---------------------------------------------------------------------------

/**
 * Reads an orchestrator's control message. Stage messages count only with
 * their sub-message present.
 *
 * @since 0.1.0
 * @category conversions
 */
export const orchestratorFromWire = (wire: OrchestratorControl__Output): OrchestratorMessage => {
  const action = wire.action
  const unsupported = () => OrchestratorMessages.Unsupported({ action, messageType: wire.orchestratorMessageType })
  switch (wire.orchestratorMessageType) {
    case "PREPARATION": {
      const preparation = wire.preparation
      if (preparation === null) return unsupported()
      return OrchestratorMessages.Preparation({
        action,
        backupName: preparation.backupName,
        backupType: preparation.backupType,
        softwareVersion: preparation.softwareVersionInfo === null
          ? undefined
          : softwareVersionFromWire(preparation.softwareVersionInfo),
        fragments: preparation.fragment.map(fragmentFromWire)
      })
    }
    case "EXECUTION":
      return wire.execution === null ? unsupported() : OrchestratorMessages.Execution({ action })
    case "POST_ACTIONS":
      return wire.postActions === null ? unsupported() : OrchestratorMessages.PostActions({ action })
    case "CANCEL_BACKUP_RESTORE":
      return wire.cancel === null ? unsupported() : OrchestratorMessages.Cancel({ action, message: wire.cancel.message })
    case "FRAGMENT_LIST_ENTRY": {
      const entry = wire.fragmentListEntry
      if (entry === null) return unsupported()
      return OrchestratorMessages.FragmentListEntry({ action, fragment: fragmentFromWire(entry.fragment), last: entry.last })
    }
    case "REGISTER_ACKNOWLEDGE": {
      const acknowledge = wire.registerAcknowledge
      if (acknowledge === null) return unsupported()
      return OrchestratorMessages.RegisterAcknowledge({
        message: acknowledge.acknowledgeMessage,
        features: acknowledge.broSupportedAgentFeature.filter(isKnownFeature)
      })
    }
    default:
      return unsupported()
  }
}

// A feature number this library does not know decodes as a number, not a name.
const isKnownFeature = (feature: string | number): feature is AgentFeature => typeof feature === "string"

/**
 * Writes an orchestrator's control message, with every stage's sub-message
 * present even when empty.
 *
 * @since 0.1.0
 * @category conversions
 */
export const orchestratorToWire = (message: OrchestratorMessage): OrchestratorControl => {
  switch (message._tag) {
    case "Preparation":
      return {
        action: message.action,
        orchestratorMessageType: "PREPARATION",
        preparation: {
          backupName: message.backupName,
          backupType: message.backupType,
          ...(message.softwareVersion === undefined
            ? {}
            : { softwareVersionInfo: softwareVersionToWire(message.softwareVersion) }),
          fragment: message.fragments.map(fragmentToWire)
        }
      }
    case "Execution":
      return { action: message.action, orchestratorMessageType: "EXECUTION", execution: {} }
    case "PostActions":
      return { action: message.action, orchestratorMessageType: "POST_ACTIONS", postActions: {} }
    case "Cancel":
      return { action: message.action, orchestratorMessageType: "CANCEL_BACKUP_RESTORE", cancel: { message: message.message } }
    case "FragmentListEntry":
      return {
        action: message.action,
        orchestratorMessageType: "FRAGMENT_LIST_ENTRY",
        fragmentListEntry: { fragment: fragmentToWire(message.fragment), last: message.last }
      }
    case "RegisterAcknowledge":
      return {
        orchestratorMessageType: "REGISTER_ACKNOWLEDGE",
        registerAcknowledge: {
          acknowledgeMessage: message.message,
          broSupportedAgentFeature: [...message.features]
        }
      }
    case "Unsupported":
      return {
        action: message.action,
        orchestratorMessageType: message.messageType as NonNullable<OrchestratorControl["orchestratorMessageType"]>
      }
  }
}

/**
 * Reads an agent's control message.
 *
 * @since 0.1.0
 * @category conversions
 */
export const agentFromWire = (wire: AgentControl__Output): AgentMessage => {
  const action: ControlAction = wire.action
  if (wire.agentMessageType === "REGISTER" && wire.register !== null) {
    const register = wire.register
    return AgentMessages.Register({
      action,
      agentId: register.agentId,
      scope: register.scope,
      apiVersion: register.apiVersion,
      softwareVersion: softwareVersionFromWire(
        register.softwareVersionInfo ?? {
          productName: "",
          productNumber: "",
          revision: "",
          productionDate: "",
          description: "",
          type: "",
          commercialVersion: "",
          semanticVersion: ""
        }
      ),
      backendType: register.backendType,
      features: register.agentFeature.filter(isKnownFeature)
    })
  }
  if (wire.agentMessageType === "STAGE_COMPLETE" && wire.stageComplete !== null) {
    return AgentMessages.StageComplete({
      action,
      success: wire.stageComplete.success,
      agentId: wire.stageComplete.agentId,
      message: wire.stageComplete.message
    })
  }
  return AgentMessages.Unsupported({ action, messageType: wire.agentMessageType })
}

/**
 * Writes an agent's control message. Features and backend type are part of
 * the registration from API 4.0 on only.
 *
 * @since 0.1.0
 * @category conversions
 */
export const agentToWire = (message: AgentMessage): AgentControl => {
  switch (message._tag) {
    case "Register":
      return {
        action: message.action,
        agentMessageType: "REGISTER",
        register: {
          agentId: message.agentId,
          softwareVersionInfo: softwareVersionToWire(message.softwareVersion),
          apiVersion: message.apiVersion,
          scope: message.scope,
          ...(message.apiVersion === "4.0"
            ? { backendType: message.backendType, agentFeature: [...message.features] }
            : {})
        }
      }
    case "StageComplete":
      return {
        action: message.action,
        agentMessageType: "STAGE_COMPLETE",
        stageComplete: { success: message.success, agentId: message.agentId, message: message.message }
      }
    case "Unsupported":
      return { action: message.action, agentMessageType: message.messageType as NonNullable<AgentControl["agentMessageType"]> }
  }
}

// ---------------------------------------------------------------------------
// Data channel
// ---------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category conversions
 */
export const requestToWire = (request: FragmentRequest): Metadata => ({
  agentId: request.agentId,
  backupName: request.backupName,
  backupType: request.backupType,
  fragment: fragmentToWire(request.fragment)
})

/**
 * @since 0.1.0
 * @category conversions
 */
export const requestFromWire = (wire: Metadata__Output): FragmentRequest => ({
  agentId: wire.agentId,
  backupName: wire.backupName,
  backupType: wire.backupType,
  fragment: fragmentFromWire(wire.fragment)
})

interface FileChunk {
  readonly fileName: string
  readonly content: Buffer
  readonly checksum: string
}

// The orchestrator tells the three parts apart by what is empty, and so do we.
const partFromChunk = (file: FragmentFile, chunk: FileChunk): FilePart =>
  chunk.checksum !== ""
    ? FileParts.Checksum({ file, checksum: chunk.checksum })
    : chunk.content.length > 0
    ? FileParts.Content({ file, content: chunk.content })
    : FileParts.FileName({ file, fileName: chunk.fileName })

const chunkFromPart = (part: FilePart) => {
  switch (part._tag) {
    case "FileName":
      return { fileName: part.fileName }
    case "Content":
      return { content: part.content }
    case "Checksum":
      return { checksum: part.checksum }
  }
}

/**
 * @since 0.1.0
 * @category conversions
 */
export const backupToWire = (message: BackupMessage): BackupData => {
  switch (message._tag) {
    case "Metadata":
      return { dataMessageType: "METADATA", metadata: requestToWire(message.metadata) }
    case "Unsupported":
      return { dataMessageType: message.messageType as NonNullable<BackupData["dataMessageType"]> }
    default:
      return message.file === "BACKUP_FILE"
        ? { dataMessageType: "BACKUP_FILE", backupFileChunk: chunkFromPart(message) }
        : { dataMessageType: "CUSTOM_METADATA_FILE", customMetadataFileChunk: chunkFromPart(message) }
  }
}

/**
 * Reads a backup upload's message; a sub-message that does not match the
 * message type arrives as `Unsupported`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const backupFromWire = (wire: BackupData__Output): BackupMessage => {
  switch (wire.dataMessageType) {
    case "METADATA":
      if (wire.metadata !== null) return { _tag: "Metadata", metadata: requestFromWire(wire.metadata) }
      break
    case "BACKUP_FILE":
      if (wire.backupFileChunk !== null) return partFromChunk("BACKUP_FILE", wire.backupFileChunk)
      break
    case "CUSTOM_METADATA_FILE":
      if (wire.customMetadataFileChunk !== null) {
        return partFromChunk("CUSTOM_METADATA_FILE", wire.customMetadataFileChunk)
      }
      break
  }
  return { _tag: "Unsupported", messageType: String(wire.dataMessageType) }
}

/**
 * @since 0.1.0
 * @category conversions
 */
export const restoreToWire = (message: RestoreMessage): RestoreData => {
  if (message._tag === "Unsupported") return { dataMessageType: message.messageType as NonNullable<RestoreData["dataMessageType"]> }
  return message.file === "BACKUP_FILE"
    ? { dataMessageType: "BACKUP_FILE", backupFileChunk: chunkFromPart(message) }
    : { dataMessageType: "CUSTOM_METADATA_FILE", customMetadataFileChunk: chunkFromPart(message) }
}

/**
 * Reads a restore download's message; a sub-message that does not match the
 * message type arrives as `Unsupported`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const restoreFromWire = (wire: RestoreData__Output): RestoreMessage => {
  if (wire.dataMessageType === "BACKUP_FILE" && wire.backupFileChunk !== null) {
    return partFromChunk("BACKUP_FILE", wire.backupFileChunk)
  }
  if (wire.dataMessageType === "CUSTOM_METADATA_FILE" && wire.customMetadataFileChunk !== null) {
    return partFromChunk("CUSTOM_METADATA_FILE", wire.customMetadataFileChunk)
  }
  return { _tag: "Unsupported", messageType: String(wire.dataMessageType) }
}
