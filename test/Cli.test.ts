import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Duration, Effect, Fiber, Layer, Queue, Ref, Stream } from "effect"
import * as Net from "node:net"
import * as Cli from "../cli/Cli.js"
import { capturingConsole, cli } from "./support/cliHarness.js"
import * as Http from "../orchestrator/Http.js"
import type { ActionRecord, BackupRecord, OrchestratorEvent as Event, RegisteredAgent } from "../orchestrator/Model.js"
import {
  ActionNotFound,
  BackupNotFound,
  backupNameProblem,
  InvalidActionRequest,
  NoActionRunning,
  OrchestratorEvent,
  UnknownBackupManager
} from "../orchestrator/Model.js"
import { Orchestrator, OrchestratorStartError } from "../orchestrator/Orchestrator.js"
import { softwareVersion } from "./support/agentHarness.js"

// The client commands run in-process against a fake orchestrator behind the
// real REST API. An action the fake starts moves one step along a script
// each time it is read, so what the CLI shows depends on its polls, not on
// time.

type Step = Pick<ActionRecord, "state" | "result" | "progressPercentage" | "progressInfo" | "resultInfo">

const success: ReadonlyArray<Step> = [
  { state: "RUNNING", result: "NOT_AVAILABLE", progressPercentage: 0, progressInfo: "Stage PREPARATION", resultInfo: undefined },
  { state: "RUNNING", result: "NOT_AVAILABLE", progressPercentage: 50, progressInfo: "Stage EXECUTION", resultInfo: undefined },
  { state: "RUNNING", result: "NOT_AVAILABLE", progressPercentage: 50, progressInfo: "Stage EXECUTION", resultInfo: undefined },
  { state: "FINISHED", result: "SUCCESS", progressPercentage: 100, progressInfo: undefined, resultInfo: "Backup nightly created" }
]

const failure: ReadonlyArray<Step> = [
  { state: "RUNNING", result: "NOT_AVAILABLE", progressPercentage: 0, progressInfo: "Stage PREPARATION", resultInfo: undefined },
  {
    state: "FINISHED",
    result: "FAILURE",
    progressPercentage: 33,
    progressInfo: "Agent agent-b failed stage EXECUTION: disk full",
    resultInfo: undefined
  }
]

const baseAction: ActionRecord = {
  id: "33333",
  name: "CREATE_BACKUP",
  backupManagerId: "DEFAULT",
  backupName: "nightly",
  state: "RUNNING",
  result: "NOT_AVAILABLE",
  progressPercentage: 0,
  progressInfo: undefined,
  resultInfo: undefined,
  additionalInfo: undefined,
  startTime: "2024-05-01T10:00:00.000Z",
  completionTime: undefined,
  lastUpdateTime: "2024-05-01T10:00:00.000Z"
}

const backups: ReadonlyArray<BackupRecord> = [
  {
    name: "nightly",
    backupManagerId: "DEFAULT",
    status: "COMPLETE",
    creationTime: "2024-05-01T10:00:05.000Z",
    softwareVersions: ["agent-a", "agent-b"].map((agentId) => ({
      agentId,
      apiVersion: "4.0",
      ...softwareVersion,
      commercialVersion: "1.2.3",
      semanticVersion: "1.2.3"
    })),
    fragments: []
  },
  {
    name: "before upgrade",
    backupManagerId: "DEFAULT",
    status: "CORRUPTED",
    creationTime: "2024-05-02T10:00:05.000Z",
    softwareVersions: [],
    fragments: []
  }
]

const registeredAgents: ReadonlyArray<RegisteredAgent> = [
  {
    agentId: "agent-a",
    scope: ["alpha"],
    apiVersion: "4.0",
    softwareVersion: { ...softwareVersion, commercialVersion: "1.2.3", semanticVersion: "1.2.3" },
    features: ["PLAINTEXT", "PREPARE_STAGE"],
    backendType: "BRO"
  },
  {
    agentId: "agent-b",
    scope: [],
    apiVersion: "3.0",
    softwareVersion: { ...softwareVersion, commercialVersion: "1.2.3", semanticVersion: "1.2.3" },
    features: [],
    backendType: "BRO"
  }
]

const agentLines = [
  "ID       API  SCOPE          FEATURES                 SOFTWARE",
  "agent-a  4.0  DEFAULT,alpha  PLAINTEXT,PREPARE_STAGE  productABC APR XXX XX R1A",
  "agent-b  3.0  DEFAULT        -                        productABC APR XXX XX R1A"
]

