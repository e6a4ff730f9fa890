/**
 * Fragment transfer benchmark: how fast the agent uploads and downloads a
 * large fragment over loopback gRPC, how much CPU and memory it takes,
 * against honest ceilings on the same bytes (issue 16).
 *
 * Measured, each in its own Node process (so each peak RSS is its own), on
 * one generated file of the given size (a 1 MiB random block repeated, each
 * copy stamped with its index, in a temporary folder):
 *
 * | program                   | what it does                                                          |
 * | ------------------------- | --------------------------------------------------------------------- |
 * | `md5`                     | reads the file in 512 KiB chunks and hashes it (no network)           |
 * | `disk`                    | writes as many bytes into a new file, 512 KiB sync writes (no network) |
 * | `bare-upload`             | raw grpc-js client stream on `backup`, same messages, no hashing      |
 * | `bare-download`           | raw grpc-js server stream on `restore`, the agent's 1 MiB window      |
 * | `agent-upload`            | `Fragments.sendFragment` with `fromPath`, over `GrpcTransport`        |
 * | `agent-upload-stream`     | the same with `fromStream` (the file as a byte stream, size unknown)  |
 * | `agent-upload-throttled`  | `agent-upload` into a receiver reading 100 MiB/s (memory only)        |
 * | `agent-download`          | `Fragments.downloadFragment` into a folder (disk write, MD5 check)    |
 * | `agent-download-stream`   | `Fragments.downloadFragmentStream`, drained (MD5 check, no disk)      |
 * | `agent-download-parallel` | two `downloadFragment` at once on one data channel                    |
 *
 * The orchestrator's side is one more process (`fragments-support/orchestrator.ts`):
 * minimal grpc-js `DataInterface` servers that drop uploads and stream the
 * file for restores, honouring flow control. They receive with grpc-java's
 * (BRO's) 1 MiB HTTP/2 window, so the bare upload and the agent's upload go
 * into the same receiver as with BRO; the throttled one reads 100 MiB/s. The
 * bare download uses the agent's own 1 MiB receive window: that is the
 * download's ceiling. (Earlier versions of this benchmark compared with a
 * bare download and a receiver keeping grpc-js's 64 KiB window, which ran at
 * a third of these rates and flattered the agent: they are gone.)
 *
 * The programs run interleaved, round after round (A B C … A B C …),
 * because this machine's figures move by tens of percent between runs; the
 * report gives, per program, the median throughput, the CPU used by the
 * measured process (per second and per GiB) and by the orchestrator during
 * the transfer, the full collections, the idle RSS (once ready, just before
 * the transfer) and the peak RSS, and checks the targets of issue 16:
 *
 * - download to disk ≥ 0.8 × min(MD5, bare download); as a stream ≥ 0.85 ×;
 * - upload ≥ 0.85 × min(MD5, bare upload);
 * - restore CPU per GiB ≤ 1.5 × (MD5 + bare download) CPU per GiB;
 * - two fragments in parallel ≥ 1.5 × one;
 * - peak RSS ≤ idle RSS + 48 MiB for the uploads (file, stream, throttled)
 *   and both downloads, and, with several sizes, each one's peak RSS
 *   within 10 % between the smallest and the largest.
 *
 * Run it (it is not part of `npm test`): `npm run bench:fragments`, with
 * options after `--`:
 *
 * - `--size 1GiB` (default) or `--sizes 1GiB,4GiB`: fragment sizes;
 * - `--rounds 3` (default): rounds per size;
 * - `--only agent-upload,md5`: run only these programs (the throttled
 *   upload runs at the smallest size only: it takes 10 s a GiB);
 * - `--cpu-prof DIR`: write a V8 CPU profile of every agent-side process into DIR
 *   (slows them down; for finding where the time goes, not for the figures).
 *
 * The script compiles `bench/` with `bench/tsconfig.json` into `bench/.build/`
 * and runs the result with plain `node`, so that no TypeScript loader sits in
 * the measured processes. It needs free space in the temporary folder for
 * three times the largest size (the file and the parallel download's two
 * copies); everything it writes there is removed at the end, also on failure
 * and on Ctrl-C.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { randomBytes } from "node:crypto"
import { closeSync, openSync, statfsSync, writeSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import type { OrchestratorReady, ProgramName, ProgramOptions, ProgramResult } from "./fragments-support/common.js"
import { fragmentFileName, isProgramName, programNames, readyMarker, resultMarker } from "./fragments-support/common.js"
import { marked } from "./support/lines.js"
import { BenchFailure, cpuSecondsOf, startChild } from "./support/processes.js"
import type { Verdict } from "./support/report.js"
import { fixed, load, machine, median, percent, printVerdicts, table } from "./support/report.js"
import { formatSize, GiB, MiB, parseSize, positiveInteger } from "./support/sizes.js"

/** The targets of issue 16. */
const targets = {
  download: 0.8,
  downloadStream: 0.85,
  upload: 0.85,
  /** Restore CPU per GiB over (MD5 + bare download) CPU per GiB, at most. */
  restoreCpu: 1.5,
  /** Two downloads at once over one, at least. */
  parallel: 1.5,
  /** Peak RSS over idle RSS, MiB, at most. */
  rssIncreaseMiB: 48,
  /** How far a peak RSS may move between sizes. */
  rssSpread: 0.1
} as const

