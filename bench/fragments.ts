/**
 * Fragment transfer benchmark: how fast the agent uploads and downloads a
 * large fragment over loopback gRPC, and how much memory it takes, against
 * two baselines on the same bytes.
 *
 * Measured, each in its own Node process (so each peak RSS is its own), on
 * one generated file of the given size (a 1 MiB random block repeated, each
 * copy stamped with its index, in a temporary folder):
 *
 * | program                 | what it does                                                        |
 * | ----------------------- | ------------------------------------------------------------------- |
 * | `md5`                   | reads the file in 512 KiB chunks and hashes it (no network)         |
 * | `bare-upload`           | raw grpc-js client stream on `backup`, same messages, no hashing    |
 * | `bare-download`         | raw grpc-js server stream on `restore`, messages dropped, no hash   |
 * | `bare-download-1mib`    | the same with the agent's 1 MiB HTTP/2 window (informational)       |
 * | `write`                 | writes the bytes to a new file, 512 KiB a write (informational)     |
 * | `bare-download-disk`    | `bare-download` piped into a file, no hashing (informational)       |
 * | `agent-upload`          | `Fragments.sendFragment` with `fromPath`, over `GrpcTransport`      |
 * | `agent-download`        | `Fragments.downloadFragment` into a folder (disk write, MD5 check)  |
 * | `agent-download-stream` | `Fragments.downloadFragmentStream`, drained (MD5 check, no disk)    |
 *
 * The orchestrator's side is one more process (`support/orchestrator.ts`): a
 * minimal grpc-js `DataInterface` server that drops uploads and streams the
 * file for restores, honouring flow control. It keeps grpc-js's 64 KiB
 * HTTP/2 window for what it receives (BRO's grpc-java has 1 MiB), so an
 * upload is partly bound by round trips between the two processes, for the
 * baseline and the agent alike. For a download the receiving client's
 * window counts: the agent's is 1 MiB (`GrpcTransport`'s default, as
 * grpc-java's), `bare-download` keeps grpc-js's 64 KiB as the issue's
 * baseline, and `bare-download-1mib` shows the bare client with the agent's
 * window, for information. For the download to disk, which neither baseline
 * of the issue writes, `write` shows the disk's own ceiling (on a virtual
 * machine the first use of fresh memory for the page cache can cost more
 * system time than the copy), and `bare-download-disk` a plain grpc-js
 * client writing the file. The programs run interleaved, round after round
 * (A B C … A B C …), because this machine's figures move by tens of percent
 * between runs; the report gives, per program, the median throughput, the
 * CPU used by the measured process and by the orchestrator during the
 * transfer (which side was the bottleneck), and the largest peak RSS, and
 * checks the targets:
 *
 * - upload: agent ≥ 0.9 × min(MD5, bare upload);
 * - download: agent ≥ 0.9 × min(MD5, bare download) (for both download forms);
 * - the agent's peak RSS under 150 MiB, and, with several sizes, the same
 *   within 10 % whatever the size.
 *
 * Run it (it is not part of `npm test`): `npm run bench:fragments`, with
 * options after `--`:
 *
 * - `--size 1GiB` (default) or `--sizes 1GiB,4GiB`: fragment sizes (B, KiB, MiB, GiB);
 * - `--rounds 3` (default): rounds per size;
 * - `--only agent-upload,md5`: run only these programs;
 * - `--cpu-prof DIR`: write a V8 CPU profile of every agent-side process into DIR
 *   (slows them down; for finding where the time goes, not for the figures).
 *
 * The script compiles `bench/` with `bench/tsconfig.json` into `bench/.build/`
 * and runs the result with plain `node`, so that no TypeScript loader sits in
 * the measured processes. It needs free space in the temporary folder for
 * twice the largest size; everything it writes there is removed at the end,
 * also on failure and on Ctrl-C.
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import type { OrchestratorReady, ProgramName, ProgramOptions, ProgramResult } from "./support/common.js"
import {
  findMarkedLine,
  fragmentFileName,
  isProgramName,
  programNames,
  readyMarker,
  resultMarker
} from "./support/common.js"

const MiB = 1024 * 1024
const GiB = 1024 * MiB

/** The targets of the issue. */
const targets = {
  /** Agent throughput over the slower of its two baselines. */
  minimumThroughputRatio: 0.9,
  /** The agent's peak RSS, MiB. */
  maximumPeakRssMiB: 150,
  /** How far the agent's peak RSS may move between sizes. */
  maximumRssSpread: 0.1
} as const