const makeFake = (options: { readonly script?: ReadonlyArray<Step>; readonly events?: ReadonlyArray<Event> } = {}) =>
  Effect.gen(function*() {
    const script = options.script ?? success
    const started = yield* Ref.make<ActionRecord | undefined>(undefined)
    const reads = yield* Ref.make(0)
    const cancelled = yield* Ref.make(false)
    const manager = (id: string) =>
      id === "DEFAULT"
        ? Effect.succeed({ id, backupType: "DEFAULT", backupDomain: "" })
        : Effect.fail(new UnknownBackupManager({ id }))
    const current = Effect.gen(function*() {
      const action = yield* Ref.get(started)
      if (action === undefined) return undefined
      const read = yield* Ref.getAndUpdate(reads, (count) => count + 1)
      const step = script[Math.min(read, script.length - 1)]
      return { ...action, ...step }
    })
    const orchestrator: Context.Tag.Service<Orchestrator> = {
      port: 3000,
      host: "127.0.0.1",
      storage: "/tmp/fake",
      health: Effect.map(Ref.get(started), (action) => ({
        status: "Healthy" as const,
        availability: action === undefined ? "Available" as const : "Busy" as const,
        ongoingAction: action === undefined ? undefined : { actionId: action.id, backupManagerId: "DEFAULT" },
        registeredAgents: ["agent-a", "agent-b"]
      })),
      agents: Effect.succeed(registeredAgents),
      managers: Effect.succeed([{ id: "DEFAULT", backupType: "DEFAULT", backupDomain: "" }]),
      manager,
      startAction: (managerId, name, backupName) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          const problem = backupNameProblem(backupName)
          if (problem !== undefined) {
            return yield* new InvalidActionRequest({ reason: `Failing for having an invalid backup name: ${problem}` })
          }
          const action = { ...baseAction, name, backupName }
          yield* Ref.set(started, action)
          return action
        }),
      action: (managerId, actionId) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          const action = yield* current
          if (action?.id !== actionId) return yield* new ActionNotFound({ id: actionId })
          return action
        }),
      actions: (managerId) =>
        Effect.as(manager(managerId), [
          { ...baseAction, id: "11111", state: "FINISHED", result: "SUCCESS", progressPercentage: 100 },
          { ...baseAction, id: "22222", name: "RESTORE", startTime: "2024-05-02T10:00:00.000Z" }
        ]),
      awaitAction: (actionId) => Effect.fail(new ActionNotFound({ id: actionId })),
      cancelAction: (actionId) => Effect.gen(function*() {
        const action = yield* Ref.get(started)
        if (action === undefined || (actionId !== undefined && action.id !== actionId)) return yield* new NoActionRunning()
        yield* Ref.set(cancelled, true)
        return { ...action, state: "FINISHED" as const, result: "FAILURE" as const, progressInfo: "Cancelled" }
      }),
      backups: (managerId) => Effect.as(manager(managerId), backups),
      backup: (managerId, backupName) =>
        Effect.flatMap(manager(managerId), () => {
          const found = backups.find((backup) => backup.name === backupName)
          return found === undefined
            ? Effect.fail(new BackupNotFound({ backupManagerId: managerId, backupName }))
            : Effect.succeed(found)
        }),
      fragmentPath: () => Effect.succeed("/tmp/fake/fragment"),
      verifyBackup: () => Effect.dieMessage("no verify in this fake"),
      transfers: () => Effect.succeed([]),
      faults: { add: () => Effect.dieMessage("no faults in this fake"), armed: Effect.succeed([]), clear: () => Effect.succeed(0) },
      events: Stream.fromIterable(options.events ?? [])
    }
    return { orchestrator, reads, cancelled }
  })

/** The fake behind the real REST API on a free port, for the test's scope. */
const setUp = (options?: Parameters<typeof makeFake>[0]) =>
  Effect.gen(function*() {
    const fake = yield* makeFake(options)
    const context = yield* Layer.build(
      Http.layer({ port: 0 }).pipe(Layer.provide(Layer.succeed(Orchestrator, fake.orchestrator)))
    )
    return { ...fake, url: `http://127.0.0.1:${Context.get(context, Http.OrchestratorHttp).port}` }
  })