const labels: Record<ProgramName, string> = {
  "md5": "MD5 alone (read + hash)",
  "disk": "disk alone (new file, 512 KiB writes)",
  "bare-upload": "bare grpc-js upload (1 MiB receiver)",
  "bare-download": "bare grpc-js download (1 MiB window)",
  "agent-upload": "agent upload (fromPath)",
  "agent-upload-stream": "agent upload (fromStream)",
  "agent-upload-throttled": "agent upload into 100 MiB/s receiver",
  "agent-download": "agent download (downloadFragment, disk)",
  "agent-download-stream": "agent download (downloadFragmentStream)",
  "agent-download-parallel": "agent 2 downloads at once (both)"
}

/** The programs whose memory is a target. */
const memoryPrograms: ReadonlyArray<ProgramName> = [
  "agent-upload",
  "agent-upload-stream",
  "agent-upload-throttled",
  "agent-download",
  "agent-download-stream"
]

/** The programs whose peak RSS must not grow with the size (the throttled one runs at one size). */
const flatPrograms: ReadonlyArray<ProgramName> = ["agent-upload", "agent-upload-stream", "agent-download", "agent-download-stream"]

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  readonly sizes: ReadonlyArray<number>
  readonly rounds: number
  readonly programs: ReadonlyArray<ProgramName>
  readonly cpuProfileFolder: string | undefined
}

const usage = "usage: npm run bench:fragments -- [--size 1GiB | --sizes 1GiB,4GiB] [--rounds 3] " +
  "[--only md5,bare-upload,...] [--cpu-prof DIR]"

