/**
 * MD5 checksums as the orchestrator writes them (32 upper-case hex digits),
 * computed as bytes pass, and the rule for file names that travel on the
 * data channel.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"

/**
 * An MD5 computed incrementally: `update` with each chunk as it passes,
 * `digest` once at the end.
 *
 * @since 0.1.0
 * @category models
 */
export interface Md5 {
  readonly update: (bytes: Uint8Array) => void
  /** The checksum in the orchestrator's form: 32 upper-case hex digits. */
  readonly digest: () => string
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const md5 = (): Md5 => {
  const hash = createHash("md5")
  return {
    update: (bytes) => void hash.update(bytes),
    digest: () => hash.digest("hex").toUpperCase()
  }
}

/**
 * The MD5 of bytes held in memory, in the orchestrator's form.
 *
 * @since 0.1.0
 * @category constructors
 */
export const md5Of = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("hex").toUpperCase()

/**
 * Why a file name from the data channel cannot be written into a folder, or
 * `undefined` when it is a plain base name. Anything else (empty, `.`, `..`,
 * a separator, a NUL) would reach outside the folder or is no file at all.
 *
 * @since 0.1.0
 * @category validation
 */
export const fileNameProblem = (name: string): string | undefined => {
  if (name.length === 0) return "the file name is empty"
  if (name === "." || name === "..") return `the file name "${name}" is not a file`
  if (name.includes("/") || name.includes("\\")) return `the file name "${name}" contains a path separator`
  if (name.includes("\0")) return "the file name contains a NUL character"
  return undefined
}

// Case folded both ways: upper-casing first takes "ß" and "ss" together, and
// lower-casing after takes the final sigma "ς" and "σ" together.
const folded = (name: string): string => name.normalize("NFC").toUpperCase().toLowerCase().normalize("NFC")

/**
 * Whether two file names could be one file in a folder: equal once
 * NFC-normalised and case-folded, as a case-insensitive file system (macOS,
 * Windows) or one that normalises names (HFS+) compares them. Written into
 * one folder, one file would replace the other.
 *
 * @since 0.1.0
 * @category validation
 */
export const sameFileName = (a: string, b: string): boolean => a === b || folded(a) === folded(b)