/** A port on 127.0.0.1 where nothing listens. */
const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("bro-agent backup create/restore/delete", () => {
  it.scopedLive("create waits for the action, shows each change of progress, prints the result and exits 0", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp({ script: success })
      const result = yield* cli(["backup", "create", "nightly", "--url", url])
      expect(result).toEqual({
        code: 0,
        out: [
          "Action 33333 started: CREATE_BACKUP of backup \"nightly\" in backup manager DEFAULT",
          "  0%  Stage PREPARATION",
          " 50%  Stage EXECUTION",
          "100%",
          "Action 33333 (CREATE_BACKUP of backup \"nightly\") finished: SUCCESS",
          "  Backup nightly created"
        ],
        err: []
      })
    }))

  it.scopedLive("an action that ends in FAILURE exits 1 and says which agent failed and why", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp({ script: failure })
      const result = yield* cli(["backup", "restore", "nightly", "--url", url])
      expect(result).toEqual({
        code: 1,
        out: [
          "Action 33333 started: RESTORE of backup \"nightly\" in backup manager DEFAULT",
          "  0%  Stage PREPARATION",
          " 33%  Agent agent-b failed stage EXECUTION: disk full",
          "Action 33333 (RESTORE of backup \"nightly\") finished: FAILURE",
          "  Agent agent-b failed stage EXECUTION: disk full"
        ],
        err: []
      })
    }))

  it.scopedLive("--no-wait prints only the action id and does not follow the action", () =>
    Effect.gen(function*() {
      const { reads, url } = yield* setUp()
      const result = yield* cli(["backup", "delete", "nightly", "--no-wait", "--url", url])
      expect(result).toEqual({ code: 0, out: ["33333"], err: [] })
      expect(yield* Ref.get(reads)).toBe(0)
    }))

  it.scopedLive("a backup name the orchestrator refuses exits 1 with the orchestrator's message", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const result = yield* cli(["backup", "create", "a/b", "--url", url])
      expect(result.code).toBe(1)
      expect(result.out).toEqual([])
      expect(result.err).toEqual([
        "bro-agent: The orchestrator answered 422: Failing for having an invalid backup name: the backup name may hold only letters, digits, white space and _+-=:."
      ])
    }))

  it.scopedLive("an unknown backup manager exits 1 with the orchestrator's message", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const result = yield* cli(["backup", "create", "nightly", "--manager", "nope", "--url", url])
      expect(result).toEqual({
        code: 1,
        out: [],
        err: ["bro-agent: The orchestrator answered 404: Backup manager nope does not exist"]
      })
    }))

  it.scopedLive("an orchestrator that cannot be reached exits 3 and names the URL", () =>
    Effect.gen(function*() {
      const url = `http://127.0.0.1:${yield* freePort}`
      const result = yield* cli(["backup", "create", "nightly", "--url", url])
      expect(result.code).toBe(3)
      expect(result.out).toEqual([])
      // One line, naming the URL and what went wrong, no stack.
      expect(result.err).toHaveLength(1)
      expect(result.err[0]).toMatch(
        new RegExp(`^bro-agent: Cannot reach the orchestrator at ${url.replace(/\./g, "\\.")} \\([^()\\n]+\\)$`)
      )
    }))

  it.scopedLive("the URL comes from BRO_URL when --url is not given", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const result = yield* cli(["backup", "delete", "nightly", "--no-wait"]).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["BRO_URL", url]])))
      )
      expect(result).toEqual({ code: 0, out: ["33333"], err: [] })
    }))
})

