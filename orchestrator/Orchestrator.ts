/**
 * The development orchestrator: a wire-compatible Backup and Restore
 * Orchestrator for tests and for people, started in-process as a scoped
 * Layer or from the command line. It runs real backups and restores against
 * any agent that speaks the protocol (ours, or the reference agents), stores
 * them in a folder, and offers the subset of BRO's REST v1 API that test
 * scripts use (see `Http.ts`).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type { Scope } from "effect"
import { Context, Duration, Effect, Layer, Stream } from "effect"
import { join, resolve } from "node:path"
import * as AgentRegistry from "./AgentRegistry.js"
import * as BackupRecords from "./BackupRecords.js"
import type { BackupVerificationJson } from "./Api.js"
import * as Events from "./Events.js"
import * as Faults from "./Faults.js"
import * as FlowControl from "./FlowControl.js"
import * as ControlHandler from "./grpc/ControlHandler.js"
import * as DownloadHandler from "./grpc/DownloadHandler.js"
import * as Keepalive from "./grpc/Keepalive.js"
import * as Server from "./grpc/Server.js"
import * as UploadHandler from "./grpc/UploadHandler.js"
import * as JobRunner from "./JobRunner.js"
import type {
  ActionName,
  ActionRecord,
  BackupManager,
  BackupRecord,
  Health,
  InvalidActionRequest,
  NoActionRunning,
  OrchestratorEvent,
  RegisteredAgent
} from "./Model.js"
import { ActionNotFound, BackupNotFound, OrchestratorStartError, UnknownBackupManager } from "./Model.js"
import * as Storage from "./Storage.js"
import * as Transfers from "./Transfers.js"

export {
  /**
   * The orchestrator could not start: bad options, a port in use, a storage
   * folder it cannot use.
   *
   * @since 0.1.0
   * @category errors
   */
  OrchestratorStartError
} from "./Model.js"

/**
 * How the orchestrator serves TLS. Files are PEM (a Kubernetes secret mounts
 * them as `tls.crt`, `tls.key` and `ca.crt`). They are checked for changes
 * while the orchestrator runs: a change applies to the connections that come
 * after it; connections already open keep what they were opened with.
 *
 * @since 0.1.0
 * @category models
 */
export type OrchestratorTlsOptions = Server.TlsOptions

/**
 * How the orchestrator finds connections that went silent: it pings each
 * connection every `interval` (120 s by default) and closes it when a ping
 * goes unanswered for `timeout` (10 s by default). Closing an agent's
 * connection ends its control stream and frees its id, so a peer that
 * vanished is dropped within about 130 s by default, as by BRO.
 *
 * @since 0.1.0
 * @category models
 */
export type OrchestratorKeepaliveOptions = Keepalive.KeepaliveOptions

/**
 * @since 0.1.0
 * @category models
 */
export interface OrchestratorOptions {
  /** Where gRPC listens; `127.0.0.1` by default. */
  readonly host?: string
  /** The gRPC port; 3000 (BRO's) by default, 0 for a free one. */
  readonly port?: number
  /** The storage folder; `.bro-dev` under the working directory by default. */
  readonly storage?: string
  /**
   * How long a stage may wait for an agent's answer before the action fails
   * naming the agent and the stage (10 minutes by default). A real BRO has no
   * such limit and would wait for ever.
   */
  readonly stageTimeout?: Duration.DurationInput
  /** Bytes per content chunk of a restore stream; 512 KiB by default. */
  readonly chunkSize?: number
  /** Serve gRPC over TLS (and mutual TLS); plaintext when absent. */
  readonly tls?: OrchestratorTlsOptions
  /** See {@link OrchestratorKeepaliveOptions}; every field has a default. */
  readonly keepalive?: OrchestratorKeepaliveOptions
  /**
   * Faults armed at start (`Faults.ts`): each fires once, for the agent (and
   * fragment) it names, in the first action (or registration) it matches.
   */
  readonly faults?: ReadonlyArray<Faults.FaultSpec>
}

/**
 * The running orchestrator.
 *
 * @since 0.1.0
 * @category tags
 */
