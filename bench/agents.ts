/**
 * Many-agents benchmark: one development orchestrator, 1 000 agents, one
 * backup and one restore of the lot.
 *
 * What runs, each in its own Node process:
 *
 * - the orchestrator (`agents-support/orchestrator.ts`): `Orchestrator.make`
 *   on a free port of 127.0.0.1, storage in a temporary folder of its own,
 *   driven by commands on stdin;
 * - a few agent fleets (`agents-support/fleet.ts`), 4 by default, sharing
 *   the agents between them: `bench-agent-000`, `bench-agent-001`, ... Every
 *   agent has its own `GrpcTransport` and, by default, its own TCP
 *   connection. Each backs up one fragment of 1 MiB made from bytes
 *   (different for every agent), and on restore downloads it with
 *   `downloadFragmentStream` and fails the stage unless it is byte for byte
 *   the original.
 *
 * What is measured, and printed:
 *
 * - registration: from spawning the agent processes until the orchestrator
 *   lists every agent as registered (polled every 50 ms; this includes the
 *   processes' start-up);
 * - CREATE_BACKUP, then RESTORE of that backup: wall clock from the
 *   orchestrator's `startAction` to the FINISHED record, timed inside the
 *   orchestrator's process, with each stage's time (from sending the stage
 *   to the last agent's answer, from the orchestrator's events);
 * - the orchestrator's peak RSS (`process.resourceUsage().maxRSS`) at start,
 *   after registration, after each action and at the end, and each agent
 *   process's peak RSS.
 *
 * It checks that both actions complete: the backup is SUCCESS with one
 * stored fragment per agent, the restore is SUCCESS, and (when the agent
 * processes report it) every agent verified its restored bytes. It exits
 * non-zero otherwise.
 *
 * Run it (it is not part of `npm test`): `npm run bench:agents`, with
 * options after `--`:
 *
 * - `--agents 1000` (default, and the most): how many agents;
 * - `--processes 4` (default): how many agent processes share them;
 * - `--size 1MiB` (default): the fragment size (B, KiB, MiB);
 * - `--connections own` (default) or `shared`: one TCP connection per agent,
 *   or one per agent process (grpc-js's default for equal channels);
 * - `--timeout 300` (default): seconds for the whole run, after which it
 *   stops and fails;
 * - `--stage-timeout 120` (default): the orchestrator's stage timeout, in
 *   seconds, so a stuck agent fails the action with its name;
 * - `--cpu-prof DIR`: write a V8 CPU profile of the orchestrator and of each
 *   agent process into DIR (for finding where the time goes; it slows them).
 *
 * The script compiles `bench/` with `bench/tsconfig.json` into `bench/.build/`
 * and runs the result with plain `node`. This one file is also the entry of
 * the child processes (`agents.js orchestrator ...`, `agents.js fleet ...`),
 * so that the compiler finds them through it. Every child and the temporary
 * folder are removed at the end, on failure, on timeout and on Ctrl-C; a
 * child whose driver vanished stops when its stdin closes.
 */
import { FileSystem } from "@effect/platform"
import { Console, Duration, Effect, Either, Ref, Schedule } from "effect"
import { readFileSync } from "node:fs"
import { cpus } from "node:os"
import { performance } from "node:perf_hooks"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import type { ChildMessage } from "./agents-support/protocol.js"
import type { Stopped } from "./agents-support/children.js"
import { startProtocolChild } from "./agents-support/children.js"
import { BenchFailure, cpuSecondsOf } from "./support/processes.js"
import { load, machine } from "./support/report.js"
import { formatSize, MiB, parseSize, positiveInteger } from "./support/sizes.js"
import { dispatch, runDriver } from "./support/main.js"

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  readonly agents: number
  readonly processes: number
  readonly size: number
  readonly connections: "own" | "shared"
  readonly timeout: Duration.Duration
  readonly stageTimeoutSeconds: number
  /** Where the children write V8 CPU profiles, if asked. */
  readonly cpuProfileFolder: string | undefined
}

const usage = "usage: npm run bench:agents -- [--agents 1000] [--processes 4] [--size 1MiB] " +
  "[--connections own|shared] [--timeout 300] [--stage-timeout 120] [--cpu-prof DIR]"