const labels: Record<ProgramName, string> = {
  "md5": "MD5 alone (read + hash)",
  "bare-upload": "bare grpc-js upload",
  "bare-download": "bare grpc-js download",
  "bare-download-1mib": "bare grpc-js download, 1 MiB window",
  "write": "disk write alone",
  "bare-download-disk": "bare grpc-js download piped to disk",
  "agent-upload": "agent upload (sendFragment)",
  "agent-download": "agent download (downloadFragment, disk)",
  "agent-download-stream": "agent download (downloadFragmentStream)"
}

const agentPrograms: ReadonlyArray<ProgramName> = ["agent-upload", "agent-download", "agent-download-stream"]

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const units: Record<string, number> = { b: 1, kib: 1024, mib: MiB, gib: GiB, kb: 1000, mb: 1e6, gb: 1e9 }

const parseSize = (text: string): number => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const factor = units[(match?.[2] ?? "").toLowerCase() || "b"]
  if (match === null || factor === undefined) throw new Error(`--size: "${text}" is not a size such as 512MiB or 4GiB`)
  const bytes = Math.round(Number(match[1]) * factor)
  if (bytes < 1) throw new Error(`--size: "${text}" is empty`)
  return bytes
}

const formatSize = (bytes: number): string =>
  bytes % GiB === 0 ? `${bytes / GiB} GiB` : bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} B`

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
  const sizes = (values.sizes ?? values.size ?? "1GiB").split(",").map(parseSize)
  const rounds = Number(values.rounds)
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: "${values.rounds}" is not a positive integer`)
  const only = values.only?.split(",").map((name) => name.trim())
  const unknown = only?.filter((name) => !isProgramName(name)) ?? []
  if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.join(", ")}; known: ${programNames.join(", ")}`)
  return {
    sizes,
    rounds,
    programs: programNames.filter((name) => only === undefined || only.includes(name)),
    cpuProfileFolder: values["cpu-prof"]
  }
}

// ---------------------------------------------------------------------------
// Temporary files and child processes, cleaned up whatever happens
// ---------------------------------------------------------------------------

const children = new Set<ChildProcess>()
let temporaryRoot: string | undefined

const cleanUp = () => {
  for (const child of children) child.kill("SIGTERM")
  children.clear()
  if (temporaryRoot !== undefined) rmSync(temporaryRoot, { recursive: true, force: true })
  temporaryRoot = undefined
}

process.on("exit", cleanUp)
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: removing temporary files`)
    cleanUp()
    process.exit(signal === "SIGINT" ? 130 : 143)
  })
}

const checkFreeSpace = (folder: string, largest: number) => {
  const stats = statfsSync(folder)
  const free = stats.bavail * stats.bsize
  // The file, and one program's copy of it on disk (each is removed after its program), plus some room.
  const needed = 2 * largest + 512 * MiB
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

const script = (name: string) => fileURLToPath(new URL(`./support/${name}.js`, import.meta.url))

interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const spawnChild = (args: ReadonlyArray<string>, nodeArgs: ReadonlyArray<string> = []) => {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ["pipe", "pipe", "pipe"] })
  children.add(child)
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text))
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text))
  const finished = new Promise<Finished>((resolve) =>
    child.on("close", (code) => {
      children.delete(child)
      resolve({ code, stdout, stderr })
    })
  )
  return { child, finished, output: () => stdout }
}

interface Orchestrator extends OrchestratorReady {
  readonly stop: () => Promise<void>
}

