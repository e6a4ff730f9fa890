/**
 * How the orchestrator quotes what a client sent (an agent id, a fragment
 * id, a file name, an agent's message) back in a refusal, an action's result
 * or a REST error: bounded. A gRPC status travels in the call's trailers; one
 * that quotes a 70 000-character name whole is more than a client takes in
 * them, so it never arrives, and the HTTP/2 connection it was sent on (an
 * agent's control stream with it) is lost.
 *
 * Three bounds: each quoted string at most {@link maxQuoted} characters (so
 * that an id one byte past the 255-byte limit is still quoted whole), a
 * gRPC status's details at most {@link maxDetails} bytes, and an action's
 * progress or result information at most {@link maxInfo} characters. Every
 * cut ends in an ellipsis, and never splits a character.
 *
 * @since 0.1.0
 */
import { Cause } from "effect"

/**
 * The most characters of one client string quoted back.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxQuoted = 300

/**
 * The most bytes (UTF-8) of a gRPC status's details.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxDetails = 1024

/**
 * The most characters of an action's progress or result information.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxInfo = 4096

const ellipsis = "…"

// `text` cut to at most `length` UTF-16 units, one fewer when the cut would
// split a surrogate pair.
const cutUnits = (text: string, length: number): string => {
  const last = text.charCodeAt(length - 1)
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length)
}

/**
 * A client's string as quoted back: whole when at most `max` characters,
 * else its first `max - 1` and an ellipsis.
 *
 * @since 0.1.0
 * @category quoting
 */
export const quote = (text: string, max: number = maxQuoted): string =>
  text.length <= max ? text : `${cutUnits(text, max - 1)}${ellipsis}`

/**
 * A gRPC status's details, at most `maxBytes` bytes of UTF-8: whole when
 * they fit, else cut, with an ellipsis, to fit.
 *
 * @since 0.1.0
 * @category quoting
 */
export const details = (text: string, maxBytes: number = maxDetails): string => {
  if (Buffer.byteLength(text) <= maxBytes) return text
  const budget = maxBytes - Buffer.byteLength(ellipsis)
  let bytes = 0
  let end = 0
  for (const character of text) {
    const size = Buffer.byteLength(character)
    if (bytes + size > budget) break
    bytes += size
    end += character.length
  }
  return `${text.slice(0, end)}${ellipsis}`
}

/**
 * An action's progress or result information, at most {@link maxInfo}
 * characters.
 *
 * @since 0.1.0
 * @category quoting
 */
export const info = (text: string): string => quote(text, maxInfo)

/**
 * What went wrong, for an answer (an action's result, a REST error): the
 * first line of the error's message, quoted with the bound of
 * {@link quote}; never its stack trace, which the log has with the whole
 * cause.
 *
 * @since 0.1.0
 */
export const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = error instanceof Error ? error.message : typeof error === "string" ? error : String(error)
  const line = (text.split("\n", 1)[0] ?? "").trim()
  return line === "" ? "no reason given (see the log)" : quote(line)
}