const parseOptions = (args: ReadonlyArray<string>): Options => {
  const { values } = parseArgs({
    args: [...args],
    options: {
      "agents": { type: "string", default: "1000" },
      "processes": { type: "string", default: "4" },
      "size": { type: "string", default: "1MiB" },
      "connections": { type: "string", default: "own" },
      "timeout": { type: "string", default: "300" },
      "stage-timeout": { type: "string", default: "120" },
      "cpu-prof": { type: "string" },
      "help": { type: "boolean", default: false }
    }
  })
  if (values.help) {
    console.log(usage)
    process.exit(0)
  }
  const agents = positiveInteger("agents", values.agents)
  // Agent ids have three digits.
  if (agents > 1000) throw new Error(`--agents: at most 1000, not ${agents}`)
  const processes = Math.min(positiveInteger("processes", values.processes), agents)
  const connections = values.connections
  if (connections !== "own" && connections !== "shared") throw new Error(`--connections: "own" or "shared", not "${connections}"`)
  return {
    agents,
    processes,
    size: parseSize("size", values.size),
    connections,
    timeout: Duration.seconds(positiveInteger("timeout", values.timeout)),
    stageTimeoutSeconds: positiveInteger("stage-timeout", values["stage-timeout"]),
    cpuProfileFolder: values["cpu-prof"] === undefined ? undefined : resolve(values["cpu-prof"])
  }
}

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

const entryScript = fileURLToPath(import.meta.url)

/** Starts `node [nodeArgs] agents.js <args>` in the current scope: see `agents-support/children.ts`. */
const startChild = (name: string, args: ReadonlyArray<string>, nodeArgs: ReadonlyArray<string>) =>
  startProtocolChild(name, entryScript, args, nodeArgs)

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

type ActionDone = Extract<ChildMessage, { _tag: "ActionDone" }>

/** An action as the orchestrator reported it, with the agent processes' CPU time during it. */
interface TimedAction extends ActionDone {
  readonly agentsCpuSeconds: number | undefined
}

interface FleetReport {
  readonly name: string
  readonly agents: number
  readonly stopped: Stopped | undefined
}

/** What was measured so far: the report is printed from it whatever happened. */
interface Results {
  /** What the run was doing (for a timeout's message). */
  readonly step: string
  readonly orchestratorRssMiB: ReadonlyArray<readonly [string, number]>
  readonly fleets: ReadonlyArray<FleetReport>
  readonly agentsStartedSeconds: number | undefined
  readonly registrationSeconds: number | undefined
  readonly registered: number | undefined
  readonly backup: TimedAction | undefined
  readonly restore: TimedAction | undefined
}

const noResults: Results = {
  step: "starting",
  orchestratorRssMiB: [],
  fleets: [],
  agentsStartedSeconds: undefined,
  registrationSeconds: undefined,
  registered: undefined,
  backup: undefined,
  restore: undefined
}

const backupName = "bench-agents-backup"

/** Splits `agents` over `processes` as evenly as possible: [first index, count] each. */
const shares = (agents: number, processes: number): ReadonlyArray<readonly [number, number]> =>
  Array.from({ length: processes }, (_, index) => {
    const first = Math.floor((index * agents) / processes)
    return [first, Math.floor(((index + 1) * agents) / processes) - first] as const
  })