const startOrchestrator = (file: string): Promise<Orchestrator> => {
  const { child, finished, output } = spawnChild([script("orchestrator"), file])
  return new Promise((resolve, reject) => {
    const onData = () => {
      const ready = findMarkedLine(output(), readyMarker) as OrchestratorReady | undefined
      if (ready === undefined) return
      child.stdout?.off("data", onData)
      resolve({
        ...ready,
        stop: async () => {
          child.stdin?.end()
          await finished
        }
      })
    }
    child.stdout?.on("data", onData)
    void finished.then(({ code, stderr }) => reject(new Error(`the orchestrator exited (${code}): ${stderr}`)))
  })
}

/**
 * CPU seconds a process has used so far, from /proc (Linux); `undefined`
 * elsewhere. Clock ticks are taken as 100 per second, Linux's usual value.
 */
const cpuSecondsOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/** A program's result, with the orchestrator's CPU seconds during it. */
interface Run extends ProgramResult {
  readonly orchestratorCpuSeconds: number | undefined
}

const runProgram = async (options: ProgramOptions, nodeArgs: ReadonlyArray<string>): Promise<ProgramResult> => {
  const { child, finished } = spawnChild([script("programs"), JSON.stringify(options)], nodeArgs)
  child.stdin?.end()
  const { code, stderr, stdout } = await finished
  const result = findMarkedLine(stdout, resultMarker) as ProgramResult | undefined
  if (code !== 0 || result === undefined) throw new Error(`${options.program} failed (exit ${code}):\n${stderr}`)
  return result
}

// ---------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------

const throughput = (result: ProgramResult) => result.bytes / MiB / result.seconds

const percent = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? "n/a" : `${(100 * value).toFixed(0)} %`)

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2
}

interface Summary {
  readonly runs: ReadonlyArray<number>
  /** Median throughput, MiB/s. */
  readonly throughput: number
  /** Largest peak RSS over the runs, MiB. */
  readonly peakRss: number
  /** Largest RSS before the measured part, MiB. */
  readonly rssBefore: number
  /** Median CPU use of the measured process during the transfer (1 = one core). */
  readonly cpu: number
  /** Median CPU use of the orchestrator's process during the transfer, when known. */
  readonly orchestratorCpu: number | undefined
  /** Median count of full collections of the measured process's main heap during the transfer. */
  readonly fullCollections: number
}

const summarize = (results: ReadonlyArray<Run>): Summary => {
  const orchestratorCpu = results.flatMap((result) =>
    result.orchestratorCpuSeconds === undefined ? [] : [result.orchestratorCpuSeconds / result.seconds]
  )
  return {
    runs: results.map(throughput),
    throughput: median(results.map(throughput)),
    peakRss: Math.max(...results.map((result) => result.maxRssKiB / 1024)),
    rssBefore: Math.max(...results.map((result) => result.rssBeforeKiB / 1024)),
    cpu: median(results.map((result) => result.cpuSeconds / result.seconds)),
    orchestratorCpu: orchestratorCpu.length === 0 ? undefined : median(orchestratorCpu),
    fullCollections: median(results.map((result) => result.fullCollections))
  }
}

interface SizeReport {
  readonly size: number
  readonly summaries: ReadonlyMap<ProgramName, Summary>
}

interface Verdict {
  readonly label: string
  readonly value: string
  readonly pass: boolean
}

const pad = (text: string, width: number) => text.padEnd(width)
const padLeft = (text: string, width: number) => text.padStart(width)

const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column === 0 ? pad(cell, widths[column] ?? 0) : padLeft(cell, widths[column] ?? 0)))
      .join("  ")
  return [line(headers), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n")
}

const throughputVerdicts = (report: SizeReport): Array<Verdict> => {
  const get = (program: ProgramName) => report.summaries.get(program)?.throughput
  const pairs: ReadonlyArray<readonly [ProgramName, ProgramName, string]> = [
    ["agent-upload", "bare-upload", "upload"],
    ["agent-download", "bare-download", "download (downloadFragment, disk)"],
    ["agent-download-stream", "bare-download", "download (downloadFragmentStream)"]
  ]
  const verdicts: Array<Verdict> = []
  for (const [agent, bare, label] of pairs) {
    const agentRate = get(agent)
    const md5Rate = get("md5")
    const bareRate = get(bare)
    if (agentRate === undefined || md5Rate === undefined || bareRate === undefined) continue
    const baseline = Math.min(md5Rate, bareRate)
    const ratio = agentRate / baseline
    verdicts.push({
      label: `${formatSize(report.size)} ${label}: agent / min(MD5, ${bare})`,
      value: `${agentRate.toFixed(0)} / ${baseline.toFixed(0)} = ${ratio.toFixed(2)} (target >= ${targets.minimumThroughputRatio})`,
      pass: ratio >= targets.minimumThroughputRatio
    })
  }
  return verdicts
}

