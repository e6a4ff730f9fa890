/**
 * An agent-fleet process of the many-agents benchmark: starts `count`
 * agents, `bench-agent-<first>` onwards, each with its own `GrpcTransport`
 * (its own grpc-js channel) to the orchestrator on 127.0.0.1:`port`, and
 * keeps them running until `stop` (or stdin closing); see `protocol.ts`.
 *
 * Each agent, as a service team would write it with the public API:
 *
 * - backup execution: sends one fragment, `<agentId>-data`, from bytes
 *   (`Fragments.fromBytes`): `size` bytes of an AES-CTR key stream with the
 *   agent id written over it every 64 KiB, so every agent's content differs
 *   and can be made again;
 * - restore execution: checks that its fragment list is exactly that
 *   fragment, downloads it with `downloadFragmentStream`, and fails the stage
 *   unless the bytes are the original ones (size and MD5). The library has
 *   already checked the orchestrator's checksum by then; this checks that
 *   the orchestrator gave back this agent's own content.
 *
 * Grpc-js shares one connection between channels with the same target and
 * options. With `--connections own` (the default) each agent's channel gets a
 * maximum inbound message size a few bytes apart, so each agent has its own
 * TCP connection, as agents in separate pods would; `shared` keeps the
 * default options, so the fleet's agents share one connection.
 *
 * Usage (by the driver): `node agents.js fleet --port P --first I --count N
 * [--size BYTES] [--connections own|shared]`
 */
import { NodeFileSystem } from "@effect/platform-node"
import type { Scope } from "effect"
import { Effect, Layer, Ref, Stream } from "effect"
import { createCipheriv, createHash } from "node:crypto"
import { parseArgs } from "node:util"
import { Agent, AgentBehavior, GrpcTransport } from "../../src/index.js"
import { Fragments } from "../../src/index.js"
import { runChild, say, serveCommands } from "./child.js"
import { agentIdOf, fragmentIdOf, peakRssKiB } from "./protocol.js"

interface FleetOptions {
  readonly port: number
  readonly first: number
  readonly count: number
  readonly size: number
  readonly ownConnections: boolean
}

const softwareVersion = {
  productName: "bench-service",
  productNumber: "APR 000 01",
  revision: "R1A",
  productionDate: "2026-01-01",
  description: "many-agents benchmark",
  type: "Benchmark",
  commercialVersion: "1.0.0",
  semanticVersion: "1.0.0"
}

// `size` bytes of an AES-CTR key stream, made once per process: a key stream
// per agent cost the fleet 3 s of CPU per 250 agents on each action, on the
// cores the orchestrator shares.
let base: Buffer | undefined
const baseOf = (size: number): Buffer => {
  if (base === undefined || base.length !== size) {
    const key = createHash("sha256").update("bench-agents").digest()
    base = createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(size))
  }
  return base
}

/**
 * The agent's fragment content: `size` bytes, different for every agent, the
 * same each time: the process's key stream with the agent id written over
 * it every 64 KiB.
 */
const contentOf = (agentId: string, size: number): Buffer => {
  const content = Buffer.from(baseOf(size))
  for (let offset = 0; offset < size; offset += 64 * 1024) content.write(agentId, offset, "latin1")
  return content
}

const md5Of = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("hex")

interface Counters {
  readonly backupsSent: Ref.Ref<number>
  readonly restoresVerified: Ref.Ref<number>
}

const behaviorOf = (agentId: string, size: number, counters: Counters) => {
  const fragmentId = fragmentIdOf(agentId)
  return AgentBehavior.make({
    registration: { agentId, softwareVersion },
    executeBackup: (context) =>
      context.sendFragment({
        fragmentId,
        version: "1.0",
        backupFile: Fragments.fromBytes(`${agentId}.bin`, contentOf(agentId, size))
      }).pipe(Effect.zipRight(Ref.update(counters.backupsSent, (n) => n + 1))),
    executeRestore: (context) =>
      Effect.gen(function*() {
        const [fragment, ...others] = context.fragments
        if (fragment === undefined || others.length > 0 || fragment.fragmentId !== fragmentId) {
          const ids = context.fragments.map((each) => each.fragmentId).join(", ")
          return yield* new AgentBehavior.StageFailure({ message: `${agentId} expected [${fragmentId}], got [${ids}]` })
        }
        const hash = createHash("md5")
        let received = 0
        yield* context.downloadFragmentStream(fragment).pipe(
          Stream.runForEach((bytes) =>
            Effect.sync(() => {
              hash.update(bytes)
              received += bytes.length
            })
          )
        )
        const expected = md5Of(contentOf(agentId, size))
        const actual = hash.digest("hex")
        if (received !== size || actual !== expected) {
          return yield* new AgentBehavior.StageFailure({
            message: `${agentId} restored ${received} bytes with MD5 ${actual}, expected ${size} bytes with MD5 ${expected}`
          })
        }
        yield* Ref.update(counters.restoresVerified, (n) => n + 1)
      })
  })
}

const startAgent = (options: FleetOptions, index: number, counters: Counters) =>
  Effect.gen(function*() {
    const agentId = agentIdOf(index)
    const transport = yield* Layer.build(
      Layer.merge(
        GrpcTransport.layer({
          host: "127.0.0.1",
          port: options.port,
          ...(options.ownConnections
            ? { maxInboundMessageSize: GrpcTransport.defaultMaxInboundMessageSize + index }
            : {})
        }),
        NodeFileSystem.layer
      )
    )
    yield* Agent.start(behaviorOf(agentId, options.size, counters)).pipe(Effect.provide(transport))
  })

const runFleet = (options: FleetOptions, counters: Counters): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    for (let index = options.first; index < options.first + options.count; index++) {
      yield* startAgent(options, index, counters)
    }
    yield* say({ _tag: "Started", agents: options.count, maxRssKiB: peakRssKiB() })
    // A fleet takes no command but `stop`.
    yield* serveCommands((command) => Effect.logWarning(`unknown command: ${command}`))
  })

/** Runs a fleet process with its command-line arguments. */
export const main = (args: ReadonlyArray<string>): void => {
  const { values } = parseArgs({
    args: [...args],
    options: {
      "port": { type: "string" },
      "first": { type: "string" },
      "count": { type: "string" },
      "size": { type: "string", default: String(1024 * 1024) },
      "connections": { type: "string", default: "own" }
    }
  })
  const options: FleetOptions = {
    port: Number(values.port),
    first: Number(values.first),
    count: Number(values.count),
    size: Number(values.size),
    ownConnections: values.connections === "own"
  }
  const valid = [options.port, options.first, options.count, options.size].every(Number.isInteger) &&
    options.count > 0 && options.size > 0 && ["own", "shared"].includes(values.connections)
  if (!valid) {
    throw new Error("usage: agents.js fleet --port P --first I --count N [--size BYTES] [--connections own|shared]")
  }
  runChild(
    Effect.gen(function*() {
      const counters: Counters = { backupsSent: yield* Ref.make(0), restoresVerified: yield* Ref.make(0) }
      // The agents stop (their streams close) before the fleet reports.
      yield* Effect.scoped(runFleet(options, counters))
      yield* say({
        _tag: "Stopped",
        maxRssKiB: peakRssKiB(),
        backupsSent: yield* Ref.get(counters.backupsSent),
        restoresVerified: yield* Ref.get(counters.restoresVerified)
      })
    })
  )
}
