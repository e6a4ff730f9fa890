/**
 * Seeded randomness for the control-stream fuzz tests: a small PRNG
 * (mulberry32) and a generator of orchestrator messages that are valid on
 * the wire but wrong for the agent's state (stages out of order, actions
 * that are no action, fragment-list entries out of place, cancels anywhere,
 * message types nothing uses). The same seed gives the same messages.
 */
import type { ControlAction } from "../../src/core/Action.js"
import { FragmentInformation } from "../../src/core/Fragment.js"
import type { OrchestratorMessage } from "../../src/core/Message.js"
import { OrchestratorMessage as Messages } from "../../src/core/Message.js"

/** A seeded source of numbers in [0, 1), and helpers on it. */
export interface Random {
  readonly seed: number
  readonly next: () => number
  /** An integer in [0, bound). */
  readonly int: (bound: number) => number
  readonly chance: (probability: number) => boolean
  readonly pick: <A>(choices: ReadonlyArray<A>) => A
  /** Picks by weight: `[[weight, value], ...]`. */
  readonly weighted: <A>(choices: ReadonlyArray<readonly [number, A]>) => A
}

/** mulberry32: 32 bits of state, good enough to shuffle tests, reproducible from its seed. */
export const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const random = (seed: number): Random => {
  const next = mulberry32(seed)
  const int = (bound: number) => Math.floor(next() * bound)
  const pick = <A>(choices: ReadonlyArray<A>): A => {
    const choice = choices[int(choices.length)]
    if (choice === undefined) throw new Error("pick from an empty list")
    return choice
  }
  return {
    seed,
    next,
    int,
    chance: (probability) => next() < probability,
    pick,
    weighted: <A>(choices: ReadonlyArray<readonly [number, A]>): A => {
      const total = choices.reduce((sum, [weight]) => sum + weight, 0)
      let point = next() * total
      for (const [weight, value] of choices) {
        point -= weight
        if (point < 0) return value
      }
      return pick(choices)[1]
    }
  }
}

/**
 * A seed from `BRO_FUZZ_SEED` when set (to replay a failure), else a new one
 * each run; tests print it in their names.
 */
export const seedFromEnvironment = (): number => {
  const given = process.env["BRO_FUZZ_SEED"]
  if (given !== undefined && given.trim() !== "" && Number.isSafeInteger(Number(given))) return Number(given) >>> 0
  // Milliseconds and the process id, mixed so that runs close in time get unrelated seeds.
  return (Math.imul(Date.now() >>> 0, 0x9e3779b1) ^ Math.imul(process.pid, 0x85ebca6b)) >>> 0
}

const softwareVersion = {
  productName: "productABC",
  productNumber: "APR XXX XX",
  revision: "R1A",
  productionDate: "2019-04-17",
  description: "ABC used by XYZ",
  type: "Database",
  commercialVersion: "5.1.0",
  semanticVersion: "5.1.0"
}

const fragment = (fragmentId: string) =>
  FragmentInformation.make({ fragmentId, version: "1.0", sizeInBytes: "12", customInformation: {} })

/** The empty fragment BRO sends in a 4.0 restore preparation to say that entries follow. */
export const placeholder = FragmentInformation.make({ fragmentId: "", version: "", sizeInBytes: "", customInformation: {} })

/** Message types that nothing uses, and stage types sent without their sub-message: both arrive as `Unsupported`. */
export const unsupportedTypes = [
  "REQUEST_DEPENDENCIES",
  "PREPARE_DEPENDENCY_COMPLETE",
  "EXECUTION_DEPENDENCY_COMPLETE",
  "CHECKPOINT_LIST_ENTRY",
  "BACKUP_INFORMATION",
  "METRICS_REQUEST",
  "PREPARATION",
  "EXECUTION",
  "POST_ACTIONS",
  "CANCEL_BACKUP_RESTORE",
  "FRAGMENT_LIST_ENTRY"
] as const

export interface MessageOptions {
  /** The backup names preparations carry. */
  readonly backupNames: ReadonlyArray<string>
}

/** One random orchestrator message. */
export const randomMessage = (random: Random, options: MessageOptions): OrchestratorMessage => {
  const action = random.weighted<ControlAction>([[4, "BACKUP"], [4, "RESTORE"], [1, "REGISTER"], [1, "CANCEL"]])
  const kind = random.weighted([
    [20, "Preparation"],
    [15, "Execution"],
    [15, "PostActions"],
    [12, "Cancel"],
    [15, "FragmentListEntry"],
    [5, "RegisterAcknowledge"],
    [10, "Unsupported"]
  ] as const)
  switch (kind) {
    case "Preparation":
      return Messages.Preparation({
        action,
        backupName: random.pick(options.backupNames),
        backupType: random.pick(["DEFAULT", "alpha"]),
        softwareVersion: random.chance(0.5) ? softwareVersion : undefined,
        fragments: random.pick([[], [placeholder], [fragment("f-1")], [fragment("f-1"), fragment("f-2")]])
      })
    case "Execution":
      return Messages.Execution({ action })
    case "PostActions":
      return Messages.PostActions({ action })
    case "Cancel":
      return Messages.Cancel({ action, message: random.pick(["", "Cancelled by the user"]) })
    case "FragmentListEntry":
      return Messages.FragmentListEntry({
        action,
        fragment: random.pick([fragment("f-1"), fragment("f-2"), placeholder]),
        last: random.chance(0.5)
      })
    case "RegisterAcknowledge":
      return Messages.RegisterAcknowledge({ message: "Registered Agent", features: ["PLAINTEXT", "PREPARE_STAGE"] })
    case "Unsupported":
      return Messages.Unsupported({ action, messageType: random.pick(unsupportedTypes) })
  }
}