/**
 * Ratios that are not targets. The downloads against a bare client with the
 * agent's own 1 MiB window (the issue's baseline is grpc-js as it comes), to
 * show how much of the agent's lead is its window; the download to disk
 * against the disk alone and against a bare client writing the file, which
 * neither of the issue's baselines does.
 */
const informationalComparisons = (report: SizeReport): Array<string> => {
  const get = (program: ProgramName) => report.summaries.get(program)?.throughput
  const line = (agent: ProgramName, baselines: ReadonlyArray<ProgramName>): Array<string> => {
    const agentRate = get(agent)
    const rates = baselines.map(get)
    if (agentRate === undefined || rates.some((rate) => rate === undefined)) return []
    const baseline = Math.min(...rates.map((rate) => rate ?? NaN))
    const name = baselines.length === 1 ? baselines[0] : `min(${baselines.join(", ")})`
    return [
      `${formatSize(report.size)} ${agent}: agent / ${name} = ${agentRate.toFixed(0)} / ${baseline.toFixed(0)} = ${
        (agentRate / baseline).toFixed(2)
      }`
    ]
  }
  return [
    ...line("agent-download", ["md5", "bare-download-1mib"]),
    ...line("agent-download-stream", ["md5", "bare-download-1mib"]),
    ...line("agent-download", ["write"]),
    ...line("agent-download", ["bare-download-disk"])
  ]
}

const memoryVerdicts = (report: SizeReport): Array<Verdict> =>
  agentPrograms.flatMap((program) => {
    const summary = report.summaries.get(program)
    if (summary === undefined) return []
    return [{
      label: `${formatSize(report.size)} ${program} peak RSS`,
      value: `${summary.peakRss.toFixed(1)} MiB (target < ${targets.maximumPeakRssMiB} MiB)`,
      pass: summary.peakRss < targets.maximumPeakRssMiB
    }]
  })

