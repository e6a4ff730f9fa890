/**
 * The `bro-agent` command line: start a development orchestrator, or drive
 * one (or, except for `action cancel`, a real BRO) over its REST API.
 *
 * `run(argv)` is the whole program as an Effect that never fails: it prints
 * to the `Console` (results on `log`, problems on `error`, one line each,
 * never a stack trace) and returns the exit code, so tests run it in-process.
 *
 * Exit codes: 0 success; 1 the action ended in FAILURE, the orchestrator
 * refused the request, or it could not start; 2 usage error; 3 the
 * orchestrator cannot be reached.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Config, Console, Data, Duration, Effect, Option } from "effect"
import { parseArgs } from "node:util"
import type { ActionName } from "../orchestrator/Model.js"
import type { ActionJson, ClientError, OrchestratorClient } from "./Client.js"
import * as Client from "./Client.js"
import type { OrchestratorCommandOptions, OrchestratorLayer } from "./OrchestratorCommand.js"

/**
 * @since 0.1.0
 * @category models
 */
export type ExitCode = 0 | 1 | 2 | 3

/**
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = {
  success: 0,
  /** The action ended in FAILURE, the orchestrator refused the request, or it could not start. */
  failure: 1,
  usage: 2,
  unreachable: 3
} as const satisfies Record<string, ExitCode>

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** How often a waiting command asks for the action's progress; 500 ms by default. */
  readonly pollInterval?: Duration.DurationInput
  /** How `bro-agent orchestrator` builds the orchestrator; `Orchestrator.layer` by default. */
  readonly orchestratorLayer?: OrchestratorLayer
}

/**
 * The command line is wrong: the message says how, and the usage follows.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly reason: string
  /** The usage text to show after the reason. */
  readonly usage: string
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * The command ran, and what it asked for did not happen.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

type CliError = UsageError | CommandFailed | ClientError

const program = "bro-agent"
const defaultUrl = "http://127.0.0.1:7001"

// -----------------------------------------------------------------------------
// Commands and their options
// -----------------------------------------------------------------------------

interface OptionSpec {
  readonly type: "string" | "boolean"
  readonly short?: string
  /** What the value is called in the usage (string options). */
  readonly value?: string
  readonly description: string
}

type Values = Readonly<Record<string, string | boolean | undefined>>

interface Input {
  readonly positionals: ReadonlyArray<string>
  readonly values: Values
  readonly usage: string
  readonly options: RunOptions
}

interface Command {
  readonly words: ReadonlyArray<string>
  /** The positional arguments, as shown in the usage. */
  readonly arguments: ReadonlyArray<{ readonly name: string; readonly optional: boolean }>
  readonly summary: string
  readonly description: string
  readonly options: Readonly<Record<string, OptionSpec>>
  readonly execute: (input: Input) => Effect.Effect<ExitCode, CliError, HttpClient.HttpClient>
}

const helpOption: OptionSpec = { type: "boolean", short: "h", description: "Show this help" }

const urlOption: OptionSpec = {
  type: "string",
  value: "URL",
  description: `The orchestrator's REST API (default: env BRO_URL, else ${defaultUrl})`
}

const clientOptions: Readonly<Record<string, OptionSpec>> = {
  url: urlOption,
  manager: { type: "string", value: "ID", description: "The backup manager (default: DEFAULT)" }
}

const waitOptions: Readonly<Record<string, OptionSpec>> = {
  ...clientOptions,
  "no-wait": { type: "boolean", description: "Print the action id and return at once" }
}

const actionCommand = (word: string, action: ActionName, summary: string): Command => ({
  words: ["backup", word],
  arguments: [{ name: "NAME", optional: false }],
  summary,
  description: `${summary}: ask for a ${action} action, then show its progress until it finishes and print its ` +
    `result (exit code 0 on SUCCESS, 1 on FAILURE).`,
  options: waitOptions,
  execute: (input) => runAction(input, action)
})

