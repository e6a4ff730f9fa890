/**
 * The `bro-agent` command line, on `@effect/cli`: start a development
 * orchestrator, or drive one (or, except for the routes marked as ours, a
 * real BRO) over its REST API.
 *
 * `run(argv)` is the whole program as an Effect that never fails: it prints
 * to the `Console` (results on `log`, problems on `error`, never a stack
 * trace) and returns the exit code, so tests run it in-process. Every text
 * that comes from the server is printed without terminal control sequences.
 *
 * Exit codes: 0 success; 1 the action ended in FAILURE, the orchestrator
 * refused the request, or it could not start; 2 usage error; 3 the
 * orchestrator cannot be reached (or did not answer in time).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Config, Console, Data, Duration, Effect, Layer, Option, ParseResult, Ref, Schema } from "effect"
import * as Faults from "../orchestrator/Faults.js"
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
  /**
   * Whether the generated help and usage errors may use colours (ANSI
   * sequences); no by default. `bin` turns them on for a terminal.
   */
  readonly color?: boolean
  /**
   * Whether the output is a terminal: a waiting command then shows its
   * transfers as progress bars redrawn in place; plain lines otherwise (the
   * default).
   */
  readonly terminal?: boolean
  /** How often a waiting command asks for the action's progress; 500 ms by default. */
  readonly pollInterval?: Duration.DurationInput
  /** How `bro-agent orchestrator` builds the orchestrator; `Orchestrator.layer` by default. */
  readonly orchestratorLayer?: OrchestratorLayer
}

/**
 * The command line is wrong in a way only the command can tell (the
 * options are each valid, their combination is not).
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly reason: string }> {
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
const version = "0.1.0"
const defaultUrl = "http://127.0.0.1:7001"

// -----------------------------------------------------------------------------
// Server text
// -----------------------------------------------------------------------------

/**
 * `text` with no terminal control sequence left: line breaks and tabs become
 * spaces, every other C0 or C1 control character (ESC, BEL, CSI...) is shown
 * as `\xHH`, so a server's text can neither move the cursor, clear the screen
 * nor set the terminal's title.
 *
 * @since 0.1.0
 * @category formatting
 */
export const printable = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (character) =>
    character === "\n" || character === "\r" || character === "\t"
      ? " "
      : `\\x${character.charCodeAt(0).toString(16).padStart(2, "0")}`)

const printLine = (line: string) => Console.log(printable(line))
const printProblem = (line: string) => Console.error(printable(line))

// -----------------------------------------------------------------------------
// Options, validated by Schemas
// -----------------------------------------------------------------------------

/** A Schema's refinement whose failure reads as one sentence naming the option. */
const rule = <A>(
  base: Schema.Schema<A>,
  holds: (value: A) => boolean,
  problem: (value: unknown) => string
): Schema.Schema<A> => base.pipe(Schema.filter(holds, { message: (issue) => problem(issue.actual) }))

const HttpUrl = rule(Schema.String, (url) => {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  return parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:")
}, (url) => `--url (or BRO_URL) must be an http(s) URL, not "${String(url)}"`)

const Seconds = (option: string) =>
  rule(
    Schema.Number,
    (seconds) => Number.isFinite(seconds) && seconds > 0,
    (seconds) => `--${option} must be a positive number of seconds, not ${String(seconds)}`
  )

const Port = (option: string) =>
  rule(
    Schema.Number,
    (port) => Number.isInteger(port) && port >= 0 && port <= 65535,
    (port) => `--${option} must be a port number from 0 to 65535, not ${String(port)}`
  )

const Id = rule(Schema.String, (id) => id.trim().length > 0, () => "--manager must not be empty")

const url = Options.text("url").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription(`The orchestrator's REST API (default: env BRO_URL, else ${defaultUrl})`),
  Options.withFallbackConfig(Config.nonEmptyString("BRO_URL").pipe(Config.orElse(() => Config.succeed(defaultUrl)))),
  Options.withSchema(HttpUrl)
)

const manager = Options.text("manager").pipe(
  Options.withPseudoName("ID"),
  Options.withDescription("The backup manager (default: DEFAULT)"),
  Options.withSchema(Id),
  Options.withDefault("DEFAULT")
)

