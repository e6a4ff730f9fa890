/**
 * The one-line answers of the benchmarks' child processes: a marker, then
 * JSON. Kept apart from `processes.ts` so that a measured child loads nothing
 * but this.
 */

/** The first line starting with `marker`, parsed as JSON, for `Child.next`. */
export const marked = <A>(marker: string) => (line: string): A | undefined =>
  line.startsWith(marker) ? (JSON.parse(line.slice(marker.length)) as A) : undefined

/** Prints one marked JSON line on stdout (a child's answer). */
export const printMarkedLine = (marker: string, value: object): void => {
  process.stdout.write(`${marker}${JSON.stringify(value)}\n`)
}
