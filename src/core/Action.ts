/**
 * The actions an orchestrator runs and the stages each goes through.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * An action an agent takes part in. (`REGISTER` and `CANCEL` exist on the
 * wire too, but an agent is never *in* one of them.)
 *
 * @since 0.1.0
 * @category models
 */
export const Action = Schema.Literal("BACKUP", "RESTORE")

/**
 * @since 0.1.0
 * @category models
 */
export type Action = typeof Action.Type

/**
 * The `action` field of a control message as it travels: besides the two
 * actions, `REGISTER` (the zero value, so the field of a message that never
 * set it) and `CANCEL`.
 *
 * @since 0.1.0
 * @category models
 */
export const ControlAction = Schema.Literal("REGISTER", "BACKUP", "RESTORE", "CANCEL")

/**
 * @since 0.1.0
 * @category models
 */
export type ControlAction = typeof ControlAction.Type

/**
 * Whether a control message's `action` names an action an agent can be in.
 *
 * @since 0.1.0
 * @category guards
 */
export const isAction = (action: ControlAction): action is Action => action === "BACKUP" || action === "RESTORE"

/**
 * The three stages of every action, in order.
 *
 * @since 0.1.0
 * @category models
 */
export const Stage = Schema.Literal("PREPARATION", "EXECUTION", "POST_ACTIONS")

/**
 * @since 0.1.0
 * @category models
 */
export type Stage = typeof Stage.Type

/**
 * The features an agent may announce and an orchestrator may acknowledge.
 *
 * @since 0.1.0
 * @category models
 */
export const AgentFeature = Schema.Literal(
  "PLAINTEXT",
  "TLS",
  "MTLS",
  "PREPARE_STAGE",
  "POST_STAGE",
  "MULTIPLE_BACKUP_TYPES",
  "SELECTIVE_BACKUP",
  "CHECKPOINTS",
  "RESUME",
  "CHECKSUM_NONE",
  "CHECKSUM_MD5",
  "CHECKSUM_XXHASH_64"
).annotations({ message: () => ({ message: "is not a known agent feature", override: true }) })

/**
 * @since 0.1.0
 * @category models
 */
export type AgentFeature = typeof AgentFeature.Type

/**
 * Where an orchestrator keeps backups. Agents of a real BRO leave it at `BRO`.
 *
 * @since 0.1.0
 * @category models
 */
export const BackendType = Schema.Literal("BRO", "OBJECT_STORAGE", "OBJECT_STORAGE_EXTERNAL").annotations({
  message: () => ({ message: `must be one of "BRO", "OBJECT_STORAGE", "OBJECT_STORAGE_EXTERNAL"`, override: true })
})

/**
 * @since 0.1.0
 * @category models
 */
export type BackendType = typeof BackendType.Type

/**
 * The protocol versions an orchestrator accepts, as exact strings.
 *
 * @since 0.1.0
 * @category models
 */
export const ApiVersion = Schema.Literal("2.0", "3.0", "4.0").annotations({
  message: () => ({ message: `must be one of "2.0", "3.0", "4.0"`, override: true })
})

/**
 * @since 0.1.0
 * @category models
 */
export type ApiVersion = typeof ApiVersion.Type