const commands: ReadonlyArray<Command> = [
  {
    words: ["orchestrator"],
    arguments: [],
    summary: "Start a development orchestrator and log what happens",
    description: "Start the development orchestrator (gRPC for agents, REST v1 for people and scripts), print " +
      "where it listens and where it stores backups, then log one line per event until interrupted.",
    options: {
      host: { type: "string", value: "HOST", description: "Where gRPC and REST listen (default: 127.0.0.1)" },
      port: { type: "string", value: "PORT", description: "The gRPC port (default: 3000; 0 for a free one)" },
      "http-port": {
        type: "string",
        value: "PORT",
        description: "The REST port (default: 7001; 0 for a free one)"
      },
      storage: { type: "string", value: "DIR", description: "The storage folder (default: .bro-dev)" },
      "stage-timeout": {
        type: "string",
        value: "SECONDS",
        description: "Fail an action when an agent does not answer a stage in time (default: 600)"
      },
      "keepalive-interval": {
        type: "string",
        value: "SECONDS",
        description: "Ping each agent's connection after this long without a ping (default: 120)"
      },
      "keepalive-timeout": {
        type: "string",
        value: "SECONDS",
        description: "Close a connection, freeing its agent's id, when a ping goes unanswered this long (default: 10)"
      },
      "tls-cert": { type: "string", value: "FILE", description: "Serve TLS with this certificate (PEM; with --tls-key)" },
      "tls-key": { type: "string", value: "FILE", description: "The certificate's private key (PEM)" },
      "tls-ca": { type: "string", value: "FILE", description: "CA that signs client certificates (mutual TLS)" },
      "require-client-cert": {
        type: "boolean",
        description: "Refuse agents without a client certificate signed by --tls-ca"
      }
    },
    execute: runOrchestrator
  },
  actionCommand("create", "CREATE_BACKUP", "Create a backup"),
  actionCommand("restore", "RESTORE", "Restore a backup"),
  actionCommand("delete", "DELETE_BACKUP", "Delete a backup"),
  {
    words: ["backup", "list"],
    arguments: [],
    summary: "List the backups",
    description: "List the backups of the backup manager: name, status, creation time and agents.",
    options: clientOptions,
    execute: listBackups
  },
  {
    words: ["agents"],
    arguments: [],
    summary: "List the registered agents",
    description: "List the agents registered with the orchestrator, one a line: id, API version, scope, " +
      "features and software version (product, number, revision). Against a real BRO, which does not tell " +
      "these, only the ids.",
    options: { url: urlOption },
    execute: listAgents
  },
  {
    words: ["action", "show"],
    arguments: [{ name: "ID", optional: false }],
    summary: "Show an action",
    description: "Show an action: name, backup, state, result, progress, information and times.",
    options: clientOptions,
    execute: showAction
  },
  {
    words: ["action", "list"],
    arguments: [],
    summary: "List the actions",
    description: "List the actions of the backup manager: id, name, result and start time.",
    options: clientOptions,
    execute: listActions
  },
  {
    words: ["action", "cancel"],
    arguments: [{ name: "ID", optional: true }],
    summary: "Cancel the running action",
    description: "Cancel the running action (ID, or the ongoing one that /v1/health shows). This uses a route " +
      "of the development orchestrator that a real BRO does not have.",
    options: clientOptions,
    execute: cancelAction
  }
]

const groups = ["backup", "action"]

// -----------------------------------------------------------------------------
// Usage
// -----------------------------------------------------------------------------

const synopsis = (command: Command) =>
  [
    program,
    ...command.words,
    ...command.arguments.map((argument) => argument.optional ? `[${argument.name}]` : argument.name)
  ].join(" ")

const table = (rows: ReadonlyArray<readonly [string, string]>, indent = "  ") => {
  const width = Math.max(0, ...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`.trimEnd())
}

const commandList = (selected: ReadonlyArray<Command>) =>
  table(selected.map((command) => [synopsis(command).slice(program.length + 1), command.summary]))

/**
 * The top-level usage.
 *
 * @since 0.1.0
 * @category usage
 */
export const usage: string = [
  `Usage: ${program} COMMAND [OPTIONS]`,
  "",
  "Start a development Backup and Restore Orchestrator, or drive one over its REST API.",
  "",
  "Commands:",
  ...commandList(commands),
  "",
  `Run "${program} COMMAND --help" for the options of a command.`,
  "",
  "Exit codes: 0 success; 1 the action failed or the orchestrator refused; 2 usage error;",
  "3 the orchestrator cannot be reached."
].join("\n")

const groupUsage = (group: string) =>
  [
    `Usage: ${program} ${group} COMMAND [OPTIONS]`,
    "",
    "Commands:",
    ...commandList(commands.filter((command) => command.words[0] === group)),
    "",
    `Run "${program} ${group} COMMAND --help" for the options of a command.`
  ].join("\n")

const wrap = (text: string, width = 78): ReadonlyArray<string> =>
  text.split(" ").reduce<Array<string>>((lines, word) => {
    const last = lines[lines.length - 1]
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`
    else lines.push(word)
    return lines
  }, [])