const timeout = Options.float("timeout").pipe(
  Options.withPseudoName("SECONDS"),
  Options.withDescription("Give up on a request the orchestrator does not answer in time (default: 30)"),
  Options.withSchema(Seconds("timeout")),
  Options.withDefault(30)
)

const noWait = Options.boolean("no-wait").pipe(Options.withDescription("Print the action id and return at once"))

const client = { url, manager, timeout }

const seconds = (name: string, description: string) =>
  Options.float(name).pipe(
    Options.withPseudoName("SECONDS"),
    Options.withDescription(description),
    Options.withSchema(Seconds(name)),
    Options.optional
  )

const port = (name: string, description: string) =>
  Options.integer(name).pipe(
    Options.withPseudoName("PORT"),
    Options.withDescription(description),
    Options.withSchema(Port(name)),
    Options.optional
  )

const file = (name: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName("FILE"), Options.withDescription(description), Options.optional)

// -----------------------------------------------------------------------------
// Client commands
// -----------------------------------------------------------------------------

interface ClientValues {
  readonly url: string
  readonly manager: string
  readonly timeout: number
}

const withClient = (
  values: ClientValues,
  f: (client: OrchestratorClient) => Effect.Effect<ExitCode, CliError>
): Effect.Effect<ExitCode, CliError, HttpClient.HttpClient> =>
  Effect.flatMap(Client.make(values.url, { requestTimeout: Duration.seconds(values.timeout) }), f)

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

/** A size in bytes, as people read it. */
const bytesText = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}

type TransferJson = NonNullable<ActionJson["transfers"]>[number]

const transferText = (transfer: TransferJson, bar: boolean): string => {
  const fraction = transfer.bytesTotal > 0 ? Math.min(1, transfer.bytesDone / transfer.bytesTotal) : 0
  const width = 20
  const filled = Math.round(fraction * width)
  const meter = bar ? `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ` : ""
  const left = transfer.state === "RUNNING"
    ? transfer.secondsLeft === undefined ? "" : `  ${Math.ceil(transfer.secondsLeft)} s left`
    : `  ${transfer.state === "DONE" ? "done" : "failed"}`
  return `  ${transfer.agentId}/${transfer.fragmentId}  ${transfer.direction}  ${meter}` +
    `${bytesText(transfer.bytesDone)} of ${bytesText(transfer.bytesTotal)} (${Math.round(fraction * 100)}%)  ` +
    `${bytesText(transfer.bytesPerSecond)}/s${left}`
}

/**
 * Asks for the action until it is FINISHED, showing its stage progress and,
 * per agent and fragment, its bytes done, rate and time left: on a terminal
 * as progress bars redrawn in place, otherwise as a plain line whenever a
 * line changed (a transfer's when its bytes moved).
 */
const follow = (
  client: OrchestratorClient,
  managerId: string,
  actionId: string,
  interval: Duration.DurationInput,
  terminal: boolean
): Effect.Effect<ActionJson, ClientError> =>
  Effect.gen(function*() {
    let shown: string | undefined
    const shownTransfers = new Map<string, number>()
    let drawn = 0
    while (true) {
      const action = yield* client.action(managerId, actionId)
      const line = `${percent(action).padStart(4)}${present(action.progressInfo) ? `  ${action.progressInfo}` : ""}`
      const transfers = action.transfers ?? []
      if (terminal) {
        // Our own control sequences redraw the block; the server's text in it is printable.
        const block = [line, ...transfers.map((transfer) => transferText(transfer, true))].map(printable)
        const up = drawn > 0 ? `\u001b[${drawn}A` : ""
        yield* Console.log(up + block.map((text) => `\r\u001b[2K${text}`).join("\n"))
        drawn = block.length
      } else {
        if (line !== shown) {
          yield* printLine(line)
          shown = line
        }
        for (const transfer of transfers) {
          const key = `${transfer.direction} ${transfer.agentId}/${transfer.fragmentId}`
          const progress = transfer.state === "RUNNING" ? transfer.bytesDone : -1
          if (shownTransfers.get(key) === progress) continue
          shownTransfers.set(key, progress)
          yield* printLine(transferText(transfer, false))
        }
      }
      if (action.state === "FINISHED") return action
      yield* Effect.sleep(interval)
    }
  })