describe("bro-agent listing commands", () => {
  it.scopedLive("backup list prints one line per backup with its status, creation time and agents", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      const result = yield* cli(["backup", "list", "--url", url])
      expect(result).toEqual({
        code: 0,
        out: [
          "NAME            STATUS     CREATED                   AGENTS",
          "nightly         COMPLETE   2024-05-01T10:00:05.000Z  agent-a,agent-b",
          "before upgrade  CORRUPTED  2024-05-02T10:00:05.000Z"
        ],
        err: []
      })
    }))

  it.scopedLive("agents prints each registered agent with its API version, scope, features and software, one a line", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      expect(yield* cli(["agents", "--url", url])).toEqual({ code: 0, out: agentLines, err: [] })
    }))

  it.scopedLive("action list prints the id, name, result and start time of each action", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      expect(yield* cli(["action", "list", "--url", url])).toEqual({
        code: 0,
        out: [
          "ID     NAME           RESULT         STARTED",
          "11111  CREATE_BACKUP  SUCCESS        2024-05-01T10:00:00.000Z",
          "22222  RESTORE        NOT_AVAILABLE  2024-05-02T10:00:00.000Z"
        ],
        err: []
      })
    }))

  it.scopedLive("action show prints the fields the action has, with its progress in percent", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp({ script: failure })
      yield* cli(["backup", "create", "nightly", "--no-wait", "--url", url])
      const result = yield* cli(["action", "show", "33333", "--url", url])
      expect(result).toEqual({
        code: 0,
        out: [
          "Action:         33333",
          "Name:           CREATE_BACKUP",
          "Backup:         nightly",
          "State:          RUNNING",
          "Result:         NOT_AVAILABLE",
          "Progress:       0%",
          "Progress info:  Stage PREPARATION",
          "Started:        2024-05-01T10:00:00.000Z",
          "Last update:    2024-05-01T10:00:00.000Z"
        ],
        err: []
      })
    }))

  it.scopedLive("action show of an unknown action exits 1 with the orchestrator's message", () =>
    Effect.gen(function*() {
      const { url } = yield* setUp()
      expect(yield* cli(["action", "show", "99999", "--url", url])).toEqual({
        code: 1,
        out: [],
        err: ["bro-agent: The orchestrator answered 404: Action 99999 does not exist"]
      })
    }))
})

describe("bro-agent action cancel", () => {
  it.scopedLive("without an id cancels the ongoing action that /v1/health shows", () =>
    Effect.gen(function*() {
      const { cancelled, url } = yield* setUp()
      yield* cli(["backup", "create", "nightly", "--no-wait", "--url", url])
      const result = yield* cli(["action", "cancel", "--url", url])
      expect(result).toEqual({
        code: 0,
        out: [
          "Cancelling action 33333 (CREATE_BACKUP of backup \"nightly\")",
          "Action 33333 (CREATE_BACKUP of backup \"nightly\") finished: FAILURE",
          "  Cancelled"
        ],
        err: []
      })
      expect(yield* Ref.get(cancelled)).toBe(true)
    }))

  it.scopedLive("when no action runs exits 1 saying so", () =>
    Effect.gen(function*() {
      const { cancelled, url } = yield* setUp()
      expect(yield* cli(["action", "cancel", "--url", url])).toEqual({
        code: 1,
        out: [],
        err: ["bro-agent: No action is running"]
      })
      expect(yield* Ref.get(cancelled)).toBe(false)
    }))
})

