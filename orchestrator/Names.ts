/**
 * The orchestrator's rules for the names a client gives it (agent ids, scope
 * elements and backup manager ids, fragment ids, backup names, file names),
 * in one place: registration, the data calls, the REST API and the backup
 * store's records read back all check names with these, because every one
 * of them becomes a path element in the storage folder.
 *
 * Beyond BRO's rules (`src/core/Registration.ts` for ids, BRO's backup name
 * rule, a plain base name for file names): no NUL, and a
 * length in bytes that a Linux file system takes, {@link maxNameBytes} bytes
 * of UTF-8 for a path element, {@link maxFileNameBytes} for a file name
 * (its checksum lies beside it as `<name>.md5`). The agent id `backup.json`
 * is refused: an agent's folder lies beside its backup's record.
 *
 * Each rule returns why a name breaks it, or `undefined` when it is fine.
 *
 * @since 0.1.0
 */
import * as Registration from "../src/core/Registration.js"
import { quote } from "./Quote.js"
import { plainNameProblem, recordFile } from "./storage/Paths.js"

/**
 * The most bytes (UTF-8) of a name that becomes one path element: 255, what
 * Linux file systems take.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxNameBytes = 255

/**
 * The most bytes (UTF-8) of a stored file's name: 251, so that `<name>.md5`
 * beside it is a name too.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxFileNameBytes = maxNameBytes - ".md5".length

const bytesProblem = (name: string, max: number): string | undefined => {
  const bytes = Buffer.byteLength(name)
  return bytes > max ? `must have at most ${max} bytes in UTF-8, not ${bytes}` : undefined
}

/**
 * Why an id (a scope element or backup manager id, a fragment id) breaks the
 * rules, completing a sentence that names it ("must not be empty"): BRO's,
 * then no NUL, then at most {@link maxNameBytes} bytes.
 *
 * @since 0.1.0
 * @category validation
 */
export const idProblem = (id: string): string | undefined =>
  Registration.idProblem(id) ?? (id.includes("\0") ? "must not contain NUL" : undefined) ??
    bytesProblem(id, maxNameBytes)

/**
 * Why an agent id breaks the rules: those of {@link idProblem}, and not
 * `backup.json`.
 *
 * @since 0.1.0
 * @category validation
 */
export const agentIdProblem = (id: string): string | undefined =>
  idProblem(id) ?? (id === recordFile ? `must not be "${recordFile}", the name of a backup's record` : undefined)

/**
 * Why a backup name breaks the rules, in a sentence: BRO's (not blank, not
 * `.` or `..`, only letters, digits, white space and `_+-=:.`, at most 200
 * characters), and at most {@link maxNameBytes} bytes.
 *
 * @since 0.1.0
 * @category validation
 */
export const backupNameProblem = (name: string): string | undefined => {
  if (name.trim().length === 0) return "the backup name must not be blank"
  if (name === "." || name === "..") return `the backup name must not be "${name}"`
  if (name.length > 200) return "the backup name must have at most 200 characters"
  if (!/^[\p{L}\p{N}_ +=:.\-]+$/u.test(name)) {
    return "the backup name may hold only letters, digits, white space and _+-=:."
  }
  const bytes = bytesProblem(name, maxNameBytes)
  return bytes === undefined ? undefined : `the backup name ${bytes}`
}

/**
 * Why a stored file's name breaks the rules, in a sentence that quotes it:
 * a plain base name (`storage/Paths.ts`) of at most
 * {@link maxFileNameBytes} bytes.
 *
 * @since 0.1.0
 * @category validation
 */
export const fileNameProblem = (name: string): string | undefined => {
  const problem = plainNameProblem(name) ?? bytesProblem(name, maxFileNameBytes)
  return problem === undefined ? undefined : `the file name "${quote(name)}" ${problem}`
}