const columns = (rows: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> => {
  const widths = rows.reduce<ReadonlyArray<number>>(
    (widest, row) => row.map((cell, index) => Math.max(widest[index] ?? 0, cell.length)),
    []
  )
  return rows.map((row) => row.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join("  ").trimEnd())
}

const table = (rows: ReadonlyArray<readonly [string, string]>) => {
  const width = Math.max(0, ...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `${left.padEnd(width)}  ${right}`.trimEnd())
}

const runAction = (
  values: ClientValues & { readonly name: string; readonly noWait: boolean },
  action: ActionName,
  options: RunOptions
) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      const actionId = yield* client.startAction(values.manager, action, values.name)
      if (values.noWait) {
        yield* printLine(actionId)
        return ExitCode.success
      }
      yield* printLine(
        `Action ${actionId} started: ${action} of backup "${values.name}" in backup manager ${values.manager}`
      )
      const finished = yield* follow(
        client,
        values.manager,
        actionId,
        options.pollInterval ?? Duration.millis(500),
        options.terminal === true
      )
      for (const line of resultLines(finished)) yield* printLine(line)
      return finished.result === "SUCCESS" ? ExitCode.success : ExitCode.failure
    }))

const listBackups = (values: ClientValues) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      const backups = yield* client.backups(values.manager)
      if (backups.length === 0) {
        yield* printLine(`No backups in backup manager ${values.manager}`)
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

const verifyBackup = (values: ClientValues & { readonly name: string }) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      const report = yield* client.verifyBackup(values.manager, values.name)
      for (const fragment of report.fragments) {
        for (const file of fragment.files) {
          yield* printLine(
            `${fragment.ok ? "OK    " : "FAILED"}  ${fragment.agentId}/${fragment.fragmentId}  ${file.name} (${file.size} bytes, MD5 ${file.checksum})` +
              (file.problem === undefined ? "" : `: ${file.problem}`)
          )
        }
      }
      const failed = report.fragments.filter((fragment) => !fragment.ok).length
      yield* printLine(
        report.ok
          ? `Backup "${report.backupName}": ${report.fragments.length} fragment${report.fragments.length === 1 ? "" : "s"} verified, ${report.status}`
          : `Backup "${report.backupName}": ${failed} of ${report.fragments.length} fragment${report.fragments.length === 1 ? "" : "s"} failed, now ${report.status}`
      )
      return report.ok ? ExitCode.success : ExitCode.failure
    }))

const listAgents = (values: ClientValues) =>
  withClient(values, (client) =>
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
          .filter(present)
          .join(" ")
      ])
      for (const line of columns([["ID", "API", "SCOPE", "FEATURES", "SOFTWARE"], ...rows])) yield* printLine(line)
      return ExitCode.success
    }))

const showAction = (values: ClientValues & { readonly id: string }) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      const action = yield* client.action(values.manager, values.id)
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
      for (const line of table(shown.map(([label, value]) => [`${label}:`, value]))) yield* printLine(line)
      const transfers = action.transfers ?? []
      if (transfers.length > 0) yield* printLine("Transfers:")
      for (const transfer of transfers) yield* printLine(transferText(transfer, false))
      return ExitCode.success
    }))

const listActions = (values: ClientValues) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      const actions = yield* client.actions(values.manager)
      if (actions.length === 0) {
        yield* printLine(`No actions in backup manager ${values.manager}`)
        return ExitCode.success
      }
      const rows = actions.map((action) => [action.id, action.name, action.result, action.startTime ?? ""])
      for (const line of columns([["ID", "NAME", "RESULT", "STARTED"], ...rows])) yield* printLine(line)
      return ExitCode.success
    }))