const commandUsage = (command: Command) => {
  const options = Object.entries({ ...command.options, help: helpOption }).map(([name, option]) =>
    [
      `${option.short === undefined ? "" : `-${option.short}, `}--${name}${option.value === undefined ? "" : ` ${option.value}`}`,
      option.description
    ] as const
  )
  return [
    `Usage: ${synopsis(command)} [OPTIONS]`,
    "",
    ...wrap(command.description),
    "",
    "Options:",
    ...table(options)
  ].join("\n")
}

// -----------------------------------------------------------------------------
// Parsing
// -----------------------------------------------------------------------------

/** Node's parse errors go on with advice about `--`; the first sentence says it. */
const parseProblem = (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error)
  const end = message.indexOf(". ")
  return end === -1 ? message : message.slice(0, end)
}

const parseConfig = (options: Readonly<Record<string, OptionSpec>>) =>
  Object.fromEntries(
    Object.entries(options).map((
      [name, option]
    ) => [name, option.short === undefined ? { type: option.type } : { type: option.type, short: option.short }])
  )

const allOptions: Readonly<Record<string, OptionSpec>> = Object.assign(
  { help: helpOption },
  ...commands.map((command) => command.options)
)

type Parsed =
  | { readonly _tag: "Help"; readonly text: string }
  | { readonly _tag: "Run"; readonly command: Command; readonly positionals: ReadonlyArray<string>; readonly values: Values }

const parse = (argv: ReadonlyArray<string>): Effect.Effect<Parsed, UsageError> =>
  Effect.gen(function*() {
    // First the command's words, reading every option any command knows so
    // that option values are not taken for words.
    const loose = yield* Effect.try({
      try: () => parseArgs({ args: [...argv], options: parseConfig(allOptions), strict: false, allowPositionals: true }),
      catch: (error) => new UsageError({ reason: parseProblem(error), usage })
    })
    const words = loose.positionals
    const help = loose.values["help"] === true
    const first = words[0]
    if (first === undefined) {
      if (help) return { _tag: "Help", text: usage } as const
      // Say which option is unknown rather than that the command is missing.
      yield* Effect.try({
        try: () => parseArgs({ args: [...argv], options: parseConfig({ help: helpOption }), allowPositionals: true }),
        catch: (error) => new UsageError({ reason: parseProblem(error), usage })
      })
      return yield* new UsageError({ reason: "Missing command", usage })
    }
    const group = groups.includes(first) ? first : undefined
    if (group !== undefined && words[1] === undefined) {
      if (help) return { _tag: "Help", text: groupUsage(group) } as const
      return yield* new UsageError({ reason: `Missing ${group} command`, usage: groupUsage(group) })
    }
    const commandWords = group === undefined ? [first] : [first, words[1]]
    const command = commands.find((candidate) =>
      candidate.words.length === commandWords.length &&
      candidate.words.every((word, index) => word === commandWords[index])
    )
    if (command === undefined) {
      return yield* new UsageError({
        reason: `Unknown command "${commandWords.join(" ")}"`,
        usage: group === undefined ? usage : groupUsage(group)
      })
    }
    const commandHelp = commandUsage(command)
    const strict = yield* Effect.try({
      try: () =>
        parseArgs({
          args: [...argv],
          options: parseConfig({ ...command.options, help: helpOption }),
          strict: true,
          allowPositionals: true
        }),
      catch: (error) => new UsageError({ reason: parseProblem(error), usage: commandHelp })
    })
    if (strict.values["help"] === true) return { _tag: "Help", text: commandHelp } as const
    const positionals = strict.positionals.slice(command.words.length)
    const required = command.arguments.filter((argument) => !argument.optional)
    const missing = required[positionals.length]
    if (missing !== undefined) {
      return yield* new UsageError({ reason: `Missing ${missing.name}`, usage: commandHelp })
    }
    const extra = positionals[command.arguments.length]
    if (extra !== undefined) {
      return yield* new UsageError({ reason: `Unexpected argument "${extra}"`, usage: commandHelp })
    }
    return { _tag: "Run", command, positionals, values: strict.values } as const
  })

const stringValue = (values: Values, name: string): string | undefined => {
  const value = values[name]
  return typeof value === "string" ? value : undefined
}