const run = (options: Options, results: Ref.Ref<Results>) =>
  Effect.gen(function*() {
    const note = (change: Partial<Results>) => Ref.update(results, (current) => ({ ...current, ...change }))
    const step = (text: string) => note({ step: text }).pipe(Effect.zipRight(Console.error(`${text} ...`)))
    const orchestratorRss = (label: string, kib: number) =>
      Ref.update(results, (current) => ({
        ...current,
        orchestratorRssMiB: [...current.orchestratorRssMiB, [label, kib / 1024] as const]
      }))

    const fs = yield* FileSystem.FileSystem
    const nodeArgs = (name: string) =>
      options.cpuProfileFolder === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileFolder}`, `--cpu-prof-name=${name}.cpuprofile`]
    if (options.cpuProfileFolder !== undefined) yield* fs.makeDirectory(options.cpuProfileFolder, { recursive: true })

    yield* step("starting the orchestrator")
    const orchestrator = yield* startChild(
      "orchestrator",
      ["orchestrator", "--stage-timeout", String(options.stageTimeoutSeconds)],
      nodeArgs("orchestrator")
    )
    // The orchestrator removes its storage folder when it stops; if it was
    // killed instead, this removes what it left.
    const storage = yield* Ref.make<string | undefined>(undefined)
    // Finalizers run last-added first: the agents stop before the orchestrator.
    yield* Effect.addFinalizer(() =>
      orchestrator.stop.pipe(
        Effect.flatMap((stopped) => (stopped === undefined ? Effect.void : orchestratorRss("at the end", stopped.maxRssKiB))),
        Effect.zipRight(Ref.get(storage)),
        Effect.flatMap((folder) =>
          folder === undefined ? Effect.void : Effect.ignore(fs.remove(folder, { recursive: true, force: true }))
        )
      )
    )
    const ready = yield* orchestrator.expect("Ready", "30 seconds")
    yield* Ref.set(storage, ready.storage)
    yield* orchestratorRss("at start", ready.maxRssKiB)

    yield* step(`starting ${options.agents} agents in ${options.processes} processes`)
    const spawned = performance.now()
    const fleets = yield* Effect.forEach(shares(options.agents, options.processes), ([first, count], index) =>
      Effect.map(
        startChild(`agents-${index}`, [
          "fleet",
          "--port",
          String(ready.port),
          "--first",
          String(first),
          "--count",
          String(count),
          "--size",
          String(options.size),
          "--connections",
          options.connections
        ], nodeArgs(`agents-${index}`)),
        (child) => ({ child, count })
      ))
    yield* Effect.addFinalizer(() =>
      Effect.forEach(fleets, ({ child, count }) =>
        Effect.map(child.stop, (stopped): FleetReport => ({ name: child.name, agents: count, stopped })), {
        concurrency: "unbounded"
      }).pipe(Effect.flatMap((reports) => note({ fleets: reports })))
    )
    yield* Effect.forEach(fleets, ({ child }) => child.expect("Started", "60 seconds"), { concurrency: "unbounded" })
    yield* note({ agentsStartedSeconds: (performance.now() - spawned) / 1000 })

    yield* step("waiting for every agent to register")
    const countAgents = orchestrator.send("agents").pipe(Effect.zipRight(orchestrator.expect("Agents", "10 seconds")))
    const registered = yield* countAgents.pipe(
      Effect.tap((answer) => note({ registered: answer.registered })),
      Effect.repeat(
        Schedule.recurUntil((answer: Extract<ChildMessage, { _tag: "Agents" }>) => answer.registered >= options.agents).pipe(
          Schedule.addDelay(() => Duration.millis(50))
        )
      )
    )
    yield* note({ registrationSeconds: (performance.now() - spawned) / 1000 })
    yield* orchestratorRss("after registration", registered.maxRssKiB)

    const agentsCpu = Effect.sync(() => {
      const each = fleets.map(({ child }) => cpuSecondsOf(child.pid))
      return each.every((value) => value !== undefined) ? each.reduce<number>((sum, value) => sum + (value ?? 0), 0) : undefined
    })
    // The actions have no time limit of their own but the whole run's.
    const action = (command: "backup" | "restore") =>
      Effect.gen(function*() {
        const before = yield* agentsCpu
        yield* orchestrator.send(`${command} ${backupName}`)
        const done = yield* orchestrator.expect("ActionDone", Duration.infinity)
        const after = yield* agentsCpu
        return { ...done, agentsCpuSeconds: before === undefined || after === undefined ? undefined : after - before }
      })

    yield* step("CREATE_BACKUP")
    const backup = yield* action("backup")
    yield* note({ backup })
    yield* orchestratorRss("after the backup", backup.maxRssKiB)
    yield* Console.error(`CREATE_BACKUP: ${backup.result} in ${backup.seconds.toFixed(2)} s`)
    if (backup.result !== "SUCCESS") return

    yield* step("RESTORE")
    const restore = yield* action("restore")
    yield* note({ restore })
    yield* orchestratorRss("after the restore", restore.maxRssKiB)
    yield* Console.error(`RESTORE: ${restore.result} in ${restore.seconds.toFixed(2)} s`)
    yield* step("stopping")
  }).pipe(
    Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () => new BenchFailure({ reason: `the run took longer than ${Duration.format(options.timeout)}` })
    }),
    // The timeout's message says where the run was.
    Effect.catchTag("BenchFailure", (failure) =>
      Effect.flatMap(Ref.get(results), (current) =>
        Effect.fail(new BenchFailure({ reason: `${failure.reason} (while ${current.step})` }))))
  )

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const seconds = (value: number | undefined) => (value === undefined ? "n/a" : `${value.toFixed(2)} s`)

const describeAction = (options: Options, done: TimedAction | undefined, label: string): Array<string> => {
  if (done === undefined) return [`${label}: not run to the end`]
  const total = (options.agents * options.size) / MiB
  const lines = [
    `${label}: ${done.result} in ${seconds(done.seconds)} (${(total / done.seconds).toFixed(1)} MiB/s over ${
      total.toFixed(0)
    } MiB); backup ${done.backupStatus} with ${done.fragments} fragments`,
    `    stages: ${
      done.stages.map((stage) => `${stage.stage} ${seconds(stage.seconds)} (last answer: ${stage.lastAgent || "none"})`)
        .join(", ")
    }`,
    `    CPU: orchestrator ${seconds(done.cpuSeconds)}, agent processes ${seconds(done.agentsCpuSeconds)} (over ${
      seconds(done.seconds)
    } of wall time, ${cpus().length} cores)`,
    `    orchestrator memory, largest during the action (MiB): RSS ${done.memory.rss.toFixed(1)}, heap used ${
      done.memory.heapUsed.toFixed(1)
    }, external ${done.memory.external.toFixed(1)} (array buffers ${done.memory.arrayBuffers.toFixed(1)})`
  ]
  if (done.result !== "SUCCESS") lines.push(`    result: ${shortResult(done.resultInfo)}`)
  return lines
}

interface Verdict {
  readonly pass: boolean
  readonly reasons: ReadonlyArray<string>
}

const judge = (options: Options, results: Results, failure: string | undefined): Verdict => {
  const reasons: Array<string> = []
  if (failure !== undefined) reasons.push(failure)
  const { backup, restore } = results
  if (backup === undefined) reasons.push("the backup did not finish")
  else {
    if (backup.result !== "SUCCESS") reasons.push(`the backup is ${backup.result}`)
    if (backup.backupStatus !== "COMPLETE") reasons.push(`the stored backup is ${backup.backupStatus}`)
    if (backup.fragments !== options.agents) reasons.push(`the backup has ${backup.fragments} fragments, not ${options.agents}`)
  }
  if (restore === undefined) reasons.push("the restore did not finish")
  else if (restore.result !== "SUCCESS") reasons.push(`the restore is ${restore.result}`)
  const verified = results.fleets.map((fleet) => fleet.stopped?.restoresVerified)
  if (restore?.result === "SUCCESS" && verified.length > 0 && verified.every((count) => count !== undefined)) {
    const total = verified.reduce<number>((sum, count) => sum + (count ?? 0), 0)
    if (total !== options.agents) reasons.push(`${total} agents verified their restored bytes, not ${options.agents}`)
  }
  return { pass: reasons.length === 0, reasons }
}

// The machine may be shared: a busy one makes every figure larger.
const loadAtStart = load()

/**
 * The soft limit on open files (Linux). The orchestrator holds one socket per
 * agent (with `--connections own`) and one file per fragment in transfer.
 */
const openFilesLimit = (): string => {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((each) => each.startsWith("Max open files"))
    return line?.split(/\s{2,}/)[1] ?? "unknown"
  } catch {
    return "unknown"
  }
}

/** A failed action's result names every failing agent: keep the first two and count the rest. */
const shortResult = (resultInfo: string): string => {
  const failures = resultInfo.split(/; (?=Agent )/)
  const shown = failures.slice(0, 2).map((failure) => (failure.length > 400 ? `${failure.slice(0, 400)}...` : failure))
  return failures.length > 2 ? `${shown.join("; ")}; and ${failures.length - 2} more agents` : shown.join("; ")
}

const report = (options: Options, results: Results, failure: string | undefined): Verdict => {
  const perProcess = shares(options.agents, options.processes).map(([, count]) => count)
  const fleetRss = results.fleets.map((fleet) =>
    fleet.stopped === undefined ? `${fleet.name} n/a` : `${fleet.name} ${(fleet.stopped.maxRssKiB / 1024).toFixed(1)}`
  )
  const knownFleetRss = results.fleets.flatMap((fleet) => (fleet.stopped === undefined ? [] : [fleet.stopped.maxRssKiB / 1024]))
  const sum = (values: ReadonlyArray<number | undefined>) =>
    values.every((value) => value !== undefined) && values.length > 0
      ? String(values.reduce<number>((total, value) => total + (value ?? 0), 0))
      : "n/a"
  const orchestratorPeak = Math.max(...results.orchestratorRssMiB.map(([, mib]) => mib))
  const lines = [
    "",
    "bro-agent many-agents benchmark: development orchestrator, loopback gRPC",
    `Machine: ${machine()}`,
    `Load average at start: ${loadAtStart}; open files limit: ${openFilesLimit()}`,
    `Agents: ${options.agents} in ${options.processes} processes (${perProcess.join(" + ")}), one ${
      formatSize(options.size)
    } fragment each, ${options.connections === "own" ? "one TCP connection per agent" : "one TCP connection per process"}`,
    "",
    `agents started:   ${seconds(results.agentsStartedSeconds)} after spawning the agent processes`,
    `registration:     ${seconds(results.registrationSeconds)} after spawning the agent processes, ${
      results.registrationSeconds === undefined || results.agentsStartedSeconds === undefined
        ? "n/a"
        : seconds(results.registrationSeconds - results.agentsStartedSeconds)
    } after they started their agents (${results.registered ?? 0} of ${options.agents} registered)`,
    ...describeAction(options, results.backup, "CREATE_BACKUP"),
    ...(results.backup !== undefined && results.backup.result !== "SUCCESS" && results.restore === undefined
      ? ["RESTORE: not run, as the backup failed"]
      : describeAction(options, results.restore, "RESTORE")),
    `orchestrator peak RSS: ${results.orchestratorRssMiB.length === 0 ? "n/a" : `${orchestratorPeak.toFixed(1)} MiB`} (${
      results.orchestratorRssMiB.map(([label, mib]) => `${label} ${mib.toFixed(1)}`).join(", ")
    })`,
    `agent processes peak RSS: ${
      knownFleetRss.length === 0 ? "n/a" : `max ${Math.max(...knownFleetRss).toFixed(1)} MiB`
    } (${fleetRss.join(", ")})`,
    `fragments sent by the agents: ${sum(results.fleets.map((fleet) => fleet.stopped?.backupsSent))}; restores verified by the agents: ${
      sum(results.fleets.map((fleet) => fleet.stopped?.restoresVerified))
    }`
  ]
  const verdict = judge(options, results, failure)
  lines.push(
    "",
    `${verdict.pass ? "PASS" : "FAIL"}  both actions complete${verdict.pass ? "" : `: ${verdict.reasons.join("; ")}`}`
  )
  console.log(lines.join("\n"))
  return verdict
}

// ---------------------------------------------------------------------------
// Entry
// ---------------------------------------------------------------------------

const drive = (args: ReadonlyArray<string>) => {
  let options: Options
  try {
    options = parseOptions(args)
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
    process.exit(2)
  }
  const program = Effect.gen(function*() {
    const results = yield* Ref.make(noResults)
    const outcome = yield* Effect.either(Effect.scoped(run(options, results)))
    const failure = Either.isLeft(outcome)
      ? outcome.left._tag === "BenchFailure" ? outcome.left.reason : `the run failed: ${outcome.left.message}`
      : undefined
    const verdict = report(options, yield* Ref.get(results), failure)
    if (!verdict.pass) process.exitCode = 1
  })
  runDriver(program)
}

await dispatch(
  {
    orchestrator: () => import("./agents-support/orchestrator.js"),
    fleet: () => import("./agents-support/fleet.js")
  },
  drive
)