const cancelAction = (values: ClientValues & { readonly id: Option.Option<string> }, options: RunOptions) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      let managerId = values.manager
      let actionId: string
      if (Option.isSome(values.id)) {
        actionId = values.id.value
      } else {
        const ongoing = (yield* client.health).ongoingAction
        if (ongoing?.actionId === undefined) return yield* new CommandFailed({ reason: "No action is running" })
        actionId = ongoing.actionId
        managerId = ongoing.backupManagerId ?? managerId
      }
      const cancelled = yield* client.cancelAction(managerId, actionId)
      yield* printLine(`Cancelling action ${cancelled.id} (${describe(cancelled)})`)
      // The cancel is asked; the action ends once its agents answered the cancel round.
      const finished = cancelled.state === "FINISHED"
        ? cancelled
        : yield* follow(client, managerId, actionId, options.pollInterval ?? Duration.millis(500), options.terminal === true)
      for (const line of resultLines(finished)) yield* printLine(line)
      return ExitCode.success
    }))

// -----------------------------------------------------------------------------
// Faults
// -----------------------------------------------------------------------------

const faultKinds = {
  "abort-upload": Faults.AbortUpload,
  "serve-restore": Faults.ServeRestore,
  "end-stream": Faults.EndControlStream,
  "refuse-registration": Faults.RefuseRegistration,
  "delay-stage": Faults.DelayStage,
  "hold-answer": Faults.HoldAnswer
} as const

type FaultKind = keyof typeof faultKinds

const faultOptions = {
  agent: Options.text("agent").pipe(Options.withPseudoName("ID"), Options.withDescription("The agent the fault is for")),
  fragment: Options.text("fragment").pipe(
    Options.withPseudoName("ID"),
    Options.withDescription("abort-upload, serve-restore: only this fragment (default: the agent's first)"),
    Options.optional
  ),
  atByte: Options.integer("at-byte").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      "abort-upload: abort once N bytes arrived (default: right after the backup file's checksum); " +
        "serve-restore cut/stall: after N bytes (default: 0)"
    ),
    Options.optional
  ),
  mode: Options.choice("mode", ["wrong-checksum", "cut", "stall"]).pipe(
    Options.withDescription("serve-restore: what goes wrong"),
    Options.optional
  ),
  stage: Options.choice("stage", ["PREPARATION", "EXECUTION", "POST_ACTIONS", "CANCEL"]).pipe(
    Options.withDescription("end-stream, delay-stage, hold-answer: the stage"),
    Options.optional
  ),
  status: Options.text("status").pipe(
    Options.withPseudoName("CODE"),
    Options.withDescription("end-stream, refuse-registration: the gRPC status (UNAVAILABLE, ALREADY_EXISTS...)"),
    Options.optional
  ),
  message: Options.text("message").pipe(
    Options.withPseudoName("TEXT"),
    Options.withDescription("abort-upload, end-stream, refuse-registration: the status's details"),
    Options.optional
  ),
  seconds: Options.float("seconds").pipe(
    Options.withPseudoName("SECONDS"),
    Options.withDescription("delay-stage, hold-answer: how long"),
    Options.optional
  )
}

type FaultValues = Command.Command.ParseConfig<typeof faultOptions> & { readonly kind: FaultKind }

/** The fault the options describe, checked by its kind's Schema: an option its kind does not take is an error. */
const faultOf = (values: FaultValues): Effect.Effect<Faults.FaultSpec, UsageError> => {
  const fields = {
    kind: values.kind,
    agentId: values.agent,
    ...defined("fragmentId", values.fragment),
    ...defined("atByte", values.atByte),
    ...defined("mode", values.mode),
    ...defined("stage", values.stage),
    ...defined("status", values.status),
    ...defined("message", values.message),
    ...defined("seconds", values.seconds)
  }
  const schema: Schema.Schema<Faults.FaultSpec, unknown> = faultKinds[values.kind] as Schema.Schema<Faults.FaultSpec, unknown>
  return Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })(fields).pipe(
    Effect.mapError((error) =>
      new UsageError({
        reason: `Fault ${values.kind}: ` + ParseResult.ArrayFormatter.formatErrorSync(error)
          .map((issue) => {
            const field = issue.path.join(".")
            const option = optionNames[field] ?? field
            return issue._tag === "Unexpected"
              ? `${option} does not apply`
              : issue._tag === "Missing"
              ? `${option} is required`
              : `${option}: ${issue.message}`
          })
          .join("; ")
      })
    )
  )
}