// A positive number of seconds, as a Duration.
const secondsValue = (input: Input, name: string): Effect.Effect<Duration.Duration | undefined, UsageError> => {
  const text = stringValue(input.values, name)
  if (text === undefined) return Effect.succeed(undefined)
  const seconds = Number(text)
  return Number.isFinite(seconds) && seconds > 0
    ? Effect.succeed(Duration.seconds(seconds))
    : Effect.fail(new UsageError({ reason: `--${name} must be a positive number of seconds, not "${text}"`, usage: input.usage }))
}

const portValue = (input: Input, name: string): Effect.Effect<number | undefined, UsageError> => {
  const text = stringValue(input.values, name)
  if (text === undefined) return Effect.succeed(undefined)
  const port = Number(text)
  return /^\d+$/.test(text) && port <= 65535
    ? Effect.succeed(port)
    : Effect.fail(
      new UsageError({ reason: `--${name} must be a port number from 0 to 65535, not "${text}"`, usage: input.usage })
    )
}

// -----------------------------------------------------------------------------
// Client commands
// -----------------------------------------------------------------------------

const baseUrl = (input: Input): Effect.Effect<string, UsageError> =>
  Effect.gen(function*() {
    const fromEnvironment = yield* Config.option(Config.string("BRO_URL")).pipe(
      Effect.orElseSucceed(() => Option.none<string>())
    )
    const url = stringValue(input.values, "url") ??
      Option.getOrUndefined(Option.filter(fromEnvironment, (text) => text.trim().length > 0)) ?? defaultUrl
    const parsed = URL.canParse(url) ? new URL(url) : undefined
    if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      return yield* new UsageError({ reason: `Not an http(s) URL: "${url}"`, usage: input.usage })
    }
    return url
  })

const managerOf = (input: Input) => stringValue(input.values, "manager") ?? "DEFAULT"

const withClient = (
  input: Input,
  f: (client: OrchestratorClient) => Effect.Effect<ExitCode, CliError>
): Effect.Effect<ExitCode, CliError, HttpClient.HttpClient> =>
  Effect.flatMap(baseUrl(input), (url) => Effect.flatMap(Client.make(url), f))

const percent = (action: ActionJson) => `${Math.round(action.progressPercentage * 100)}%`

const describe = (action: ActionJson) =>
  action.payload?.backupName === undefined
    ? action.name
    : `${action.name} of backup "${action.payload.backupName}"`

const present = (text: string | undefined): text is string => text !== undefined && text.length > 0

/** What a finished action says about itself, without repeating a line. */
const resultLines = (action: ActionJson) => {
  const details = [
    action.result === "SUCCESS" ? undefined : action.progressInfo,
    action.resultInfo,
    action.additionalInfo
  ].filter(present)
  return [
    `Action ${action.id} (${describe(action)}) finished: ${action.result}`,
    ...[...new Set(details)].map((line) => `  ${line}`)
  ]
}

const follow = (
  client: OrchestratorClient,
  managerId: string,
  actionId: string,
  interval: Duration.DurationInput
): Effect.Effect<ActionJson, ClientError> =>
  Effect.gen(function*() {
    let shown: string | undefined
    while (true) {
      const action = yield* client.action(managerId, actionId)
      const line = `${percent(action).padStart(4)}${present(action.progressInfo) ? `  ${action.progressInfo}` : ""}`
      if (line !== shown) {
        yield* printLine(line)
        shown = line
      }
      if (action.state === "FINISHED") return action
      yield* Effect.sleep(interval)
    }
  })

function runAction(input: Input, action: ActionName) {
  return withClient(input, (client) =>
    Effect.gen(function*() {
      const managerId = managerOf(input)
      const backupName = input.positionals[0] ?? ""
      const actionId = yield* client.startAction(managerId, action, backupName)
      if (input.values["no-wait"] === true) {
        yield* printLine(actionId)
        return ExitCode.success
      }
      yield* printLine(
        `Action ${actionId} started: ${action} of backup "${backupName}" in backup manager ${managerId}`
      )
      const finished = yield* follow(client, managerId, actionId, input.options.pollInterval ?? Duration.millis(500))
      for (const line of resultLines(finished)) yield* printLine(line)
      return finished.result === "SUCCESS" ? ExitCode.success : ExitCode.failure
    }))
}

function listBackups(input: Input) {
  return withClient(input, (client) =>
    Effect.gen(function*() {
      const managerId = managerOf(input)
      const backups = yield* client.backups(managerId)
      if (backups.length === 0) {
        yield* printLine(`No backups in backup manager ${managerId}`)
        return ExitCode.success
      }
      const rows = backups.map((backup) => [
        backup.name,
        backup.status,
        backup.creationTime ?? "",
        backup.softwareVersions.map((version) => version.agentId).filter(present).join(",")
      ])
      for (const line of columns([["NAME", "STATUS", "CREATED", "AGENTS"], ...rows])) yield* printLine(line)
      return ExitCode.success
    }))
}

