/**
 * The orchestrator process of the many-agents benchmark: the development
 * orchestrator (`Orchestrator.make`) on a free port of 127.0.0.1, driven by
 * commands on stdin (see `protocol.ts`):
 *
 * - `agents`: how many agents are registered;
 * - `backup <name>` / `restore <name>` / `delete <name>`: runs the action in backup manager
 *   DEFAULT and answers when its record is FINISHED, with the wall-clock
 *   time from `startAction` to then, each stage's time (from the
 *   orchestrator's events), and the backup's status and fragment count;
 * - `stop` (or stdin closing): stops the orchestrator and answers with the
 *   process's peak RSS.
 *
 * Its storage is a temporary folder of its own, removed when it stops: a
 * driver that vanished (its stdin closes) leaves nothing behind.
 *
 * Usage (by the driver): `node agents.js orchestrator [--stage-timeout SECONDS]`
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import type { Scope } from "effect"
import { Console, Duration, Effect, Ref, Schedule, Stream } from "effect"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import type { OrchestratorEvent } from "../../orchestrator/Model.js"
import * as OpenFiles from "../../orchestrator/OpenFiles.js"
import * as Orchestrator from "../../orchestrator/Orchestrator.js"
import { runChild, say, serveCommands } from "./child.js"
import type { MemoryPeaks } from "./protocol.js"
import { peakRssKiB } from "./protocol.js"

const MiB = 1024 * 1024

interface StageClock {
  readonly actionId: string
  readonly stage: string
  readonly started: number
  readonly finished: number
  readonly lastAgent: string
}

/** Times each stage of each action from the orchestrator's events, as they come. */
const stageClocks = (orchestrator: Orchestrator.Orchestrator["Type"]) =>
  Effect.gen(function*() {
    const clocks = yield* Ref.make<ReadonlyArray<StageClock>>([])
    const record = (event: OrchestratorEvent) =>
      Effect.suspend(() => {
        const now = performance.now()
        switch (event._tag) {
          case "StageStarted":
            return Ref.update(clocks, (all) => [
              ...all,
              { actionId: event.actionId, stage: event.stage, started: now, finished: now, lastAgent: "" }
            ])
          case "StageCompleted":
            return Ref.update(clocks, (all) => {
              let index = all.length - 1
              while (index >= 0 && !(all[index]?.actionId === event.actionId && all[index]?.stage === event.stage)) index--
              return all.map((clock, at) => (at === index ? { ...clock, finished: now, lastAgent: event.agentId } : clock))
            })
          default:
            return Effect.void
        }
      })
    yield* orchestrator.events.pipe(Stream.runForEach(record), Effect.forkScoped)
    // Let the subscription start before anything can happen.
    yield* Effect.yieldNow()
    return (actionId: string) =>
      Effect.map(Ref.get(clocks), (all) =>
        all
          .filter((clock) => clock.actionId === actionId)
          .map((clock) => ({ stage: clock.stage, seconds: (clock.finished - clock.started) / 1000, lastAgent: clock.lastAgent })))
  })

const zeroPeaks: MemoryPeaks = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }

/**
 * Samples `process.memoryUsage()` every 50 ms and keeps the largest of each
 * figure since the last reset, to see what the peak RSS is made of.
 */
const memorySampler = Effect.gen(function*() {
  const peaks = yield* Ref.make(zeroPeaks)
  const sample = Effect.suspend(() => {
    const usage = process.memoryUsage()
    const now: MemoryPeaks = {
      rss: usage.rss / MiB,
      heapUsed: usage.heapUsed / MiB,
      external: usage.external / MiB,
      arrayBuffers: usage.arrayBuffers / MiB
    }
    return Ref.update(peaks, (before) => ({
      rss: Math.max(before.rss, now.rss),
      heapUsed: Math.max(before.heapUsed, now.heapUsed),
      external: Math.max(before.external, now.external),
      arrayBuffers: Math.max(before.arrayBuffers, now.arrayBuffers)
    }))
  })
  yield* sample.pipe(Effect.repeat(Schedule.spaced("50 millis")), Effect.forkScoped)
  return {
    reset: Ref.set(peaks, zeroPeaks),
    // One last sample, so a short action has at least its end.
    peaks: Effect.zipRight(sample, Ref.get(peaks))
  }
})