export class Orchestrator extends Context.Tag("bro-agent/DevOrchestrator")<
  Orchestrator,
  {
    /** The gRPC port it listens on (the real one when 0 was asked). */
    readonly port: number
    readonly host: string
    /** The storage folder, absolute. */
    readonly storage: string
    readonly health: Effect.Effect<Health>
    readonly agents: Effect.Effect<ReadonlyArray<RegisteredAgent>>
    /** DEFAULT, and one per scope element of the registered agents and stored backups. */
    readonly managers: Effect.Effect<ReadonlyArray<BackupManager>>
    readonly manager: (id: string) => Effect.Effect<BackupManager, UnknownBackupManager>
    /**
     * Queues an action and returns its record at once; actions run one at a
     * time in the order they were asked for.
     */
    readonly startAction: (
      backupManagerId: string,
      name: ActionName,
      backupName: string
    ) => Effect.Effect<ActionRecord, UnknownBackupManager | InvalidActionRequest>
    /**
     * One action's record. Every action's id is its own for the
     * orchestrator's life; the records of the latest 1 000 finished actions
     * are kept (`jobs/ActionRecords.ts`), and those of every queued or
     * running one: an older one is `ActionNotFound`.
     */
    readonly action: (
      backupManagerId: string,
      actionId: string
    ) => Effect.Effect<ActionRecord, UnknownBackupManager | ActionNotFound>
    /** The records kept of the manager's actions, in the order asked for. */
    readonly actions: (backupManagerId: string) => Effect.Effect<ReadonlyArray<ActionRecord>, UnknownBackupManager>
    /**
     * The action's data calls with their bytes done, rate and time left (the
     * latest 100 actions' are kept; an older one's, or an unknown one's, are none).
     */
    readonly transfers: (actionId: string) => Effect.Effect<ReadonlyArray<Transfers.TransferJson>>
    /** Waits until the action is FINISHED and returns its final record. */
    readonly awaitAction: (actionId: string) => Effect.Effect<ActionRecord, ActionNotFound>
    /**
     * Cancels the running action (only if it is `actionId`, when given): the
     * agents in it are told to cancel, and it ends with FAILURE.
     */
    readonly cancelAction: (actionId?: string) => Effect.Effect<ActionRecord, NoActionRunning>
    readonly backups: (backupManagerId: string) => Effect.Effect<ReadonlyArray<BackupRecord>, UnknownBackupManager>
    readonly backup: (
      backupManagerId: string,
      backupName: string
    ) => Effect.Effect<BackupRecord, UnknownBackupManager | BackupNotFound>
    /**
     * Reads every stored file of the backup back and checks its MD5, fragment
     * by fragment; a file that fails marks the backup CORRUPTED (on disk and
     * in the API). Not an action: it runs beside whatever runs.
     */
    readonly verifyBackup: (
      backupManagerId: string,
      backupName: string
    ) => Effect.Effect<BackupVerificationJson, UnknownBackupManager | BackupNotFound>
    /** Where a stored fragment's backup file lies on disk (for tests that look at what was stored). */
    readonly fragmentPath: (
      backupManagerId: string,
      backupName: string,
      agentId: string,
      fragmentId: string
    ) => Effect.Effect<string, UnknownBackupManager | BackupNotFound>
    /** What happens, from the moment of subscription. */
    readonly events: Stream.Stream<OrchestratorEvent>
    /** Faults on demand (`Faults.ts`): arm one, list those armed, clear one or all. */
    readonly faults: {
      readonly add: (fault: Faults.FaultSpec) => Effect.Effect<Faults.ArmedFault>
      readonly armed: Effect.Effect<ReadonlyArray<Faults.ArmedFault>>
      readonly clear: (id?: string) => Effect.Effect<number>
    }
  }
>() {}