function listAgents(input: Input) {
  return withClient(input, (client) =>
    Effect.gen(function*() {
      // A real BRO has no /v1/agents: its health still names the agents.
      const agents = yield* client.agents.pipe(
        Effect.map(Option.some),
        Effect.catchIf(
          (error) => error._tag === "OrchestratorRefused" && error.statusCode === 404,
          () => Effect.succeed(Option.none<ReadonlyArray<Client.AgentJson>>())
        )
      )
      if (Option.isNone(agents)) {
        const health = yield* client.health
        if (health.registeredAgents.length === 0) yield* printLine("No agents are registered")
        for (const agent of health.registeredAgents) yield* printLine(agent)
        return ExitCode.success
      }
      if (agents.value.length === 0) {
        yield* printLine("No agents are registered")
        return ExitCode.success
      }
      const rows = agents.value.map((agent) => [
        agent.agentId,
        agent.apiVersion,
        agent.scope.length === 0 ? "DEFAULT" : ["DEFAULT", ...agent.scope].join(","),
        agent.features.length === 0 ? "-" : agent.features.join(","),
        [agent.softwareVersion.productName, agent.softwareVersion.productNumber, agent.softwareVersion.productRevision]
          .join(" ")
      ])
      for (const line of columns([["ID", "API", "SCOPE", "FEATURES", "SOFTWARE"], ...rows])) yield* printLine(line)
      return ExitCode.success
    }))
}

function showAction(input: Input) {
  return withClient(input, (client) =>
    Effect.gen(function*() {
      const action = yield* client.action(managerOf(input), input.positionals[0] ?? "")
      const rows: ReadonlyArray<readonly [string, string | undefined]> = [
        ["Action", action.id],
        ["Name", action.name],
        ["Backup", action.payload?.backupName],
        ["State", action.state],
        ["Result", action.result],
        ["Progress", percent(action)],
        ["Progress info", action.progressInfo],
        ["Result info", action.resultInfo],
        ["Additional info", action.additionalInfo],
        ["Started", action.startTime],
        ["Completed", action.completionTime],
        ["Last update", action.lastUpdateTime]
      ]
      const shown = rows.filter((row): row is readonly [string, string] => present(row[1]))
      for (const line of table(shown.map(([label, value]) => [`${label}:`, value]), "")) yield* printLine(line)
      return ExitCode.success
    }))
}

function listActions(input: Input) {
  return withClient(input, (client) =>
    Effect.gen(function*() {
      const managerId = managerOf(input)
      const actions = yield* client.actions(managerId)
      if (actions.length === 0) {
        yield* printLine(`No actions in backup manager ${managerId}`)
        return ExitCode.success
      }
      const rows = actions.map((action) => [action.id, action.name, action.result, action.startTime ?? ""])
      for (const line of columns([["ID", "NAME", "RESULT", "STARTED"], ...rows])) yield* printLine(line)
      return ExitCode.success
    }))
}

function cancelAction(input: Input) {
  return withClient(input, (client) =>
    Effect.gen(function*() {
      const given = input.positionals[0]
      let managerId = managerOf(input)
      let actionId = given
      if (actionId === undefined) {
        const ongoing = (yield* client.health).ongoingAction
        if (ongoing?.actionId === undefined) {
          return yield* new CommandFailed({ reason: "No action is running" })
        }
        actionId = ongoing.actionId
        managerId = ongoing.backupManagerId ?? managerId
      }
      const action = yield* client.cancelAction(managerId, actionId)
      yield* printLine(`Cancelled action ${action.id} (${describe(action)}): ${action.state} ${action.result}`)
      return ExitCode.success
    }))
}