describe("bro-agent usage", () => {
  const usageHint = "Run \"bro-agent --help\", or \"bro-agent COMMAND --help\", for the usage."

  it.scopedLive("--help prints the generated usage with every command, without colours, and exits 0", () =>
    Effect.gen(function*() {
      const result = yield* cli(["--help"])
      expect(result.code).toBe(0)
      const usage = result.out.join("\n")
      for (
        const command of [
          "orchestrator [--host HOST]",
          "backup create [--url URL] [--manager ID] [--timeout SECONDS] [--no-wait] <NAME>",
          "backup restore [--url URL]",
          "backup delete [--url URL]",
          "backup list [--url URL]",
          "agents [--url URL]",
          "action show [--url URL] [--manager ID] [--timeout SECONDS] <ID>",
          "action list [--url URL]",
          "action cancel [--url URL] [--manager ID] [--timeout SECONDS] [<ID>]"
        ]
      ) {
        expect(usage).toContain(`  - ${command}`)
      }
      expect(usage).not.toContain("\u001b")
    }))

  it.scopedLive("COMMAND --help prints the command's options and exits 0", () =>
    Effect.gen(function*() {
      const result = yield* cli(["backup", "create", "--help"])
      expect(result.code).toBe(0)
      const usage = result.out.join("\n")
      expect(usage).toContain("create [--url URL] [--manager ID] [--timeout SECONDS] [--no-wait] <NAME>")
      expect(usage).toMatch(/--url URL\n(.*\n)*\s+The orchestrator's REST API \(default: env BRO_URL/)
      expect(usage).toMatch(/--manager ID\n(.*\n)*\s+The backup manager/)
      expect(usage).toMatch(/--no-wait\n(.*\n)*\s+Print the action id/)
    }))

  it.scopedLive("an unknown command exits 2 naming the commands there are", () =>
    Effect.gen(function*() {
      const result = yield* cli(["frobnicate"])
      expect(result.code).toBe(2)
      expect(result.out).toEqual([])
      expect(result.err[0]).toBe("Invalid subcommand for bro-agent - use one of 'orchestrator', 'agents', 'backup', 'action', 'fault'")
      expect(result.err).toContain(usageHint)
    }))

  it.scopedLive("an unknown option exits 2 naming it", () =>
    Effect.gen(function*() {
      const result = yield* cli(["backup", "list", "--colour"])
      expect(result.code).toBe(2)
      expect(result.err[0]).toBe("Received unknown argument: '--colour'")
      expect(result.err).toContain(usageHint)
    }))

  it.scopedLive("a missing backup name exits 2 saying so", () =>
    Effect.gen(function*() {
      const result = yield* cli(["backup", "restore"])
      expect(result.code).toBe(2)
      expect(result.err[0]).toBe("Missing argument <NAME>")
    }))

  it.scopedLive("no command at all, or a group without its command, exits 2", () =>
    Effect.gen(function*() {
      expect(yield* cli([])).toEqual({ code: 2, out: [], err: ["bro-agent: Missing command: see --help"] })
      expect(yield* cli(["backup"])).toEqual({ code: 2, out: [], err: ["bro-agent: Missing backup command: see --help"] })
    }))

  it.scopedLive("a URL that is not http(s) exits 2, from --url or from BRO_URL, before any request", () =>
    Effect.gen(function*() {
      const result = yield* cli(["agents", "--url", "localhost:7001"])
      expect(result.code).toBe(2)
      expect(result.err[0]).toBe("--url (or BRO_URL) must be an http(s) URL, not \"localhost:7001\"")
      const fromEnvironment = yield* cli(["agents"]).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["BRO_URL", "ftp://host"]])))
      )
      expect(fromEnvironment.code).toBe(2)
      expect(fromEnvironment.err[0]).toBe("--url (or BRO_URL) must be an http(s) URL, not \"ftp://host\"")
    }))

  it.scopedLive("a request timeout that is not a positive number of seconds exits 2", () =>
    Effect.gen(function*() {
      const result = yield* cli(["backup", "list", "--timeout", "-1"])
      expect(result.code).toBe(2)
      expect(result.err[0]).toBe("--timeout must be a positive number of seconds, not -1")
    }))
})