/**
 * The storage folder used when none is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultStorage = (): string => join(process.cwd(), ".bro-dev")

// The orchestrator's API on its services: the registry's agents, the job
// runner's actions, the stored backups, the events.
const fromServices = (where: { readonly host: string; readonly port: number; readonly storage: string }) =>
  Effect.gen(function*() {
    const registry = yield* AgentRegistry.AgentRegistry
    const runner = yield* JobRunner.JobRunner
    const backups = yield* BackupRecords.BackupRecords
    const events = yield* Events.OrchestratorEvents
    const store = yield* Effect.serviceOption(Storage.BackupStore)
    const faults = yield* Faults.Faults
    const transfers = yield* Transfers.Transfers

    // DEFAULT, each manager a scope names, each agent's virtual managers, and
    // the manager of each stored backup; a virtual one's type is its parent.
    const managers = Effect.gen(function*() {
      const agents = (yield* registry.agents).map((agent) => agent.info)
      const types = new Map<string, string>([["DEFAULT", "DEFAULT"]])
      for (const agent of agents) for (const id of agent.scope) types.set(id, id)
      for (const agent of agents) {
        for (const virtual of AgentRegistry.virtualManagersOf(agent)) {
          if (!types.has(virtual.id)) types.set(virtual.id, virtual.backupType)
        }
      }
      for (const backup of yield* backups.all) {
        if (types.has(backup.backupManagerId)) continue
        const recorded = backup.softwareVersions.map((version) => ({
          agentId: version.agentId,
          scope: agents.find((agent) => agent.agentId === version.agentId)?.scope ?? []
        }))
        types.set(backup.backupManagerId, AgentRegistry.managerMeaning(backup.backupManagerId, recorded).backupType)
      }
      return [...types.keys()].sort().map((id): BackupManager => ({ id, backupType: types.get(id) ?? id, backupDomain: "" }))
    })
    const manager = (id: string) =>
      Effect.flatMap(managers, (all) => {
        const found = all.find((each) => each.id === id)
        return found === undefined ? Effect.fail(new UnknownBackupManager({ id })) : Effect.succeed(found)
      })
    const backup = (managerId: string, backupName: string) =>
      Effect.gen(function*() {
        yield* manager(managerId)
        const found = yield* backups.find(managerId, backupName)
        if (found === undefined) return yield* new BackupNotFound({ backupManagerId: managerId, backupName })
        return found
      })

    const api: Orchestrator["Type"] = {
      ...where,
      health: Effect.gen(function*() {
        const ongoing = yield* runner.ongoing
        return {
          status: "Healthy" as const,
          availability: ongoing === undefined ? ("Available" as const) : ("Busy" as const),
          ongoingAction: ongoing === undefined
            ? undefined
            : { actionId: ongoing.id, backupManagerId: ongoing.backupManagerId },
          registeredAgents: (yield* registry.agents).map((agent) => agent.info.agentId)
        }
      }),
      agents: Effect.map(registry.agents, (agents) => agents.map((agent) => agent.info)),
      managers,
      manager,
      startAction: (managerId, name, backupName) => Effect.zipRight(manager(managerId), runner.start(managerId, name, backupName)),
      action: (managerId, actionId) =>
        Effect.gen(function*() {
          yield* manager(managerId)
          const record = yield* runner.action(actionId)
          if (record.backupManagerId !== managerId) return yield* new ActionNotFound({ id: actionId })
          return record
        }),
      actions: (managerId) =>
        Effect.zipRight(
          manager(managerId),
          Effect.map(runner.actions, (all) => all.filter((record) => record.backupManagerId === managerId))
        ),
      transfers: transfers.of,
      awaitAction: runner.awaitAction,
      cancelAction: runner.cancel,
      backups: (managerId) =>
        Effect.zipRight(
          manager(managerId),
          Effect.map(backups.all, (all) => all.filter((each) => each.backupManagerId === managerId))
        ),
      backup,
      verifyBackup: (managerId, backupName) =>
        Effect.gen(function*() {
          const found = yield* backup(managerId, backupName)
          const fragments = yield* Effect.forEach(found.fragments, (fragment) =>
            Effect.gen(function*() {
              const stored = [
                ["BACKUP_FILE", fragment.backupFile] as const,
                ...(fragment.customMetadataFile === undefined
                  ? []
                  : [["CUSTOM_METADATA_FILE", fragment.customMetadataFile] as const])
              ]
              const files = yield* Effect.forEach(stored, ([kind, file]) =>
                Effect.gen(function*() {
                  const problem = store._tag === "None"
                    ? "nothing is stored by an orchestrator in memory"
                    : yield* store.value.readStoredFile(managerId, backupName, fragment, kind, 1024 * 1024).pipe(
                      Stream.runDrain,
                      Effect.as(undefined),
                      Effect.catchAll((error) =>
                        Effect.succeed(error._tag === "StoredFileUnreadable" ? error.reason : `cannot be read: ${error.message}`)
                      )
                    )
                  return {
                    file: kind,
                    name: file.name,
                    size: file.size,
                    checksum: file.checksum,
                    ...(problem === undefined ? {} : { problem })
                  }
                }))
              return {
                agentId: fragment.agentId,
                fragmentId: fragment.fragmentId,
                ok: files.every((file) => file.problem === undefined),
                files
              }
            }))
          const ok = fragments.every((fragment) => fragment.ok)
          if (!ok && store._tag === "None") {
            yield* backups.markCorrupted(managerId, backupName, "verify found a fragment that cannot be read back")
          }
          const after = yield* backup(managerId, backupName)
          return { backupManagerId: managerId, backupName, ok, status: after.status, fragments }
        }),
      fragmentPath: (managerId, backupName, agentId, fragmentId) =>
        Effect.gen(function*() {
          const found = yield* backup(managerId, backupName)
          const fragment = found.fragments.find((f) => f.agentId === agentId && f.fragmentId === fragmentId)
          if (fragment === undefined || store._tag === "None") {
            return yield* new BackupNotFound({ backupManagerId: managerId, backupName })
          }
          return store.value.filePath(managerId, backupName, fragment, "BACKUP_FILE")
        }),
      events: events.subscribe,
      faults: { add: faults.add, armed: faults.armed, clear: faults.clear }
    }
    return api
  })

// The services of one orchestrator, wired: built afresh by each `make`.
const services = (options: {
  readonly host: string
  readonly port: number
  readonly storage: string
  readonly stageTimeout: Duration.Duration
  readonly chunkSize: number
  readonly tls: OrchestratorTlsOptions | undefined
  readonly keepalive: Keepalive.Keepalive
  readonly faults: ReadonlyArray<Faults.FaultSpec>
}) => {
  const core = JobRunner.layer({ stageTimeout: options.stageTimeout }).pipe(
    Layer.provideMerge(Faults.layer(options.faults)),
    Layer.provideMerge(Transfers.layer),
    Layer.provideMerge(AgentRegistry.layer),
    Layer.provideMerge(BackupRecords.layer),
    Layer.provideMerge(
      Storage.layer(options.storage).pipe(
        Layer.mapError((error) =>
          new OrchestratorStartError({
            reason: `cannot use the storage folder ${options.storage}: ${error.message}`,
            cause: error
          })
        )
      )
    ),
    Layer.provideMerge(Events.layer)
  )
  const handlers = Layer.mergeAll(
    ControlHandler.layer,
    UploadHandler.layer,
    DownloadHandler.layer({ chunkSize: options.chunkSize })
  ).pipe(Layer.provide(FlowControl.layer()))
  const server = Server.layer({
    host: options.host,
    port: options.port,
    tls: options.tls,
    keepalive: options.keepalive
  }).pipe(Layer.provide(handlers))
  return Layer.effect(
    Orchestrator,
    Effect.flatMap(Server.GrpcServer, (bound) => fromServices({ host: bound.host, port: bound.port, storage: options.storage }))
  ).pipe(Layer.provide(server), Layer.provide(core))
}

/**
 * Starts the orchestrator in the current scope: loads the stored backups
 * (marking those left INCOMPLETE as CORRUPTED), then serves gRPC. Closing the
 * scope stops it and ends every agent's stream. Each orchestrator has
 * services of its own (agents, actions, flow-control budgets), also when
 * several run in one process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: OrchestratorOptions = {}
): Effect.Effect<Orchestrator["Type"], OrchestratorStartError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const port = options.port ?? 3000
    const chunkSize = options.chunkSize ?? 512 * 1024
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* new OrchestratorStartError({ reason: `port must be an integer from 0 to 65535, not ${port}` })
    }
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 4 * 1024 * 1024 - 64 * 1024) {
      return yield* new OrchestratorStartError({ reason: `chunkSize must be from 1 byte to 4032 KiB, not ${chunkSize}` })
    }
    const stageTimeout = Duration.decodeUnknown(options.stageTimeout ?? "10 minutes")
    if (stageTimeout._tag === "None") {
      return yield* new OrchestratorStartError({ reason: "stageTimeout must be a duration" })
    }
    const keepalive = Keepalive.decode(options.keepalive)
    if (keepalive._tag === "Left") return yield* new OrchestratorStartError({ reason: keepalive.left })
    const storage = resolve(options.storage ?? defaultStorage())
    const context = yield* Layer.build(
      services({
        host,
        port,
        storage,
        stageTimeout: stageTimeout.value,
        chunkSize,
        tls: options.tls,
        keepalive: keepalive.right,
        faults: options.faults ?? []
      })
    )
    return Context.get(context, Orchestrator)
  })

/**
 * The orchestrator as a Layer (with Node's file system).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: OrchestratorOptions = {}): Layer.Layer<Orchestrator, OrchestratorStartError> =>
  Layer.scoped(Orchestrator, make(options)).pipe(Layer.provide(NodeFileSystem.layer))

/**
 * @since 0.1.0
 * @category models
 */