const parseOptions = (): Options => {
  const { values } = parseArgs({
    options: {
      "size": { type: "string" },
      "sizes": { type: "string" },
      "rounds": { type: "string", default: "3" },
      "only": { type: "string" },
      "cpu-prof": { type: "string" },
      "help": { type: "boolean", default: false }
    }
  })
  if (values.help) {
    console.log(usage)
    process.exit(0)
  }
  const sizes = (values.sizes ?? values.size ?? "1GiB").split(",").map((text) => parseSize("sizes", text))
  const only = values.only?.split(",").map((name) => name.trim())
  const unknown = only?.filter((name) => !isProgramName(name)) ?? []
  if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.join(", ")}; known: ${programNames.join(", ")}`)
  return {
    sizes,
    rounds: positiveInteger("rounds", values.rounds),
    programs: programNames.filter((name) => only === undefined || only.includes(name)),
    cpuProfileFolder: values["cpu-prof"]
  }
}

// ---------------------------------------------------------------------------
// The runs
// ---------------------------------------------------------------------------

const checkFreeSpace = (folder: string, largest: number) => {
  const stats = statfsSync(folder)
  const free = stats.bavail * stats.bsize
  // The file, and the parallel download's two copies (each program's are removed after it), plus some room.
  const needed = 3 * largest + 512 * MiB
  if (free < needed) {
    throw new Error(`${folder} has ${formatSize(free)} free; a ${formatSize(largest)} fragment needs ${formatSize(needed)}`)
  }
}

/** Writes `size` bytes: a 1 MiB random block repeated, each copy stamped with its index so no two are equal. */
const generateFile = (path: string, size: number) => {
  const block = randomBytes(MiB)
  const descriptor = openSync(path, "w")
  try {
    for (let offset = 0, index = 0; offset < size; offset += MiB, index++) {
      block.writeUInt32LE(index, 0)
      writeSync(descriptor, block, 0, Math.min(MiB, size - offset))
    }
  } finally {
    closeSync(descriptor)
  }
}

const script = (name: string) => fileURLToPath(new URL(`./fragments-support/${name}.js`, import.meta.url))

/** A program's result, with the orchestrator's CPU seconds during it. */
interface Run extends ProgramResult {
  readonly orchestratorCpuSeconds: number | undefined
}

const throughput = (result: ProgramResult) => result.bytes / MiB / result.seconds

const runProgram = (options: ProgramOptions, nodeArgs: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* startChild(options.program, script("programs"), [JSON.stringify(options)], { nodeArgs })
    const result = yield* child.next("its result", marked<ProgramResult>(resultMarker), "30 minutes")
    yield* child.succeeded("1 minute")
    return result
  }))

interface Summary {
  readonly runs: ReadonlyArray<number>
  /** Median throughput, MiB/s. */
  readonly throughput: number
  /** Median CPU use of the measured process during the transfer (1 = one core). */
  readonly cpu: number
  /** Median CPU seconds of the measured process per GiB moved. */
  readonly cpuPerGiB: number
  /** Median CPU use of the orchestrator's process during the transfer, when known. */
  readonly orchestratorCpu: number | undefined
  /** Median CPU seconds of the orchestrator's process per GiB moved, when known. */
  readonly orchestratorCpuPerGiB: number | undefined
  /** Median count of full collections of the measured process's main heap during the transfer. */
  readonly fullCollections: number
  /** Largest idle RSS, largest peak RSS and largest increase of one over the other, over the runs, MiB. */
  readonly idleRss: number
  readonly peakRss: number
  readonly rssIncrease: number
}

const summarize = (results: ReadonlyArray<Run>): Summary => {
  const orchestratorCpu = results.flatMap((result) =>
    result.orchestratorCpuSeconds === undefined ? [] : [result.orchestratorCpuSeconds / result.seconds]
  )
  const orchestratorCpuPerGiB = results.flatMap((result) =>
    result.orchestratorCpuSeconds === undefined ? [] : [result.orchestratorCpuSeconds / (result.bytes / GiB)]
  )
  return {
    runs: results.map(throughput),
    throughput: median(results.map(throughput)),
    cpu: median(results.map((result) => result.cpuSeconds / result.seconds)),
    cpuPerGiB: median(results.map((result) => result.cpuSeconds / (result.bytes / GiB))),
    orchestratorCpu: orchestratorCpu.length === 0 ? undefined : median(orchestratorCpu),
    orchestratorCpuPerGiB: orchestratorCpuPerGiB.length === 0 ? undefined : median(orchestratorCpuPerGiB),
    fullCollections: median(results.map((result) => result.fullCollections)),
    idleRss: Math.max(...results.map((result) => result.idleRssKiB / 1024)),
    peakRss: Math.max(...results.map((result) => result.maxRssKiB / 1024)),
    rssIncrease: Math.max(...results.map((result) => (result.maxRssKiB - result.idleRssKiB) / 1024))
  }
}

interface SizeReport {
  readonly size: number
  readonly summaries: ReadonlyMap<ProgramName, Summary>
}

const measureSize = (options: Options, root: string, size: number, smallest: boolean) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = join(root, fragmentFileName)
    yield* Console.error(`Generating ${formatSize(size)} in ${file} ... (load average ${load()})`)
    yield* Effect.sync(() => generateFile(file, size))
    yield* Effect.addFinalizer(() => Effect.ignore(fs.remove(file, { force: true })))
    const orchestrator = yield* startChild("orchestrator", script("orchestrator"), [file])
    yield* Effect.addFinalizer(() => orchestrator.stop)
    const ready = yield* orchestrator.next("BENCH-READY", marked<OrchestratorReady>(readyMarker), "5 minutes")
    const programs = options.programs.filter((program) => smallest || program !== "agent-upload-throttled")
    const results = new Map<ProgramName, Array<Run>>()
    let downloads = 0
    for (let round = 1; round <= options.rounds; round++) {
      for (const program of programs) {
        const folder = join(root, `download-${++downloads}`)
        yield* fs.makeDirectory(folder)
        const nodeArgs = options.cpuProfileFolder === undefined ? [] : [
          "--cpu-prof",
          `--cpu-prof-dir=${options.cpuProfileFolder}`,
          `--cpu-prof-name=${program}-${formatSize(size).replace(" ", "")}-r${round}.cpuprofile`
        ]
        // The orchestrator idles between programs, so its CPU time over the
        // whole child's life is (almost all) spent serving the transfer.
        const orchestratorBefore = cpuSecondsOf(ready.pid)
        const measured = yield* runProgram(
          { program, file, size, port: ready.port, throttledPort: ready.throttledPort, folder },
          nodeArgs
        ).pipe(Effect.ensuring(Effect.ignore(fs.remove(folder, { recursive: true, force: true }))))
        const orchestratorAfter = cpuSecondsOf(ready.pid)
        const result: Run = {
          ...measured,
          orchestratorCpuSeconds: orchestratorBefore === undefined || orchestratorAfter === undefined
            ? undefined
            : orchestratorAfter - orchestratorBefore
        }
        results.set(program, [...(results.get(program) ?? []), result])
        yield* Console.error(
          `  ${formatSize(size)} round ${round}/${options.rounds} ${program.padEnd(24)} ${
            throughput(result).toFixed(1).padStart(7)
          } MiB/s  CPU ${percent(result.cpuSeconds / result.seconds)}  orchestrator CPU ${
            percent(result.orchestratorCpuSeconds === undefined ? undefined : result.orchestratorCpuSeconds / result.seconds)
          }  full GCs ${result.fullCollections}  RSS idle ${(result.idleRssKiB / 1024).toFixed(1)} peak ${
            (result.maxRssKiB / 1024).toFixed(1)
          } MiB`
        )
      }
    }
    const report: SizeReport = {
      size,
      summaries: new Map([...results].map(([program, runs]) => [program, summarize(runs)] as const))
    }
    return report
  }))

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const ratioVerdict = (label: string, value: number, ceiling: number, target: number, ceilingName: string): Verdict => ({
  label,
  value: `${value.toFixed(0)} / ${ceiling.toFixed(0)} MiB/s ${ceilingName} = ${(value / ceiling).toFixed(2)} (target >= ${target})`,
  pass: value / ceiling >= target
})

const throughputVerdicts = (report: SizeReport): Array<Verdict> => {
  const get = (program: ProgramName) => report.summaries.get(program)
  const size = formatSize(report.size)
  const md5 = get("md5")
  const verdicts: Array<Verdict> = []
  const against = (program: ProgramName, bare: ProgramName, target: number, label: string) => {
    const agent = get(program)
    const baseline = get(bare)
    if (agent === undefined || md5 === undefined || baseline === undefined) return
    const ceiling = Math.min(md5.throughput, baseline.throughput)
    verdicts.push(ratioVerdict(`${size} ${label}`, agent.throughput, ceiling, target, `min(MD5, ${bare})`))
  }
  against("agent-download", "bare-download", targets.download, "download to disk")
  // The disk is the third ceiling of a download to disk (not in the
  // issue's target): shown beside it, with the CPU the three take alone.
  const disk = get("disk")
  const toDisk = get("agent-download")
  const bare = get("bare-download")
  if (disk !== undefined && toDisk !== undefined && md5 !== undefined && bare !== undefined) {
    const ceiling = Math.min(md5.throughput, bare.throughput, disk.throughput)
    verdicts.push({
      ...ratioVerdict(`${size} download to disk, disk too`, toDisk.throughput, ceiling, targets.download, "min(MD5, bare-download, disk)"),
      pass: undefined
    })
    const alone = md5.cpuPerGiB + bare.cpuPerGiB + disk.cpuPerGiB + (bare.orchestratorCpuPerGiB ?? 0)
    verdicts.push({
      label: `${size} CPU a download to disk needs`,
      value: `${alone.toFixed(2)} s per GiB (MD5 ${md5.cpuPerGiB.toFixed(2)} + bare ${bare.cpuPerGiB.toFixed(2)} + disk ${
        disk.cpuPerGiB.toFixed(2)
      } + its orchestrator ${(bare.orchestratorCpuPerGiB ?? 0).toFixed(2)}) on ${cpus().length} cores: at most ${
        (cpus().length / alone * 1024).toFixed(0)
      } MiB/s with every core busy`,
      pass: undefined
    })
  }
  against("agent-download-stream", "bare-download", targets.downloadStream, "download as a stream")
  against("agent-upload", "bare-upload", targets.upload, "upload (fromPath)")
  against("agent-upload-stream", "bare-upload", targets.upload, "upload (fromStream)")
  const restore = get("agent-download")
  const bareDownload = get("bare-download")
  if (restore !== undefined && md5 !== undefined && bareDownload !== undefined) {
    const ceiling = md5.cpuPerGiB + bareDownload.cpuPerGiB
    verdicts.push({
      label: `${size} restore CPU per GiB`,
      value: `${restore.cpuPerGiB.toFixed(2)} s / (${md5.cpuPerGiB.toFixed(2)} MD5 + ${
        bareDownload.cpuPerGiB.toFixed(2)
      } bare) = ${(restore.cpuPerGiB / ceiling).toFixed(2)} (target <= ${targets.restoreCpu})`,
      pass: restore.cpuPerGiB / ceiling <= targets.restoreCpu
    })
  }
  const parallel = get("agent-download-parallel")
  if (parallel !== undefined && restore !== undefined) {
    verdicts.push(
      ratioVerdict(`${size} two downloads at once`, parallel.throughput, restore.throughput, targets.parallel, "one download")
    )
  }
  return verdicts
}

const memoryVerdicts = (report: SizeReport): Array<Verdict> =>
  memoryPrograms.flatMap((program) => {
    const summary = report.summaries.get(program)
    if (summary === undefined) return []
    return [{
      label: `${formatSize(report.size)} ${program} peak RSS over idle`,
      value: `${summary.peakRss.toFixed(1)} - ${summary.idleRss.toFixed(1)} = +${
        summary.rssIncrease.toFixed(1)
      } MiB (target <= +${targets.rssIncreaseMiB} MiB)`,
      pass: summary.rssIncrease <= targets.rssIncreaseMiB
    }]
  })

const spreadVerdicts = (reports: ReadonlyArray<SizeReport>): Array<Verdict> => {
  if (reports.length < 2) return []
  return flatPrograms.flatMap((program) => {
    const peaks = reports.flatMap((report) => {
      const summary = report.summaries.get(program)
      return summary === undefined ? [] : [{ size: report.size, peak: summary.peakRss }]
    })
    if (peaks.length < 2) return []
    const smallest = peaks.reduce((a, b) => (a.size <= b.size ? a : b))
    const largest = peaks.reduce((a, b) => (a.size >= b.size ? a : b))
    const ratio = largest.peak / smallest.peak
    return [{
      label: `${program} peak RSS ${formatSize(largest.size)} / ${formatSize(smallest.size)}`,
      value: `${largest.peak.toFixed(1)} / ${smallest.peak.toFixed(1)} MiB = ${ratio.toFixed(3)} (target within ±${
        targets.rssSpread * 100
      } %)`,
      pass: Math.abs(ratio - 1) <= targets.rssSpread
    }]
  })
}

const printSizeReport = (report: SizeReport, rounds: number) => {
  console.log(`\n=== Fragment of ${formatSize(report.size)} (${report.size} bytes), ${rounds} round(s) ===`)
  const rows = programNames.flatMap((program) => {
    const summary = report.summaries.get(program)
    if (summary === undefined) return []
    return [[
      labels[program],
      fixed(summary.throughput),
      summary.runs.map((run) => run.toFixed(0)).join(" "),
      percent(summary.cpu),
      fixed(summary.cpuPerGiB, 2),
      percent(summary.orchestratorCpu),
      summary.fullCollections.toFixed(0),
      fixed(summary.idleRss),
      fixed(summary.peakRss),
      `+${fixed(summary.rssIncrease)}`
    ]]
  })
  console.log(
    table([
      "program",
      "MiB/s (median)",
      "MiB/s per round",
      "CPU",
      "CPU s/GiB",
      "orch. CPU",
      "full GCs",
      "idle RSS",
      "peak RSS",
      "increase"
    ], rows)
  )
  console.log(
    "CPU: the measured process's user + system time over the transfer's wall time (100 % = one core), and per GiB " +
      "moved; orch. CPU: the server process's, over the same time; full GCs: the median count of the measured " +
      "process's mark-compact collections during the transfer; RSS in MiB: idle just before the transfer, the " +
      "process's peak, and the largest increase of one over the other in a round."
  )
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const main = Effect.gen(function*() {
  const options = yield* Effect.try({
    try: parseOptions,
    catch: (error) => new BenchFailure({ reason: `${error instanceof Error ? error.message : String(error)}\n${usage}` })
  })
  const fs = yield* FileSystem.FileSystem
  const sizes = [...options.sizes].sort((a, b) => a - b)
  yield* Effect.try({
    try: () => checkFreeSpace(tmpdir(), Math.max(...sizes)),
    catch: (error) => new BenchFailure({ reason: error instanceof Error ? error.message : String(error) })
  })
  if (options.cpuProfileFolder !== undefined) yield* fs.makeDirectory(options.cpuProfileFolder, { recursive: true })
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "bro-agent-bench-" })
  yield* Console.error(`Machine: ${machine()}`)
  const loadAtStart = load()
  const reports: Array<SizeReport> = []
  for (const [index, size] of sizes.entries()) reports.push(yield* measureSize(options, root, size, index === 0))

  console.log(`\nbro-agent fragment benchmark: loopback gRPC, 512 KiB chunks, 1 MiB HTTP/2 windows`)
  console.log(`Machine: ${machine()}`)
  console.log(`Load average at start: ${loadAtStart}; at the end: ${load()}`)
  console.log(`Rounds: ${options.rounds} per size, programs interleaved; medians, largest RSS`)
  for (const report of reports) printSizeReport(report, options.rounds)
  const verdicts = [...reports.flatMap(throughputVerdicts), ...reports.flatMap(memoryVerdicts), ...spreadVerdicts(reports)]
  const failed = printVerdicts("Targets (issue 16)", verdicts)
  console.log(`\n${failed === 0 ? "All targets met." : `${failed} of ${verdicts.length} targets not met.`}`)
})

NodeRuntime.runMain(
  Effect.scoped(main).pipe(
    Effect.catchTag("BenchFailure", (failure) =>
      Effect.zipRight(Console.error(failure.reason), Effect.sync(() => void (process.exitCode = 1)))),
    Effect.provide(NodeContext.layer)
  ),
  { disablePrettyLogger: true }
)
