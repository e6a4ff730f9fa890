/**
 * Settings are checked one way: whatever a user gives, in code or in the
 * environment, is decoded with a Schema at the edge, and a refusal names the
 * field or the variable and says why. Options in code are decoded whole
 * (`decodeOptions`), so that every bad field is named at once; each
 * environment variable is decoded from its text (`variable`), so that the
 * error names the variable and the value it holds.
 *
 * @since 0.1.0
 */
import { Config, ConfigError, Duration, Effect, Either, Option, ParseResult, Schema } from "effect"

/**
 * One thing wrong with what a user wrote: which field (a dotted path such as
 * `keepalive.interval`), and why.
 *
 * @since 0.1.0
 */
export interface FieldProblem {
  readonly field: string
  readonly reason: string
}

/**
 * The fields a Schema decoding refused, one reason each. An optional field
 * decodes through a union with `undefined`, which adds an "Expected
 * undefined" issue beside the real one: that one is dropped.
 *
 * @since 0.1.0
 */
export const fieldProblems = (error: ParseResult.ParseError, root: string): ReadonlyArray<FieldProblem> => {
  const byField = new Map<string, FieldProblem>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const field = issue.path.length === 0 ? root : issue.path.map(String).join(".")
    const reason = issue._tag === "Missing" || issue.message.endsWith("actual undefined") ? "is missing" : issue.message
    if (!byField.has(field) && !reason.startsWith("Expected undefined")) byField.set(field, { field, reason })
  }
  return [...byField.values()]
}

/**
 * Decodes options written in code with `schema`, every bad field named;
 * `refuse` turns the problems into the caller's typed error.
 *
 * @since 0.1.0
 */
export const decodeOptions = <A, I, E>(
  schema: Schema.Schema<A, I>,
  root: string,
  refuse: (problems: ReadonlyArray<FieldProblem>) => E
) =>
(options: unknown): Effect.Effect<A, E> =>
  Schema.decodeUnknown(schema, { errors: "all" })(options).pipe(
    Effect.mapError((error) => refuse(fieldProblems(error, root)))
  )

/**
 * The text of a whole number, as an environment variable holds it.
 *
 * @since 0.1.0
 */
export const WholeNumberText: Schema.Schema<number, string> = Schema.compose(
  Schema.String.pipe(Schema.pattern(/^[+-]?\d+$/, { message: () => "must be a whole number" })),
  Schema.NumberFromString
)

/**
 * One environment variable, decoded from its text with `schema`. Unset, or
 * set to blank (a Helm value left empty), it is `None`. A value the schema
 * refuses is a `ConfigError` that names the variable, its value and why:
 * `Invalid data at AGENT_FRAGMENT_CHUNK_SIZE: "must be between 1 and 4032
 * KiB; it is set to 9999"`.
 *
 * @since 0.1.0
 */
export const variable = <A>(name: string, schema: Schema.Schema<A, string>): Config.Config<Option.Option<A>> =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((text) => {
      if (Option.isNone(text) || text.value.trim() === "") return Either.right(Option.none<A>())
      const value = text.value.trim()
      return Schema.decodeEither(schema)(value).pipe(
        Either.map(Option.some),
        Either.mapLeft((error) =>
          ConfigError.InvalidData(
            [name],
            `${fieldProblems(error, name).map((problem) => problem.reason).join("; ")}; it is set to ${value}`
          )
        )
      )
    })
  )

/**
 * {@link variable} with a default for when it is unset.
 *
 * @since 0.1.0
 */
export const variableOr = <A>(name: string, schema: Schema.Schema<A, string>, fallback: A): Config.Config<A> =>
  variable(name, schema).pipe(Config.map(Option.getOrElse(() => fallback)))

/**
 * A duration longer than zero.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PositiveDuration = Schema.declare(
  (input: unknown): input is Duration.DurationInput => Option.isSome(Duration.decodeUnknown(input)),
  { message: () => "must be a duration, such as \"120 seconds\" or a number of milliseconds" }
).pipe(
  Schema.filter((input) => Duration.greaterThan(Duration.decode(input), Duration.zero) || "must be longer than zero")
)