const describeError = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

const serve = (
  stageTimeout: Duration.Duration
): Effect.Effect<void, Orchestrator.OrchestratorStartError | PlatformError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // Acquired first, so removed after the orchestrator has stopped.
    const storage = yield* fs.makeTempDirectoryScoped({ prefix: "bro-agent-bench-agents-" })
    // 1 000 agents are 1 000 sockets, and as many files while they transfer.
    yield* Effect.flatMap(OpenFiles.raiseSoftLimit(), (outcome) => Console.error(OpenFiles.describe(outcome)))
    const orchestrator = yield* Orchestrator.make({ port: 0, storage, stageTimeout })
    const stagesOf = yield* stageClocks(orchestrator)
    const memory = yield* memorySampler

    const runAction = (name: "CREATE_BACKUP" | "RESTORE" | "DELETE_BACKUP", backupName: string) =>
      Effect.gen(function*() {
        yield* memory.reset
        const cpuBefore = process.cpuUsage()
        const started = performance.now()
        const queued = yield* orchestrator.startAction("DEFAULT", name, backupName)
        const finished = yield* orchestrator.awaitAction(queued.id)
        const seconds = (performance.now() - started) / 1000
        const cpu = process.cpuUsage(cpuBefore)
        const backup = yield* Effect.option(orchestrator.backup("DEFAULT", backupName))
        yield* say({
          _tag: "ActionDone",
          name,
          backupName,
          result: finished.result,
          resultInfo: finished.resultInfo ?? "",
          seconds,
          stages: yield* stagesOf(finished.id),
          backupStatus: backup._tag === "Some" ? backup.value.status : "none",
          fragments: backup._tag === "Some" ? backup.value.fragments.length : 0,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
          memory: yield* memory.peaks,
          maxRssKiB: peakRssKiB()
        })
      })

    const answer = (line: string): Effect.Effect<void> => {
      const [command, argument] = line.split(/\s+/, 2)
      switch (command) {
        case "agents":
          return Effect.flatMap(orchestrator.agents, (agents) =>
            say({ _tag: "Agents", registered: agents.length, maxRssKiB: peakRssKiB() }))
        case "backup":
        case "restore":
        case "delete":
          if (argument === undefined) return say({ _tag: "Failed", reason: `${command} needs a backup name` })
          return runAction(
            command === "backup" ? "CREATE_BACKUP" : command === "restore" ? "RESTORE" : "DELETE_BACKUP",
            argument
          ).pipe(
            Effect.catchAll((error) => say({ _tag: "Failed", reason: `${line}: ${describeError(error)}` }))
          )
        default:
          return say({ _tag: "Failed", reason: `unknown command: ${line}` })
      }
    }

    yield* say({ _tag: "Ready", port: orchestrator.port, storage, maxRssKiB: peakRssKiB() })
    yield* serveCommands(answer)
  })

/** Runs the orchestrator process with its command-line arguments. */
export const main = (args: ReadonlyArray<string>): void => {
  const { values } = parseArgs({
    args: [...args],
    options: { "stage-timeout": { type: "string", default: "120" } }
  })
  const seconds = Number(values["stage-timeout"])
  if (!(seconds > 0)) throw new Error("usage: agents.js orchestrator [--stage-timeout SECONDS]")
  runChild(
    Effect.scoped(serve(Duration.seconds(seconds))).pipe(
      // The peak RSS once the orchestrator is stopped: its whole life.
      Effect.zipRight(Effect.suspend(() => say({ _tag: "Stopped", maxRssKiB: peakRssKiB() })))
    )
  )
}
