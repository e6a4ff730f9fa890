/**
 * Who an agent is: the information it registers with, and the rules an
 * orchestrator applies to it. Bad information is refused here, before any
 * connection, with every faulty field named.
 *
 * @since 0.1.0
 */
import { Data, Effect, Schema } from "effect"
import * as Settings from "../internal/Settings.js"
import { AgentFeature, ApiVersion, BackendType } from "./Action.js"
import { SoftwareVersion } from "./SoftwareVersion.js"

/**
 * Why an id (agent id, scope element, fragment id) is not one an orchestrator
 * accepts, or `undefined` when it is fine. The rules are BRO's: not blank,
 * not `.` or `..`, none of `/`, `\`, `~`.
 *
 * @since 0.1.0
 * @category validation
 */
export const idProblem = (id: string): string | undefined => {
  if (id.trim().length === 0) return "must not be empty"
  if (id === "." || id === "..") return `must not be "${id}"`
  const bad = ["/", "\\", "~"].filter((character) => id.includes(character))
  if (bad.length > 0) return `must not contain ${bad.map((character) => `"${character}"`).join(", ")}`
  return undefined
}

/**
 * A string that follows the orchestrator's id rules.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Id = Schema.String.pipe(Schema.filter((id) => idProblem(id) ?? true))

/**
 * A `;`-separated list of backup-manager names; empty means the DEFAULT
 * manager only. Each element follows the id rules.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Scope = Schema.String.pipe(
  Schema.filter((scope) => {
    if (scope === "") return true
    const problems = scope
      .split(";")
      .flatMap((element) => {
        const problem = idProblem(element)
        return problem === undefined ? [] : [`element "${element}" ${problem}`]
      })
    return problems.length === 0 || problems.join("; ")
  })
)

/**
 * What an agent registers with.
 *
 * `features`, when given, replaces the list the agent derives from what is
 * true (transport mode, prepare and post stages).
 *
 * @since 0.1.0
 * @category models
 */
export class RegistrationInformation extends Schema.Class<RegistrationInformation>("RegistrationInformation")({
  agentId: Id,
  scope: Schema.optionalWith(Scope, { default: () => "" }),
  softwareVersion: SoftwareVersion,
  apiVersion: Schema.optionalWith(ApiVersion, { default: () => "4.0" as const }),
  backendType: Schema.optionalWith(BackendType, { default: () => "BRO" as const }),
  features: Schema.optional(Schema.Array(AgentFeature))
}) {}

/**
 * The registration information as a user writes it: the optional fields may
 * be left out.
 *
 * @since 0.1.0
 * @category models
 */
export type RegistrationInput = typeof RegistrationInformation.Encoded

/**
 * One field of the registration information that is wrong, and why.
 *
 * @since 0.1.0
 * @category errors
 */
export type FieldProblem = Settings.FieldProblem

/**
 * The registration information was refused before any connection was made.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRegistrationInformation extends Data.TaggedError("InvalidRegistrationInformation")<{
  readonly problems: ReadonlyArray<FieldProblem>
}> {
  override get message(): string {
    return `Invalid registration information: ${
      this.problems.map((problem) => `${problem.field} ${problem.reason}`).join("; ")
    }`
  }
}

const decodeRegistration = Settings.decodeOptions(
  RegistrationInformation,
  "registration",
  (problems) => new InvalidRegistrationInformation({ problems })
)

/**
 * Checks what a user wrote and fills the defaults, naming every bad field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  input: RegistrationInput | RegistrationInformation
): Effect.Effect<RegistrationInformation, InvalidRegistrationInformation> =>
  input instanceof RegistrationInformation
    ? Effect.succeed(input)
    : decodeRegistration(input)
