/**
 * gRPC status codes as data: the orchestrator answers with them, and the
 * agent decides by them whether to register again.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const names = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED"
] as const

/**
 * A gRPC status code by name.
 *
 * @since 0.1.0
 * @category models
 */
export const StatusCode = Schema.Literal(...names)

/**
 * @since 0.1.0
 * @category models
 */
export type StatusCode = typeof StatusCode.Type

/**
 * The name of a numeric gRPC status code (`UNKNOWN` for a number outside the
 * standard range).
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromNumber = (code: number): StatusCode => names[code] ?? "UNKNOWN"

/**
 * The number of a gRPC status code.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toNumber = (code: StatusCode): number => names.indexOf(code)