const columns = (rows: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> => {
  const widths = rows.reduce<ReadonlyArray<number>>(
    (widest, row) => row.map((cell, index) => Math.max(widest[index] ?? 0, cell.length)),
    []
  )
  return rows.map((row) => row.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join("  ").trimEnd())
}

// -----------------------------------------------------------------------------
// The orchestrator command
// -----------------------------------------------------------------------------

function runOrchestrator(input: Input): Effect.Effect<ExitCode, CliError> {
  return Effect.gen(function*() {
    const host = stringValue(input.values, "host")
    const port = yield* portValue(input, "port")
    const httpPort = yield* portValue(input, "http-port")
    const storage = stringValue(input.values, "storage")
    const stageTimeout = yield* secondsValue(input, "stage-timeout")
    const keepaliveInterval = yield* secondsValue(input, "keepalive-interval")
    const keepaliveTimeout = yield* secondsValue(input, "keepalive-timeout")
    const certificateFile = stringValue(input.values, "tls-cert")
    const keyFile = stringValue(input.values, "tls-key")
    const caFile = stringValue(input.values, "tls-ca")
    const requireClientCertificate = input.values["require-client-cert"] === true
    if ((certificateFile === undefined) !== (keyFile === undefined)) {
      return yield* new UsageError({ reason: "--tls-cert and --tls-key go together", usage: input.usage })
    }
    if (certificateFile === undefined && (caFile !== undefined || requireClientCertificate)) {
      return yield* new UsageError({
        reason: "--tls-ca and --require-client-cert need --tls-cert and --tls-key",
        usage: input.usage
      })
    }
    const options: OrchestratorCommandOptions = {
      orchestrator: {
        ...(certificateFile === undefined || keyFile === undefined
          ? {}
          : {
            tls: {
              certificateFile,
              keyFile,
              ...(caFile === undefined ? {} : { caFile }),
              requireClientCertificate
            }
          }),
        ...(host === undefined ? {} : { host }),
        ...(port === undefined ? {} : { port }),
        ...(storage === undefined ? {} : { storage }),
        ...(stageTimeout === undefined ? {} : { stageTimeout }),
        ...(keepaliveInterval === undefined && keepaliveTimeout === undefined
          ? {}
          : {
            keepalive: {
              ...(keepaliveInterval === undefined ? {} : { interval: keepaliveInterval }),
              ...(keepaliveTimeout === undefined ? {} : { timeout: keepaliveTimeout })
            }
          })
      },
      http: {
        ...(host === undefined ? {} : { host }),
        ...(httpPort === undefined ? {} : { port: httpPort })
      }
    }
    // Loaded here so that the client commands do not load the orchestrator
    // (grpc-js, the protos), which they never use.
    const command = yield* Effect.tryPromise({
      try: () => import("./OrchestratorCommand.js"),
      catch: (error) => new CommandFailed({ reason: `The orchestrator cannot be loaded: ${messageOf(error)}` })
    })
    const makeOrchestrator: OrchestratorLayer = input.options.orchestratorLayer ?? command.defaultOrchestratorLayer
    return yield* command.run(options, makeOrchestrator).pipe(
      Effect.mapError((error) => new CommandFailed({ reason: messageOf(error) }))
    )
  })
}

// -----------------------------------------------------------------------------
// Running
// -----------------------------------------------------------------------------

const printLine = (line: string) => Console.log(line)
const printProblem = (line: string) => Console.error(line)

const exitCodeOf = (error: CliError): ExitCode => {
  switch (error._tag) {
    case "UsageError":
      return ExitCode.usage
    case "OrchestratorApiUnreachable":
      return ExitCode.unreachable
    case "CommandFailed":
    case "OrchestratorRefused":
    case "UnexpectedAnswer":
      return ExitCode.failure
  }
}

/** The first line of an error's message: a problem is reported, never its stack. */
const messageOf = (error: unknown): string => {
  const message = typeof error === "object" && error !== null && "message" in error &&
      typeof error.message === "string" && error.message.length > 0
    ? error.message
    : String(error)
  return message.split("\n")[0] ?? ""
}

/**
 * Runs the command line `argv` (without the node and script paths) and
 * returns its exit code. Never fails: every problem is printed as one line on
 * the console's `error`, usage errors followed by the usage.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<ExitCode, never, HttpClient.HttpClient> =>
  parse(argv).pipe(
    Effect.flatMap((parsed) =>
      parsed._tag === "Help"
        ? Effect.as(printLine(parsed.text), ExitCode.success)
        : parsed.command.execute({
          positionals: parsed.positionals,
          values: parsed.values,
          usage: commandUsage(parsed.command),
          options
        })
    ),
    Effect.catchAll((error) =>
      Effect.gen(function*() {
        yield* printProblem(`${program}: ${error.message}`)
        if (error._tag === "UsageError") {
          yield* printProblem("")
          yield* printProblem(error.usage)
        }
        return exitCodeOf(error)
      })
    ),
    Effect.catchAllDefect((defect) =>
      Effect.as(printProblem(`${program}: unexpected error: ${messageOf(defect)}`), ExitCode.failure)
    )
  )
