/**
 * What the fragment benchmark's driver (`bench/fragments.ts`) and its child
 * processes (`orchestrator.ts`, `programs.ts`) share: the programs' names,
 * the options a child receives, the result it prints, and the chunk size.
 *
 * A child prints exactly one line starting with {@link resultMarker} (or
 * {@link readyMarker} for the orchestrator) followed by JSON; anything else
 * it prints (logs, warnings) is ignored by the driver.
 */
import type { PerformanceEntry } from "node:perf_hooks"
import { constants, performance, PerformanceObserver } from "node:perf_hooks"

/** Bytes of file content per message: the protocol's default, 512 KiB. */
export const chunkSize = 512 * 1024

/** The base name the benchmark's fragment file travels under. */
export const fragmentFileName = "fragment.bin"

/** Prefix of a program's result line on its stdout. */
export const resultMarker = "BENCH-RESULT "

/** Prefix of the orchestrator's line saying it listens, on its stdout. */
export const readyMarker = "BENCH-READY "

/**
 * The programs measured, in the order they run within a round.
 *
 * - `md5`: MD5 of the file read in chunks, no network.
 * - `bare-upload`: a raw grpc-js client stream on `backup` with the same
 *   messages, no hashing.
 * - `bare-download`: a raw grpc-js server stream on `restore`, messages read
 *   and dropped, no hashing, no disk.
 * - `bare-download-1mib`: the same with the agent's 1 MiB HTTP/2 receive
 *   window (grpc-js's own is 64 KiB): informational, not a target's baseline.
 * - `write`: writes the same number of bytes into a new file in the folder,
 *   512 KiB per awaited write, no network: the disk's own ceiling for the
 *   download to disk (informational).
 * - `bare-download-disk`: `bare-download` piped into a file with Node's
 *   streams, no hashing: the download to disk without the agent
 *   (informational).
 * - `agent-upload`: `Fragments.sendFragment` from the file.
 * - `agent-download`: `Fragments.downloadFragment` into a folder (disk write
 *   and MD5 check).
 * - `agent-download-stream`: `Fragments.downloadFragmentStream`, drained
 *   (MD5 check, no disk).
 */
export const programNames = [
  "md5",
  "bare-upload",
  "bare-download",
  "bare-download-1mib",
  "write",
  "bare-download-disk",
  "agent-upload",
  "agent-download",
  "agent-download-stream"
] as const

export type ProgramName = (typeof programNames)[number]

export const isProgramName = (name: string): name is ProgramName => (programNames as ReadonlyArray<string>).includes(name)

/** What the driver hands a program (as JSON, its one argument). */
export interface ProgramOptions {
  readonly program: ProgramName
  /** The fragment file (read by md5 and the uploads). */
  readonly file: string
  /** Its size in bytes; every program checks that it moved exactly this many. */
  readonly size: number
  /** The orchestrator's port on 127.0.0.1. */
  readonly port: number
  /** An empty folder, for the programs that write the fragment to disk. */
  readonly folder: string
}

/** What a program prints after {@link resultMarker}. */
export interface ProgramResult {
  readonly program: ProgramName
  /** Content bytes hashed, sent or received. */
  readonly bytes: number
  /** Wall-clock seconds of the measured part (the transfer, not the start-up). */
  readonly seconds: number
  /** `process.resourceUsage().maxRSS` at the end: the process's peak RSS, KiB. */
  readonly maxRssKiB: number
  /** RSS just before the measured part (modules loaded, client made), KiB. */
  readonly rssBeforeKiB: number
  /** CPU seconds (user + system, all threads) the process spent in the measured part. */
  readonly cpuSeconds: number
  /** Full (mark-compact) collections of the main thread's heap during the measured part. */
  readonly fullCollections: number
}

/**
 * Counts the main thread's full collections until `stop` is called. Node
 * hands the observer its entries a little later, so `stop` takes those
 * still waiting before it disconnects.
 */
const countFullCollections = (): { readonly stop: () => number } => {
  let count = 0
  const add = (entries: ReadonlyArray<PerformanceEntry>) => {
    for (const entry of entries) {
      if ((entry as { readonly detail?: { readonly kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) count++
    }
  }
  const observer = new PerformanceObserver((list) => add(list.getEntries()))
  observer.observe({ entryTypes: ["gc"] })
  return {
    stop: () => {
      add(observer.takeRecords())
      observer.disconnect()
      return count
    }
  }
}

/**
 * Times `transfer` (which returns the content bytes it moved) and checks
 * that it moved `options.size` bytes; what runs before it is not measured.
 */
export const measure = async (options: ProgramOptions, transfer: () => Promise<number>): Promise<ProgramResult> => {
  const rssBeforeKiB = Math.round(process.memoryUsage.rss() / 1024)
  const collections = countFullCollections()
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const bytes = await transfer()
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const fullCollections = collections.stop()
  if (bytes !== options.size) throw new Error(`${options.program} moved ${bytes} bytes, expected ${options.size}`)
  return {
    program: options.program,
    bytes,
    seconds,
    maxRssKiB: process.resourceUsage().maxRSS,
    rssBeforeKiB,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    fullCollections
  }
}

/** What the orchestrator prints after {@link readyMarker}. */
export interface OrchestratorReady {
  readonly port: number
  /** Its process id, for reading its CPU time from /proc. */
  readonly pid: number
  /** The served file's MD5, upper-case hex. */
  readonly checksum: string
}

/** The first complete line of `output` that starts with `marker`, parsed as JSON. */
export const findMarkedLine = (output: string, marker: string): unknown => {
  // What follows the last newline may be a line still being written.
  const lines = output.split("\n").slice(0, -1)
  const line = lines.find((candidate) => candidate.startsWith(marker))
  return line === undefined ? undefined : JSON.parse(line.slice(marker.length))
}

/** Prints one marked JSON line on stdout. */
export const printMarkedLine = (marker: string, value: object): void => {
  process.stdout.write(`${marker}${JSON.stringify(value)}\n`)
}