export interface OrchestratorTestOptions {
  /** The agents registered, in this order (DEFAULT and their scopes are the backup managers). */
  readonly agents?: ReadonlyArray<RegisteredAgent>
  /** The backups stored at start. */
  readonly backups?: ReadonlyArray<BackupRecord>
}

/**
 * A development orchestrator in memory, for tests that need one but no
 * network and no files: no gRPC server (`port` 0, `host` "in-memory"), no
 * storage folder (`storage` "(in memory)"). Its actions run through the real
 * job runner, one at a time, with BRO's rules; the agents given are
 * registered for ever and answer every stage, and every cancel, with success
 * at once, and send no fragment. So a CREATE_BACKUP of a manager with agents
 * succeeds and records a COMPLETE backup with their software versions and no
 * fragments; a RESTORE of a COMPLETE backup whose agents are given succeeds;
 * a DELETE_BACKUP removes the record; anything else fails as it would with
 * the real one. `fragmentPath` always fails with `BackupNotFound`: nothing is
 * stored. Events are published as by the real one. Every build is fresh.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (options: OrchestratorTestOptions = {}): Layer.Layer<Orchestrator> => {
  const core = JobRunner.layer({ stageTimeout: Duration.minutes(10) }).pipe(
    Layer.provideMerge(Faults.layer()),
    Layer.provideMerge(Transfers.layer),
    Layer.provideMerge(AgentRegistry.layer),
    Layer.provideMerge(BackupRecords.layerMemory(options.backups)),
    Layer.provideMerge(Events.layer)
  )
  return Layer.effect(
    Orchestrator,
    Effect.gen(function*() {
      const registry = yield* AgentRegistry.AgentRegistry
      const runner = yield* JobRunner.JobRunner
      for (const info of options.agents ?? []) {
        yield* Effect.orDie(registry.register({
          info,
          peer: { address: "in-memory", authContext: {} },
          // Answers each question at once, as the agent would over its stream.
          ask: (question, messages) => {
            const action = messages[0]?._tag === "RegisterAcknowledge" ? undefined : messages[0]?.action
            return action === undefined ? Effect.void : runner.answer({
              question,
              agentId: info.agentId,
              action,
              success: true,
              message: `${question.stage} done`
            })
          }
        }))
      }
      return yield* fromServices({ host: "in-memory", port: 0, storage: "(in memory)" })
    })
  ).pipe(Layer.provide(core))
}