describe("bro-agent orchestrator", () => {
  const events: ReadonlyArray<Event> = [
    OrchestratorEvent.AgentRegistered({ agentId: "agent-a", apiVersion: "4.0", scope: ["alpha"] }),
    OrchestratorEvent.StageCompleted({
      actionId: "33333",
      stage: "EXECUTION",
      agentId: "agent-a",
      success: false,
      message: "disk full"
    })
  ]

  it.scopedLive("serves the REST API over the orchestrator, prints where it listens and logs each event", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake({ events })
      const lines = yield* Queue.unbounded<string>()
      const out: Array<string> = []
      const err: Array<string> = []
      const console = yield* capturingConsole(out, err, lines)
      const running = yield* Cli.run(["orchestrator", "--http-port", "0", "--storage", "/tmp/fake"], {
        orchestratorLayer: () => Layer.succeed(Orchestrator, fake.orchestrator)
      }).pipe(Effect.withConsole(console), Effect.provide(FetchHttpClient.layer), Effect.fork)
      const printed: Array<string> = []
      while (printed.length < 6) printed.push(yield* Queue.take(lines))
      const ready = printed.filter((line) => !/^\d{4}-\d\d-\d\dT/.test(line))
      const logged = printed.filter((line) => /^\d{4}-\d\d-\d\dT/.test(line)).map((line) => line.replace(/^\S+ /, ""))
      expect(ready[0]).toBe("Development orchestrator listening for agents (gRPC) on 127.0.0.1:3000")
      expect(ready[1]).toMatch(/^REST API on http:\/\/127\.0\.0\.1:\d+$/)
      expect(ready[2]).toBe("Storage folder: /tmp/fake")
      expect(ready[3]).toMatch(/^Open files: (raised the soft limit from \d+ to \d+ \(the hard limit\)|soft limit \d+, unchanged: .+)$/)
      expect(logged).toEqual([
        "agent agent-a registered (API version 4.0, scope alpha)",
        "action 33333: stage EXECUTION failed by agent agent-a: disk full"
      ])
      const url = (ready[1] ?? "").replace("REST API on ", "")
      expect(yield* cli(["agents", "--url", url])).toEqual({ code: 0, out: agentLines, err: [] })
      yield* Fiber.interrupt(running)
      expect(err).toEqual([])
    }))

  it.scopedLive("exits 1 with one line when the REST port is taken", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake()
      const { url } = yield* setUp()
      const port = new URL(url).port
      const result = yield* cli(["orchestrator", "--http-port", port], {
        orchestratorLayer: () => Layer.succeed(Orchestrator, fake.orchestrator)
      })
      expect(result.code).toBe(1)
      expect(result.err).toHaveLength(1)
      expect(result.err[0]).toMatch(
        new RegExp(`^bro-agent: The development orchestrator's REST API cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`)
      )
    }))

  it.scopedLive("exits 1 with the orchestrator's own message when it cannot start", () =>
    Effect.gen(function*() {
      const result = yield* cli(["orchestrator", "--http-port", "0"], {
        orchestratorLayer: () =>
          Layer.fail(new OrchestratorStartError({ reason: "cannot use the storage folder /nope: permission denied" }))
      })
      expect(result).toEqual({
        code: 1,
        out: [],
        err: [
          "bro-agent: The development orchestrator could not start: cannot use the storage folder /nope: permission denied"
        ]
      })
    }))

  it.scopedLive("hands the TLS files to the orchestrator", () =>
    Effect.gen(function*() {
      const given: Array<unknown> = []
      const result = yield* cli([
        "orchestrator", "--http-port", "0", "--tls-cert", "server.crt", "--tls-key", "server.key",
        "--tls-ca", "ca.crt", "--require-client-cert"
      ], {
        orchestratorLayer: (options) => {
          given.push(options.tls)
          return Layer.fail(new OrchestratorStartError({ reason: "stop here" }))
        }
      })
      expect(result.code).toBe(1)
      expect(given).toEqual([{
        certificateFile: "server.crt",
        keyFile: "server.key",
        caFile: "ca.crt",
        requireClientCertificate: true
      }])
    }))

  it.scopedLive("a TLS certificate without its key, or a CA without a certificate, exits 2", () =>
    Effect.gen(function*() {
      const noKey = yield* cli(["orchestrator", "--tls-cert", "server.crt"])
      expect(noKey.code).toBe(2)
      expect(noKey.err[0]).toBe("bro-agent: --tls-cert and --tls-key go together")
      const noCertificate = yield* cli(["orchestrator", "--require-client-cert"])
      expect(noCertificate.code).toBe(2)
      expect(noCertificate.err[0]).toBe("bro-agent: --tls-ca and --require-client-cert need --tls-cert and --tls-key")
    }))

  it.scopedLive("hands the keepalive to the orchestrator, in seconds", () =>
    Effect.gen(function*() {
      const given: Array<unknown> = []
      const result = yield* cli(["orchestrator", "--http-port", "0", "--keepalive-interval", "30", "--keepalive-timeout", "2.5"], {
        orchestratorLayer: (options) => {
          given.push(options.keepalive)
          return Layer.fail(new OrchestratorStartError({ reason: "stop here" }))
        }
      })
      expect(result.code).toBe(1)
      expect(given).toEqual([{ interval: Duration.seconds(30), timeout: Duration.millis(2500) }])
    }))

  it.scopedLive("a keepalive that is not a positive number of seconds exits 2", () =>
    Effect.gen(function*() {
      const result = yield* cli(["orchestrator", "--keepalive-timeout", "0"])
      expect(result.code).toBe(2)
      expect(result.err[0]).toBe("--keepalive-timeout must be a positive number of seconds, not 0")
    }))

  it.scopedLive("a port that is not a number exits 2", () =>
    Effect.gen(function*() {
      const result = yield* cli(["orchestrator", "--port", "http"])
      expect(result.code).toBe(2)
      expect(result.err[0]).toBe("'http' is not a integer")
      const outOfRange = yield* cli(["orchestrator", "--port", "70000"])
      expect(outOfRange.code).toBe(2)
      expect(outOfRange.err[0]).toBe("--port must be a port number from 0 to 65535, not 70000")
    }))
})
