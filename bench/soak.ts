/**
 * Soak benchmark (issue 16): the example folder agent
 * (`examples/FolderAgent.ts`, through the public API) backs up and restores
 * a folder against the development orchestrator, cycle after cycle, and its
 * resident memory must not keep growing: its RSS after the last cycle (200
 * by default) within 10 % of its RSS after cycle 20.
 *
 * What runs, each in its own Node process:
 *
 * - the orchestrator (`agents-support/orchestrator.ts`, as in the
 *   many-agents benchmark): `Orchestrator.make` on a free port of
 *   127.0.0.1, storage in a temporary folder of its own;
 * - the agent (`soak-support/agent.ts`): the folder agent on a temporary
 *   folder holding a few files of random bytes, the larger ones over the
 *   size whose checksum runs on a worker thread.
 *
 * Each cycle is a CREATE_BACKUP, a RESTORE of it and a DELETE_BACKUP (so the
 * orchestrator's storage stays the same), each of which must succeed; the
 * driver reads the agent's RSS from /proc after each cycle, when it is idle
 * again. At the end the folder must hold the same bytes as at the start.
 *
 * Run it (it is not part of `npm test`): `npm run bench:soak`, with options
 * after `--`:
 *
 * - `--cycles 200` (default), `--compare-at 20` (default): the cycle whose
 *   RSS the last one is compared with;
 * - `--files 3` (default) and `--file-size 8MiB` (default): the folder's
 *   files (the last one is 1/64 of the size, so that small files pass too);
 * - `--timeout 1500` (default): seconds for the whole run, after which it
 *   stops and fails.
 *
 * The script compiles `bench/` like the others and runs it with plain
 * `node`; the agent's process resolves the example's `bro-agent` import to
 * the compiled library (`support/register-bro-agent.ts`). Every child and
 * temporary folder is removed at the end, on failure, on timeout and on
 * Ctrl-C.
 */
import { FileSystem } from "@effect/platform"
import { Console, Duration, Effect, Schedule } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { startProtocolChild } from "./agents-support/children.js"
import type { ChildMessage } from "./agents-support/protocol.js"
import { BenchFailure, rssKiBOf } from "./support/processes.js"
import type { Verdict } from "./support/report.js"
import { load, machine, printVerdicts, table } from "./support/report.js"
import { formatSize, KiB, parseSize, positiveInteger } from "./support/sizes.js"
import { dispatch, runDriver } from "./support/main.js"

/** How far the RSS after the last cycle may be from the RSS after the compared one. */
const maximumGrowth = 0.1

interface Options {
  readonly cycles: number
  readonly compareAt: number
  readonly files: number
  readonly fileSize: number
  readonly timeout: Duration.Duration
}

const usage = "usage: npm run bench:soak -- [--cycles 200] [--compare-at 20] [--files 3] [--file-size 8MiB] [--timeout 1500]"

const parseOptions = (args: ReadonlyArray<string>): Options => {
  const { values } = parseArgs({
    args: [...args],
    options: {
      "cycles": { type: "string", default: "200" },
      "compare-at": { type: "string", default: "20" },
      "files": { type: "string", default: "3" },
      "file-size": { type: "string", default: "8MiB" },
      "timeout": { type: "string", default: "1500" }
    }
  })
  const cycles = positiveInteger("cycles", values.cycles)
  const compareAt = positiveInteger("compare-at", values["compare-at"])
  if (compareAt >= cycles) throw new Error(`--compare-at: ${compareAt} must come before the last cycle, ${cycles}`)
  return {
    cycles,
    compareAt,
    files: positiveInteger("files", values.files),
    fileSize: parseSize("file-size", values["file-size"]),
    timeout: Duration.seconds(positiveInteger("timeout", values.timeout))
  }
}

const entryScript = fileURLToPath(import.meta.url)
const registerHook = fileURLToPath(new URL("./support/register-bro-agent.js", import.meta.url))

type ActionDone = Extract<ChildMessage, { _tag: "ActionDone" }>

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")

/** The folder's files, name to MD5. */
const folderDigest = (folder: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const names = (yield* fs.readDirectory(folder)).filter((name) => !name.startsWith(".")).sort()
    return yield* Effect.forEach(names, (name) => Effect.map(fs.readFile(join(folder, name)), (bytes) => `${name}:${md5(bytes)}`))
  })

interface Sample {
  readonly cycle: number
  readonly rssMiB: number
  readonly seconds: number
}