const optionNames: Readonly<Record<string, string>> = {
  agentId: "--agent",
  fragmentId: "--fragment",
  atByte: "--at-byte",
  mode: "--mode",
  stage: "--stage",
  status: "--status",
  message: "--message",
  seconds: "--seconds"
}

const describeFault = (armed: Faults.ArmedFault): string => {
  const { kind, agentId, ...rest } = armed.fault
  const details = Object.entries(rest).map(([key, value]) => `${key}=${String(value)}`).join(" ")
  return [armed.id, kind, agentId, details, armed.actionId === undefined ? "" : `(action ${armed.actionId})`]
    .filter((part) => part.length > 0)
    .join("  ")
}

const addFault = (values: ClientValues & FaultValues) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      const armed = yield* client.addFault(yield* faultOf(values))
      yield* printLine(`Fault ${armed.id} armed: ${describeFault(armed)}`)
      return ExitCode.success
    }))

const listFaults = (values: ClientValues) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      const armed = yield* client.faults
      if (armed.length === 0) yield* printLine("No faults are armed")
      for (const fault of armed) yield* printLine(describeFault(fault))
      return ExitCode.success
    }))

const clearFaults = (values: ClientValues & { readonly id: Option.Option<string> }) =>
  withClient(values, (client) =>
    Effect.gen(function*() {
      const cleared = yield* client.clearFaults(Option.getOrUndefined(values.id))
      yield* printLine(`${cleared} fault${cleared === 1 ? "" : "s"} cleared`)
      return ExitCode.success
    }))

// -----------------------------------------------------------------------------
// The orchestrator command
// -----------------------------------------------------------------------------

const orchestratorOptions = {
  host: Options.text("host").pipe(
    Options.withPseudoName("HOST"),
    Options.withDescription("Where gRPC and REST listen (default: 127.0.0.1)"),
    Options.optional
  ),
  port: port("port", "The gRPC port (default: 3000; 0 for a free one)"),
  httpPort: port("http-port", "The REST port (default: 7001; 0 for a free one)"),
  storage: Options.text("storage").pipe(
    Options.withPseudoName("DIR"),
    Options.withDescription("The storage folder (default: .bro-dev)"),
    Options.optional
  ),
  stageTimeout: seconds("stage-timeout", "Fail an action when an agent does not answer a stage in time (default: 600)"),
  keepaliveInterval: seconds("keepalive-interval", "Ping each agent's connection after this long without a ping (default: 120)"),
  keepaliveTimeout: seconds(
    "keepalive-timeout",
    "Close a connection, freeing its agent's id, when a ping goes unanswered this long (default: 10)"
  ),
  tlsCert: file("tls-cert", "Serve TLS with this certificate (PEM; with --tls-key)"),
  tlsKey: file("tls-key", "The certificate's private key (PEM)"),
  tlsCa: file("tls-ca", "CA that signs client certificates (mutual TLS)"),
  requireClientCert: Options.boolean("require-client-cert").pipe(
    Options.withDescription("Refuse agents without a client certificate signed by --tls-ca")
  )
}

type OrchestratorValues = Command.Command.ParseConfig<typeof orchestratorOptions>

const defined = <A, K extends string>(key: K, value: Option.Option<A>): { readonly [P in K]?: A } =>
  (Option.isSome(value) ? { [key]: value.value } : {}) as { readonly [P in K]?: A }