const spreadVerdicts = (reports: ReadonlyArray<SizeReport>): Array<Verdict> => {
  if (reports.length < 2) return []
  return agentPrograms.flatMap((program) => {
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
        targets.maximumRssSpread * 100
      } %)`,
      pass: Math.abs(ratio - 1) <= targets.maximumRssSpread
    }]
  })
}

const printVerdicts = (title: string, verdicts: ReadonlyArray<Verdict>) => {
  if (verdicts.length === 0) return
  console.log(`\n${title}`)
  const width = Math.max(...verdicts.map((verdict) => verdict.label.length))
  for (const verdict of verdicts) {
    console.log(`  ${verdict.pass ? "PASS" : "FAIL"}  ${pad(verdict.label, width)}  ${verdict.value}`)
  }
}

const printSizeReport = (report: SizeReport, rounds: number) => {
  console.log(`\n=== Fragment of ${formatSize(report.size)} (${report.size} bytes), ${rounds} round(s) ===`)
  const rows = programNames.flatMap((program) => {
    const summary = report.summaries.get(program)
    if (summary === undefined) return []
    return [[
      labels[program],
      summary.throughput.toFixed(1),
      summary.runs.map((run) => run.toFixed(0)).join(" "),
      percent(summary.cpu),
      percent(summary.orchestratorCpu),
      summary.fullCollections.toFixed(0),
      summary.peakRss.toFixed(1),
      summary.rssBefore.toFixed(1)
    ]]
  })
  console.log(
    table([
      "program",
      "MiB/s (median)",
      "MiB/s per round",
      "CPU",
      "orchestrator CPU",
      "full GCs",
      "peak RSS MiB (max)",
      "RSS before MiB"
    ], rows)
  )
  console.log(
    "CPU: the measured process's user + system time over the transfer's wall time (100 % = one core); " +
      "orchestrator CPU: the server process's, over the same time; full GCs: the median count of the measured " +
      "process's mark-compact collections during the transfer."
  )
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const measureSize = async (options: Options, root: string, size: number): Promise<SizeReport> => {
  const file = join(root, fragmentFileName)
  console.error(`Generating ${formatSize(size)} in ${file} ...`)
  generateFile(file, size)
  const orchestrator = await startOrchestrator(file)
  const results = new Map<ProgramName, Array<Run>>()
  let downloads = 0
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const program of options.programs) {
        const folder = join(root, `download-${++downloads}`)
        mkdirSync(folder)
        const nodeArgs = options.cpuProfileFolder === undefined
          ? []
          : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileFolder}`, `--cpu-prof-name=${program}-${formatSize(size).replace(" ", "")}-r${round}.cpuprofile`]
        try {
          // The orchestrator idles between programs, so its CPU time over the
          // whole child's life is (almost all) spent serving the transfer.
          const orchestratorBefore = cpuSecondsOf(orchestrator.pid)
          const measured = await runProgram({ program, file, size, port: orchestrator.port, folder }, nodeArgs)
          const orchestratorAfter = cpuSecondsOf(orchestrator.pid)
          const result: Run = {
            ...measured,
            orchestratorCpuSeconds: orchestratorBefore === undefined || orchestratorAfter === undefined
              ? undefined
              : orchestratorAfter - orchestratorBefore
          }
          results.set(program, [...(results.get(program) ?? []), result])
          console.error(
            `  ${formatSize(size)} round ${round}/${options.rounds} ${pad(program, 22)} ${
              padLeft(throughput(result).toFixed(1), 7)
            } MiB/s  CPU ${percent(result.cpuSeconds / result.seconds)}  orchestrator CPU ${
              percent(result.orchestratorCpuSeconds === undefined ? undefined : result.orchestratorCpuSeconds / result.seconds)
            }  full GCs ${result.fullCollections}  peak RSS ${(result.maxRssKiB / 1024).toFixed(1)} MiB`
          )
        } finally {
          rmSync(folder, { recursive: true, force: true })
        }
      }
    }
  } finally {
    await orchestrator.stop()
    rmSync(file, { force: true })
  }
  return {
    size,
    summaries: new Map([...results].map(([program, runs]) => [program, summarize(runs)] as const))
  }
}

const main = async () => {
  const options = parseOptions()
  const largest = Math.max(...options.sizes)
  checkFreeSpace(tmpdir(), largest)
  if (options.cpuProfileFolder !== undefined) mkdirSync(options.cpuProfileFolder, { recursive: true })
  temporaryRoot = mkdtempSync(join(tmpdir(), "bro-agent-bench-"))
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), ${(totalmem() / GiB).toFixed(1)} GiB RAM, ` +
    `Node ${process.version}, ${process.platform}/${process.arch}`
  console.error(`Machine: ${machine}`)

  const reports: Array<SizeReport> = []
  for (const size of options.sizes) reports.push(await measureSize(options, temporaryRoot, size))

  console.log(`\nbro-agent fragment benchmark: loopback gRPC, 512 KiB chunks`)
  console.log(`Machine: ${machine}`)
  console.log(`Rounds: ${options.rounds} per size, programs interleaved; median throughput, largest peak RSS`)
  for (const report of reports) printSizeReport(report, options.rounds)
  const verdicts = [
    ...reports.flatMap(throughputVerdicts),
    ...reports.flatMap(memoryVerdicts),
    ...spreadVerdicts(reports)
  ]
  printVerdicts("Targets", verdicts)
  const comparisons = reports.flatMap(informationalComparisons)
  if (comparisons.length > 0) {
    console.log("\nFor information (not targets)")
    for (const line of comparisons) console.log(`  ${line}`)
  }
  const failed = verdicts.filter((verdict) => !verdict.pass).length
  console.log(`\n${failed === 0 ? "All targets met." : `${failed} of ${verdicts.length} targets not met.`}`)
}

main().then(cleanUp, (error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  cleanUp()
  process.exit(1)
})
