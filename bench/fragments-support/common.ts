/**
 * What the fragment benchmark's driver (`bench/fragments.ts`) and its child
 * processes (`orchestrator.ts`, `programs.ts`) share: the programs' names,
 * the options a child receives, the result it prints, and the chunk size.
 *
 * A child prints exactly one line starting with {@link resultMarker} (or
 * {@link readyMarker} for the orchestrator) followed by JSON; anything else
 * it prints (logs, warnings) is shown by the driver, not read.
 */
import type { PerformanceEntry } from "node:perf_hooks"
import { constants, performance, PerformanceObserver } from "node:perf_hooks"

/** Bytes of file content per message: the protocol's default, 512 KiB. */
export const chunkSize = 512 * 1024

/** The HTTP/2 receive window of both sides: grpc-java's (BRO's) and the agent's default, 1 MiB. */
export const flowControlWindow = 1024 * 1024

/** The rate of the throttled receiver, bytes per second. */
export const throttledRate = 100 * 1024 * 1024

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
 * - `disk`: the fragment's size written into a new file of the folder in
 *   512 KiB synchronous writes from one buffer, as the agent's writer thread
 *   writes (the disk alone: no network, no hashing).
 * - `bare-upload`: a raw grpc-js client stream on `backup` with the same
 *   messages, no hashing, into the orchestrator's 1 MiB window.
 * - `bare-download`: a raw grpc-js server stream on `restore` with the
 *   agent's 1 MiB window, messages read and dropped, no hashing, no disk.
 * - `agent-upload`: `Fragments.sendFragment` from the file (`fromPath`).
 * - `agent-upload-stream`: the same from a byte stream of the file
 *   (`fromStream` over `FileSystem.stream`, size not given).
 * - `agent-upload-throttled`: `agent-upload` into a receiver that reads at
 *   100 MiB/s (for its memory: the agent must wait, not buffer).
 * - `agent-download`: `Fragments.downloadFragment` into a folder (disk write
 *   and MD5 check).
 * - `agent-download-stream`: `Fragments.downloadFragmentStream`, drained
 *   (MD5 check, no disk).
 * - `agent-download-parallel`: two `downloadFragment` of the fragment at
 *   once into two folders; its throughput is the two together.
 */
export const programNames = [
  "md5",
  "disk",
  "bare-upload",
  "bare-download",
  "agent-upload",
  "agent-upload-stream",
  "agent-upload-throttled",
  "agent-download",
  "agent-download-stream",
  "agent-download-parallel"
] as const

export type ProgramName = (typeof programNames)[number]

export const isProgramName = (name: string): name is ProgramName => (programNames as ReadonlyArray<string>).includes(name)

/** What the driver hands a program (as JSON, its one argument). */
export interface ProgramOptions {
  readonly program: ProgramName
  /** The fragment file (read by md5 and the uploads). */
  readonly file: string
  /** Its size in bytes; every program checks that it moved exactly this many (twice for the parallel one). */
  readonly size: number
  /** The orchestrator's port on 127.0.0.1 (its throttled receiver is `throttledPort`). */
  readonly port: number
  readonly throttledPort: number
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
  /**
   * RSS once ready and idle, just before the transfer (modules loaded, client
   * and data channel made), KiB: what the peak is compared with.
   */
  readonly idleRssKiB: number
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

/** How many bytes `program` moves for a fragment of `size`. */
export const bytesMoved = (program: ProgramName, size: number): number =>
  program === "agent-download-parallel" ? 2 * size : size

/**
 * Times `transfer` (which returns the content bytes it moved) and checks
 * that it moved what it should; what runs before it is not measured.
 */
export const measure = async (options: ProgramOptions, transfer: () => Promise<number>): Promise<ProgramResult> => {
  const idleRssKiB = Math.round(process.memoryUsage.rss() / 1024)
  const collections = countFullCollections()
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const bytes = await transfer()
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const fullCollections = collections.stop()
  const expected = bytesMoved(options.program, options.size)
  if (bytes !== expected) throw new Error(`${options.program} moved ${bytes} bytes, expected ${expected}`)
  return {
    program: options.program,
    bytes,
    seconds,
    maxRssKiB: process.resourceUsage().maxRSS,
    idleRssKiB,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    fullCollections
  }
}

/** What the orchestrator prints after {@link readyMarker}. */
export interface OrchestratorReady {
  readonly port: number
  /** The receiver that reads uploads at {@link throttledRate}. */
  readonly throttledPort: number
  /** Its process id, for reading its CPU time from /proc. */
  readonly pid: number
  /** The served file's MD5, upper-case hex. */
  readonly checksum: string
}
