/**
 * What every benchmark's report is made of: medians, percentages, aligned
 * tables, the machine it ran on, and targets checked as PASS or FAIL lines.
 */
import { cpus, loadavg, totalmem } from "node:os"
import { GiB } from "./sizes.js"

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length === 0
    ? NaN
    : sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2
}

export const percent = (value: number | undefined): string =>
  value === undefined || Number.isNaN(value) ? "n/a" : `${(100 * value).toFixed(0)} %`

export const fixed = (value: number | undefined, digits = 1): string =>
  value === undefined || Number.isNaN(value) ? "n/a" : value.toFixed(digits)

/** Columns aligned, the first to the left and the others to the right. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join("  ")
  return [line(headers), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n")
}

/** The machine, for the report's head. */
export const machine = (): string =>
  `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), ${(totalmem() / GiB).toFixed(1)} GiB RAM, ` +
  `Node ${process.version}, ${process.platform}/${process.arch}`

/** The load average now: a busy machine makes every figure worse. */
export const load = (): string => loadavg().map((value) => value.toFixed(2)).join(", ")

/** A target checked: what, the figures, and whether it holds. */
export interface Verdict {
  readonly label: string
  readonly value: string
  /** Undefined for a figure shown beside the targets, which is none itself. */
  readonly pass: boolean | undefined
}

/** Prints the verdicts under a title; returns how many failed. */
export const printVerdicts = (title: string, verdicts: ReadonlyArray<Verdict>): number => {
  if (verdicts.length === 0) return 0
  console.log(`\n${title}`)
  const width = Math.max(...verdicts.map((verdict) => verdict.label.length))
  for (const verdict of verdicts) {
    const mark = verdict.pass === undefined ? "info" : verdict.pass ? "PASS" : "FAIL"
    console.log(`  ${mark}  ${verdict.label.padEnd(width)}  ${verdict.value}`)
  }
  return verdicts.filter((verdict) => verdict.pass === false).length
}
