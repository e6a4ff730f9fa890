/**
 * What the many-agents benchmark's driver (`bench/agents.ts`) and its child
 * processes say to each other.
 *
 * Each child reads commands on its stdin, one per line, and answers on its
 * stdout with one JSON {@link ChildMessage} per line; its logs go to stderr.
 * A child whose stdin closes stops as if told `stop`, so a driver that
 * dies leaves no child behind.
 *
 * - The orchestrator child takes `agents`, `backup <name>`, `restore <name>`,
 *   `delete <name>` and `stop`, and answers `Agents`, `ActionDone` and `Stopped` (or `Failed`
 *   for a command it could not run). It says `Ready` first, with its port.
 * - An agent-fleet child takes `stop` only. It says `Started` once every
 *   agent of it was started, and `Stopped` at the end.
 *
 * Every answer carries the process's peak RSS so far
 * (`process.resourceUsage().maxRSS`, KiB).
 */
import { Schema } from "effect"

/** Peak RSS of this process so far, KiB. */
export const peakRssKiB = (): number => process.resourceUsage().maxRSS

const PeakRss = { maxRssKiB: Schema.Number }

/** The orchestrator listens on 127.0.0.1:`port`, and stores backups in the temporary folder `storage`. */
export const Ready = Schema.TaggedStruct("Ready", { port: Schema.Number, storage: Schema.String, ...PeakRss })

/** How many agents the orchestrator lists as registered. */
export const Agents = Schema.TaggedStruct("Agents", { registered: Schema.Number, ...PeakRss })

/** How long a stage of an action took: from sending it to the last agent's answer. */
export const StageTime = Schema.Struct({
  stage: Schema.String,
  seconds: Schema.Number,
  /** The agent whose answer came last. */
  lastAgent: Schema.String
})

/**
 * The largest values of `process.memoryUsage()` seen during an action
 * (sampled every 50 ms), MiB: what the RSS is made of.
 */
export const MemoryPeaks = Schema.Struct({
  rss: Schema.Number,
  heapUsed: Schema.Number,
  external: Schema.Number,
  arrayBuffers: Schema.Number
})
export type MemoryPeaks = typeof MemoryPeaks.Type

/** An action's final record, timed from `startAction` to the FINISHED record. */
export const ActionDone = Schema.TaggedStruct("ActionDone", {
  name: Schema.Literal("CREATE_BACKUP", "RESTORE", "DELETE_BACKUP"),
  backupName: Schema.String,
  result: Schema.String,
  resultInfo: Schema.String,
  seconds: Schema.Number,
  stages: Schema.Array(StageTime),
  /** The backup's status and its number of fragments afterwards (as the orchestrator records them). */
  backupStatus: Schema.String,
  fragments: Schema.Number,
  /** CPU seconds (user + system) the orchestrator's process spent during the action. */
  cpuSeconds: Schema.Number,
  memory: MemoryPeaks,
  ...PeakRss
})

/** An agent fleet started all its agents (they register on their own). */
export const Started = Schema.TaggedStruct("Started", { agents: Schema.Number, ...PeakRss })

/** The child stopped; for a fleet, what its agents did. */
export const Stopped = Schema.TaggedStruct("Stopped", {
  ...PeakRss,
  /** Fleets only: fragments sent, and restores whose bytes matched the original. */
  backupsSent: Schema.optional(Schema.Number),
  restoresVerified: Schema.optional(Schema.Number)
})

/** A command could not be run. */
export const Failed = Schema.TaggedStruct("Failed", { reason: Schema.String })

export const ChildMessage = Schema.Union(Ready, Agents, ActionDone, Started, Stopped, Failed)
export type ChildMessage = typeof ChildMessage.Type

/** Reads one stdout line; `undefined` for a line that is not a message (stray output). */
export const decodeLine = (line: string): ChildMessage | undefined => {
  const decoded = Schema.decodeUnknownEither(Schema.parseJson(ChildMessage))(line)
  return decoded._tag === "Right" ? decoded.right : undefined
}

/** Writes one message line on stdout. */
export const encodeLine = (message: ChildMessage): string => `${JSON.stringify(Schema.encodeSync(ChildMessage)(message))}\n`

/** The agent ids of the benchmark: `bench-agent-000`, `bench-agent-001`, ... */
export const agentIdOf = (index: number): string => `bench-agent-${String(index).padStart(3, "0")}`

/** Each agent's one fragment. */
export const fragmentIdOf = (agentId: string): string => `${agentId}-data`