const run = (options: Options) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = yield* fs.makeTempDirectoryScoped({ prefix: "bro-agent-soak-" })
    const folder = join(root, "data")
    yield* fs.makeDirectory(folder)
    for (let index = 0; index < options.files; index++) {
      const size = index === options.files - 1 && options.files > 1 ? Math.max(KiB, Math.floor(options.fileSize / 64)) : options.fileSize
      yield* fs.writeFile(join(folder, `file-${index}.bin`), randomBytes(size))
    }
    const original = yield* folderDigest(folder)

    const orchestrator = yield* startProtocolChild("orchestrator", entryScript, ["orchestrator", "--stage-timeout", "120"])
    yield* Effect.addFinalizer(() => Effect.asVoid(orchestrator.stop))
    const ready = yield* orchestrator.expect("Ready", "60 seconds")
    const agent = yield* startProtocolChild("agent", entryScript, ["agent", "--port", String(ready.port), "--folder", folder], [
      "--import",
      registerHook
    ])
    // Finalizers run last-added first: the agent stops before the orchestrator.
    yield* Effect.addFinalizer(() => Effect.asVoid(agent.stop))
    yield* agent.expect("Started", "60 seconds")
    yield* orchestrator.send("agents").pipe(
      Effect.zipRight(orchestrator.expect("Agents", "10 seconds")),
      Effect.repeat(
        Schedule.recurUntil((answer: Extract<ChildMessage, { _tag: "Agents" }>) => answer.registered >= 1).pipe(
          Schedule.addDelay(() => Duration.millis(50)),
          Schedule.intersect(Schedule.recurs(600))
        )
      )
    )
    const rss = () => (rssKiBOf(agent.pid) ?? NaN) / 1024
    const idle = rss()
    yield* Console.error(`agent registered, idle RSS ${idle.toFixed(1)} MiB (load average ${load()})`)

    const action = (command: "backup" | "restore" | "delete", backupName: string) =>
      Effect.gen(function*() {
        yield* orchestrator.send(`${command} ${backupName}`)
        const done: ActionDone = yield* orchestrator.expect("ActionDone", "10 minutes")
        if (done.result !== "SUCCESS") {
          return yield* new BenchFailure({ reason: `${command} ${backupName}: ${done.result} ${done.resultInfo}` })
        }
      })
    const samples: Array<Sample> = []
    const started = performance.now()
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      const backupName = `soak-${cycle}`
      yield* action("backup", backupName)
      yield* action("restore", backupName)
      yield* action("delete", backupName)
      const sample = { cycle, rssMiB: rss(), seconds: (performance.now() - started) / 1000 }
      samples.push(sample)
      if (cycle % 10 === 0 || cycle === 1) {
        yield* Console.error(`  cycle ${cycle}/${options.cycles}: agent RSS ${sample.rssMiB.toFixed(1)} MiB after ${sample.seconds.toFixed(0)} s`)
      }
    }
    const restored = yield* folderDigest(folder)
    if (restored.join() !== original.join()) {
      return yield* new BenchFailure({ reason: `the folder after the last restore differs from the original: ${restored.join(", ")}` })
    }
    return { idle, samples }
  }).pipe(
    Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () => new BenchFailure({ reason: `the soak took longer than ${Duration.format(options.timeout)}` })
    })
  )

const report = (options: Options, idle: number, samples: ReadonlyArray<Sample>): number => {
  const at = (cycle: number) => samples.find((sample) => sample.cycle === cycle)
  const marks = [1, 10, options.compareAt, 50, 100, 150, options.cycles].filter((cycle, index, all) =>
    cycle <= options.cycles && all.indexOf(cycle) === index
  ).sort((a, b) => a - b)
  console.log(`\nbro-agent soak: the folder agent against the development orchestrator`)
  console.log(`Machine: ${machine()}; load average now: ${load()}`)
  console.log(
    `Folder: ${options.files} files (${formatSize(options.fileSize)} each, the last ${
      formatSize(Math.max(KiB, Math.floor(options.fileSize / 64)))
    }); each cycle CREATE_BACKUP, RESTORE, DELETE_BACKUP; agent idle RSS after registration ${idle.toFixed(1)} MiB\n`
  )
  console.log(table(
    ["after cycle", "agent RSS MiB", "seconds"],
    marks.flatMap((cycle) => {
      const sample = at(cycle)
      return sample === undefined ? [] : [[String(cycle), sample.rssMiB.toFixed(1), sample.seconds.toFixed(0)]]
    })
  ))
  const compared = at(options.compareAt)
  const last = at(options.cycles)
  const verdicts: Array<Verdict> = compared === undefined || last === undefined ? [] : [{
    label: `agent RSS after cycle ${options.cycles} / after cycle ${options.compareAt}`,
    value: `${last.rssMiB.toFixed(1)} / ${compared.rssMiB.toFixed(1)} MiB = ${(last.rssMiB / compared.rssMiB).toFixed(3)} (target within ±${
      maximumGrowth * 100
    } %)`,
    pass: Math.abs(last.rssMiB / compared.rssMiB - 1) <= maximumGrowth
  }]
  return printVerdicts("Target (issue 16)", verdicts)
}

const drive = (args: ReadonlyArray<string>) => {
  let options: Options
  try {
    options = parseOptions(args)
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
    process.exit(2)
  }
  const program = Effect.scoped(run(options)).pipe(
    Effect.flatMap(({ idle, samples }) => Effect.sync(() => report(options, idle, samples))),
    Effect.flatMap((failed) => Effect.sync(() => void (process.exitCode = failed === 0 ? 0 : 1))),
    Effect.catchTag("BenchFailure", (failure) =>
      Effect.zipRight(Console.error(`FAIL  ${failure.reason}`), Effect.sync(() => void (process.exitCode = 1))))
  )
  runDriver(program, { disablePrettyLogger: true })
}

await dispatch(
  {
    orchestrator: () => import("./agents-support/orchestrator.js"),
    agent: () => import("./soak-support/agent.js")
  },
  drive
)
