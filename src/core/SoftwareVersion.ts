/**
 * The software version of the service an agent backs up: sent when the agent
 * registers, recorded in every backup, and handed back at restore time so the
 * agent can check that it can read what it is given.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A string that must hold at least one non-blank character: the orchestrator
 * refuses a registration whose first six version fields are empty.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequiredText = Schema.String.pipe(
  Schema.filter((text) => text.trim().length > 0 || "must not be empty")
)

/**
 * The version the Java agent library sends when its user gives none, and so
 * the one a real orchestrator is used to seeing.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultVersion = "0.0.0"

/**
 * @since 0.1.0
 * @category models
 */
export class SoftwareVersion extends Schema.Class<SoftwareVersion>("SoftwareVersion")({
  productName: RequiredText,
  productNumber: RequiredText,
  revision: RequiredText,
  productionDate: RequiredText,
  description: RequiredText,
  type: RequiredText,
  commercialVersion: Schema.optionalWith(Schema.String, { default: () => defaultVersion }),
  semanticVersion: Schema.optionalWith(Schema.String, { default: () => defaultVersion })
}) {}

/**
 * The fields of a software version as they travel, with no rule applied:
 * what an orchestrator sends back at restore time is taken as it comes.
 *
 * @since 0.1.0
 * @category models
 */
export interface SoftwareVersionFields {
  readonly productName: string
  readonly productNumber: string
  readonly revision: string
  readonly productionDate: string
  readonly description: string
  readonly type: string
  readonly commercialVersion: string
  readonly semanticVersion: string
}
