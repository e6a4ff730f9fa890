/**
 * Sizes for every benchmark: the units, an option's text read as bytes, and
 * bytes written for a person.
 */

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB

const units: Record<string, number> = { "": 1, b: 1, kib: KiB, mib: MiB, gib: GiB, kb: 1e3, mb: 1e6, gb: 1e9 }

/**
 * Reads `512KiB`, `1 GiB`, `4gib` or a plain number of bytes; `option` names
 * the option in the error.
 */
export const parseSize = (option: string, text: string): number => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const factor = units[(match?.[2] ?? "").toLowerCase()]
  const bytes = match === null || factor === undefined ? NaN : Math.round(Number(match[1]) * factor)
  if (!(bytes >= 1)) throw new Error(`--${option}: "${text}" is not a size such as 512KiB, 1MiB or 4GiB`)
  return bytes
}

/** `4 GiB`, `512 MiB`, `64 KiB`, or bytes when no unit divides it. */
export const formatSize = (bytes: number): string =>
  bytes % GiB === 0
    ? `${bytes / GiB} GiB`
    : bytes % MiB === 0
    ? `${bytes / MiB} MiB`
    : bytes % KiB === 0
    ? `${bytes / KiB} KiB`
    : `${bytes} B`

/** A positive whole number from an option's text. */
export const positiveInteger = (option: string, text: string): number => {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${option}: "${text}" is not a positive integer`)
  return value
}