const runOrchestrator = (values: OrchestratorValues, options: RunOptions): Effect.Effect<ExitCode, CliError> =>
  Effect.gen(function*() {
    const certificateFile = Option.getOrUndefined(values.tlsCert)
    const keyFile = Option.getOrUndefined(values.tlsKey)
    if ((certificateFile === undefined) !== (keyFile === undefined)) {
      return yield* new UsageError({ reason: "--tls-cert and --tls-key go together" })
    }
    if (certificateFile === undefined && (Option.isSome(values.tlsCa) || values.requireClientCert)) {
      return yield* new UsageError({ reason: "--tls-ca and --require-client-cert need --tls-cert and --tls-key" })
    }
    const keepalive = {
      ...defined("interval", Option.map(values.keepaliveInterval, Duration.seconds)),
      ...defined("timeout", Option.map(values.keepaliveTimeout, Duration.seconds))
    }
    const commandOptions: OrchestratorCommandOptions = {
      orchestrator: {
        ...(certificateFile === undefined || keyFile === undefined
          ? {}
          : {
            tls: {
              certificateFile,
              keyFile,
              ...defined("caFile", values.tlsCa),
              requireClientCertificate: values.requireClientCert
            }
          }),
        ...defined("host", values.host),
        ...defined("port", values.port),
        ...defined("storage", values.storage),
        ...defined("stageTimeout", Option.map(values.stageTimeout, Duration.seconds)),
        ...(Object.keys(keepalive).length === 0 ? {} : { keepalive })
      },
      http: { ...defined("host", values.host), ...defined("port", values.httpPort) }
    }
    // Loaded here so that the client commands do not load the orchestrator
    // (grpc-js, the protos), which they never use.
    const command = yield* Effect.tryPromise({
      try: () => import("./OrchestratorCommand.js"),
      catch: (error) => new CommandFailed({ reason: `The orchestrator cannot be loaded: ${messageOf(error)}` })
    })
    const makeOrchestrator: OrchestratorLayer = options.orchestratorLayer ?? command.defaultOrchestratorLayer
    return yield* command.run(commandOptions, makeOrchestrator).pipe(
      Effect.mapError((error) => new CommandFailed({ reason: messageOf(error) }))
    )
  })

// -----------------------------------------------------------------------------
// The command tree
// -----------------------------------------------------------------------------

type Handler<A> = (values: A) => Effect.Effect<ExitCode, CliError, HttpClient.HttpClient>

/** The commands, each handing its exit code to `settle`. */
const commandTree = (options: RunOptions, settle: (code: ExitCode) => Effect.Effect<void>) => {
  const handled = <A>(handler: Handler<A>) => (values: A) => Effect.flatMap(handler(values), settle)
  const missing = (what: string) => () => new UsageError({ reason: `Missing ${what}: see --help` })

  const actionCommand = (word: "create" | "restore" | "delete", action: ActionName, summary: string) =>
    Command.make(
      word,
      { ...client, noWait, name: Args.text({ name: "NAME" }).pipe(Args.withDescription("The backup's name")) },
      handled((values) => runAction(values, action, options))
    ).pipe(
      Command.withDescription(
        `${summary}: ask for a ${action} action, then show its progress until it finishes and print its result ` +
          "(exit code 0 on SUCCESS, 1 on FAILURE)."
      )
    )

  const backup = Command.make("backup", {}, missing("backup command")).pipe(
    Command.withDescription("Create, restore, delete and list backups"),
    Command.withSubcommands([
      actionCommand("create", "CREATE_BACKUP", "Create a backup"),
      actionCommand("restore", "RESTORE", "Restore a backup"),
      actionCommand("delete", "DELETE_BACKUP", "Delete a backup"),
      Command.make("list", client, handled(listBackups)).pipe(
        Command.withDescription("List the backups of the backup manager: name, status, creation time and agents.")
      ),
      Command.make("verify", { ...client, name: Args.text({ name: "NAME" }) }, handled(verifyBackup)).pipe(
        Command.withDescription(
          "Read every stored file of the backup back and check its MD5, fragment by fragment; a failure marks " +
            "the backup CORRUPTED (exit code 0 when every fragment checks out, 1 otherwise). A route of the " +
            "development orchestrator that a real BRO does not have."
        )
      )
    ])
  )

  const action = Command.make("action", {}, missing("action command")).pipe(
    Command.withDescription("Show, list and cancel actions"),
    Command.withSubcommands([
      Command.make("show", { ...client, id: Args.text({ name: "ID" }) }, handled(showAction)).pipe(
        Command.withDescription("Show an action: name, backup, state, result, progress, information and times.")
      ),
      Command.make("list", client, handled(listActions)).pipe(
        Command.withDescription("List the actions of the backup manager: id, name, result and start time.")
      ),
      Command.make(
        "cancel",
        { ...client, id: Args.text({ name: "ID" }).pipe(Args.optional) },
        handled((values) => cancelAction(values, options))
      ).pipe(
        Command.withDescription(
          "Cancel the running action (ID, or the ongoing one that /v1/health shows), wait until it ended and " +
            "print how. This uses a route of the development orchestrator that a real BRO does not have."
        )
      )
    ])
  )

  const agents = Command.make("agents", client, handled(listAgents)).pipe(
    Command.withDescription(
      "List the agents registered with the orchestrator, one a line: id, API version, scope, features and " +
        "software version. Against a real BRO, which does not tell these, only the ids."
    )
  )

  const orchestrator = Command.make(
    "orchestrator",
    orchestratorOptions,
    handled((values) => runOrchestrator(values, options))
  ).pipe(
    Command.withDescription(
      "Start the development orchestrator (gRPC for agents, REST v1 for people and scripts), print where it " +
        "listens and where it stores backups, then log one line per event until interrupted."
    )
  )

  const fault = Command.make("fault", {}, missing("fault command")).pipe(
    Command.withDescription("Faults on demand (the development orchestrator's): arm, list and clear them"),
    Command.withSubcommands([
      Command.make(
        "add",
        {
          ...client,
          ...faultOptions,
          kind: Args.choice(Object.keys(faultKinds).map((kind) => [kind, kind as FaultKind] as const), { name: "KIND" })
        },
        handled(addFault)
      ).pipe(
        Command.withDescription(
          "Arm a fault for one agent: abort-upload, serve-restore, end-stream, refuse-registration, delay-stage or " +
            "hold-answer. It fires once, in the running or next action (refuse-registration: at the agent's next " +
            "registration), and is cleared when that action ends."
        )
      ),
      Command.make("list", client, handled(listFaults)).pipe(Command.withDescription("List the faults armed.")),
      Command.make("clear", { ...client, id: Args.text({ name: "ID" }).pipe(Args.optional) }, handled(clearFaults)).pipe(
        Command.withDescription("Clear one fault (ID) or all.")
      )
    ])
  )

  return Command.make(program, {}, missing("command")).pipe(
    Command.withDescription("Start a development Backup and Restore Orchestrator, or drive one over its REST API."),
    Command.withSubcommands([orchestrator, agents, backup, action, fault])
  )
}

// -----------------------------------------------------------------------------
// Running
// -----------------------------------------------------------------------------

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

/** A console whose lines lose @effect/cli's colours: for output that is not a terminal. */
const withoutColours = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.console, (console) => {
    const plain = (args: ReadonlyArray<unknown>) => args.map((arg) => typeof arg === "string" ? arg.replace(/\u001b\[[0-9;]*m/g, "") : arg)
    return Effect.withConsole(effect, {
      ...console,
      log: (...args: ReadonlyArray<unknown>) => console.log(...plain(args)),
      error: (...args: ReadonlyArray<unknown>) => console.error(...plain(args))
    })
  })

/** What @effect/cli needs besides the console: its file system, paths and terminal (never prompted here). */
const cliEnvironment = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  NodeTerminal.layer,
  CliConfig.layer({ showBuiltIns: false })
)

/**
 * Runs the command line `argv` (without the node and script paths) and
 * returns its exit code. Never fails: a usage error prints what is wrong and
 * exits 2 (`--help` shows each command's generated help), every other
 * problem is one line on the console's `error`.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<ExitCode, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const code = yield* Ref.make<ExitCode>(ExitCode.success)
    const cli = Command.run(commandTree(options, (exit) => Ref.set(code, exit)), { name: program, version })
    return yield* cli(["node", program, ...argv]).pipe(
      Effect.zipRight(Ref.get(code)),
      Effect.catchAll((error) =>
        ValidationError.isValidationError(error)
          // @effect/cli printed what is wrong.
          ? Effect.as(printProblem(`Run "${program} --help", or "${program} COMMAND --help", for the usage.`), ExitCode.usage)
          : Effect.as(printProblem(`${program}: ${error.message}`), exitCodeOf(error))
      ),
      Effect.provide(cliEnvironment),
      options.color === true ? (effect) => effect : withoutColours
    )
  }).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.as(printProblem(`${program}: unexpected error: ${messageOf(defect)}`), ExitCode.failure)
    )
  )
