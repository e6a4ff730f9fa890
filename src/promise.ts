/**
 * `bro-agent/promise`: the agent for a service not written with Effect. Its
 * stages are `async` functions; each is given a plain context and an
 * `AbortSignal` that fires when the orchestrator cancels the stage or the
 * agent stops. Fragment files are paths, bytes or Node `Readable` streams.
 *
 * It is a facade on the Effect API, not a second agent: each stage function
 * becomes a stage Effect (`Effect.tryPromise`, whose signal is the one the
 * function is given), so cancels, answers, transfers and their clean-up are
 * those of `Agent.start`. A rejected Promise carries the same error instance
 * the Effect API fails with (`RegistrationRejected`, `FailedToTransferBackup`,
 * `FailedToDownload`, ...), not a wrapper.
 *
 * @example
 * ```js
 * import { startAgent } from "bro-agent/promise"
 *
 * const agent = await startAgent({
 *   registration: { agentId: "notes", softwareVersion },
 *   async executeBackup(context) {
 *     await context.sendFragment({ fragmentId: "notes-1", version: "1", backupFile: "/data/notes.db" })
 *   },
 *   async executeRestore(context) {
 *     for (const fragment of context.fragments) await context.downloadFragment(fragment, "/data")
 *   }
 * })
 * process.once("SIGTERM", () => agent.stop())
 * ```
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeStream from "@effect/platform-node/NodeStream"
import {
  Cause,
  Deferred,
  Effect,
  Either,
  Exit,
  FiberId,
  FiberSet,
  Layer,
  ParseResult,
  Runtime,
  Schema,
  Scope,
  Stream
} from "effect"
import type { Readable } from "node:stream"
import type { Fragment, Registration } from "./index.js"
import { Agent, AgentBehavior as Behavior, Fragments, GrpcTransport } from "./index.js"

// The errors a promise of this module rejects with: the Effect API's classes
// themselves, so that `instanceof` works whichever entry point imported them.
export {
  /**
   * `join` rejects with it when the agent stopped registering again.
   *
   * @since 0.1.0
   * @category errors
   */
  OrchestratorUnreachable,
  /**
   * `join` rejects with it when the orchestrator refused the agent for good.
   *
   * @since 0.1.0
   * @category errors
   */
  RegistrationRejected
} from "./Agent.js"
export {
  /**
   * `downloadFragment` rejects with it, and a download stream is destroyed with it.
   *
   * @since 0.1.0
   * @category errors
   */
  FailedToDownload,
  /**
   * `sendFragment` and `sendFragments` reject with it.
   *
   * @since 0.1.0
   * @category errors
   */
  FailedToTransferBackup
} from "./behavior/Fragments.js"
export {
  /**
   * `startAgent` rejects with it when the registration information is wrong.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidRegistrationInformation
} from "./core/Registration.js"
export {
  /**
   * `startAgent` rejects with it when a TLS file cannot be used.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidTlsFile,
  /**
   * `startAgent` rejects with it when `transport` is wrong.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidTransportOptions
} from "./transport/GrpcTransport.js"

// ---------------------------------------------------------------------------
// What a user writes
// ---------------------------------------------------------------------------

/**
 * Where a file of a fragment comes from: a path (the file travels under its
 * base name), bytes held in memory, or a Node `Readable` (a dump piped from a
 * database tool, say) read as it is sent. Give a stream's `size` when known;
 * the orchestrator uses it only as a hint. A stream is destroyed once the
 * send ends, whether or not it was read.
 *
 * @since 0.1.0
 * @category models
 */
export type FileBody =
  | string
  | { readonly name: string; readonly bytes: Uint8Array | string }
  | { readonly name: string; readonly stream: Readable; readonly size?: number }

/**
 * A fragment to send: as `Fragments.BackupFragment`, with its files as
 * {@link FileBody}.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackupFragment extends Omit<Fragments.BackupFragment, "backupFile" | "customMetadataFile"> {
  readonly backupFile: FileBody
  readonly customMetadataFile?: FileBody
}

/**
 * What every stage is given: the agent id, the action, the backup's name and
 * backup manager.
 *
 * @since 0.1.0
 * @category contexts
 */
export type StageContext = Behavior.StageContext

/**
 * Backup preparation and post-actions.
 *
 * @since 0.1.0
 * @category contexts
 */
export type BackupContext = Behavior.BackupContext

/**
 * Backup execution: where the agent sends its fragments. A transfer still
 * running when the stage ends (or is cancelled) is stopped with it.
 *
 * @since 0.1.0
 * @category contexts
 */
export interface BackupExecutionContext extends BackupContext {
  /** Sends one fragment; see `Fragments.sendFragment`. Rejects with `FailedToTransferBackup`. */
  readonly sendFragment: (fragment: BackupFragment) => Promise<Fragments.SentFragment>
  /** Sends fragments, `concurrency` at a time (one by default); rejects with the first failure. */
  readonly sendFragments: (
    fragments: Iterable<BackupFragment>,
    options?: { readonly concurrency?: number }
  ) => Promise<ReadonlyArray<Fragments.SentFragment>>
}

/**
 * Options of a download stream. `onCustomMetadata` (it may be `async`) is
 * called once per fragment that checked out, with its custom-metadata file
 * (or `undefined` when the fragment has none), before the backup file's
 * last bytes are handed on; a throw or a rejection destroys the stream with
 * that error, before the file is complete. See
 * `Fragments.DownloadStreamOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownloadStreamOptions {
  readonly onCustomMetadata?: (file: Fragments.CustomMetadataFile | undefined) => PromiseLike<void> | void
}

/**
 * Every restore stage: the backup's software version, this agent's
 * fragments, and the downloads. A download still running when the stage
 * ends (or is cancelled) is stopped with it.
 *
 * @since 0.1.0
 * @category contexts
 */
export interface RestoreContext extends Omit<Behavior.RestoreContext, "downloadFragment" | "downloadFragmentStream"> {
  /** Downloads a fragment into a folder; see `Fragments.downloadFragment`. Rejects with `FailedToDownload`. */
  readonly downloadFragment: (
    fragment: Fragment.FragmentInformation,
    folder: string
  ) => Promise<Fragments.DownloadedFragment>
  /**
   * A fragment's backup file as a byte stream; see
   * `Fragments.downloadFragmentStream`. Its last bytes, and its end, come
   * only once the whole fragment checked out (both checksums, the
   * orchestrator's end of the stream, `onCustomMetadata`); otherwise it is
   * destroyed with `FailedToDownload` (or the callback's error) before the
   * file is complete.
   */
  readonly downloadFragmentStream: (fragment: Fragment.FragmentInformation, options?: DownloadStreamOptions) => Readable
}

/**
 * The cancel step: given the action that is cancelled.
 *
 * @since 0.1.0
 * @category contexts
 */
export type CancelContext = BackupContext | RestoreContext

/**
 * A stage: given its context and a signal that aborts when the stage is
 * cancelled or the agent stops. What it resolves with is the stage's
 * outcome as in the Effect API (a string is the message the orchestrator is
 * told); a throw or a rejection fails the stage with the error's message.
 *
 * @since 0.1.0
 * @category models
 */
export type StageFunction<Context> = (
  context: Context,
  signal: AbortSignal
) => PromiseLike<Behavior.StageOutcome> | Behavior.StageOutcome

/**
 * An agent's behaviour: its registration information and one function per
 * stage. Only `executeBackup` and `executeRestore` are required; the others
 * succeed at once when left out, as in `AgentBehavior.AgentBehavior`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentBehavior {
  readonly registration: Registration.RegistrationInput | Registration.RegistrationInformation
  readonly prepareBackup?: StageFunction<BackupContext>
  readonly executeBackup: StageFunction<BackupExecutionContext>
  readonly postBackup?: StageFunction<BackupContext>
  readonly prepareRestore?: StageFunction<RestoreContext>
  readonly executeRestore: StageFunction<RestoreContext>
  readonly postRestore?: StageFunction<RestoreContext>
  readonly cancel?: StageFunction<CancelContext>
}

/**
 * How to start the agent: `Agent.AgentOptions`, and where the orchestrator
 * is. Without `transport`, it is read from the environment
 * (`ORCHESTRATOR_HOST`, `ORCHESTRATOR_PORT`, TLS: see `GrpcTransport.config`).
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentOptions extends Agent.AgentOptions {
  readonly transport?: GrpcTransport.GrpcTransportOptions
}

/**
 * A started agent.
 *
 * Iterating over it (`for await (const status of agent)`) gives the status
 * now and each change after it, until the agent stops.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningAgent extends AsyncIterable<Agent.AgentStatus> {
  readonly agentId: string
  /** The status now. */
  readonly status: () => Agent.AgentStatus
  /**
   * Calls `listener` with the status now and each change after it, until the
   * agent stops or the returned function is called.
   */
  readonly onStatus: (listener: (status: Agent.AgentStatus) => void) => () => void
  /**
   * Resolves once {@link RunningAgent.stop} stopped the agent; rejects with
   * `RegistrationRejected` or `OrchestratorUnreachable` when it ends by
   * itself (call `stop` then too, to close the connection).
   */
  readonly join: () => Promise<void>
  /**
   * Stops the agent: the control stream is closed, running stages are
   * cancelled (their signals abort) and transfers stopped. Resolves when
   * everything is closed.
   */
  readonly stop: () => Promise<void>
}

// ---------------------------------------------------------------------------
// Stages as Effects
// ---------------------------------------------------------------------------

// What a stage's context runs its operations with: both end with the stage.
interface StageOperations {
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  readonly readable: (stream: Stream.Stream<Uint8Array, unknown>) => Readable
}

const isStreamBody = (
  body: FileBody | undefined
): body is Extract<FileBody, { readonly stream: Readable }> =>
  typeof body === "object" && body !== null && "stream" in body

const fileSource = (field: string, body: FileBody): Fragments.FileSource => {
  if (typeof body === "string") return Fragments.fromPath(body)
  if (typeof body === "object" && body !== null && typeof body.name === "string") {
    if ("bytes" in body) return Fragments.fromBytes(body.name, body.bytes)
    if ("stream" in body) {
      const { stream } = body
      // A stream with an encoding set yields strings.
      const bytes = NodeStream.fromReadable<unknown, Uint8Array | string>(() => stream, (cause) => cause).pipe(
        Stream.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk) : chunk))
      )
      return Fragments.fromStream(body.name, bytes, body.size === undefined ? {} : { size: body.size })
    }
  }
  throw new TypeError(`bro-agent/promise: ${field} must be a path, { name, bytes } or { name, stream }`)
}

const sourcesOf = (fragment: BackupFragment): Fragments.BackupFragment => {
  const { backupFile, customMetadataFile, ...rest } = fragment
  return {
    ...rest,
    backupFile: fileSource(`fragment ${fragment.fragmentId}: backupFile`, backupFile),
    ...(customMetadataFile === undefined
      ? {}
      : { customMetadataFile: fileSource(`fragment ${fragment.fragmentId}: customMetadataFile`, customMetadataFile) })
  }
}

// Sends fragments, then destroys their streams: one the send never reached
// (a refused fragment, a failure before it) would hold a file descriptor or
// a child process's pipe open.
const sending = <A, E>(fragments: ReadonlyArray<BackupFragment>, send: () => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.suspend(send).pipe(
    Effect.ensuring(Effect.sync(() => {
      for (const fragment of fragments) {
        for (const body of [fragment.backupFile, fragment.customMetadataFile]) {
          if (isStreamBody(body)) body.stream.destroy()
        }
      }
    }))
  )

// The plain fields of a context, without its Effect operations.
const stageFields = <C extends Behavior.StageContext>(context: C): Pick<C, keyof Behavior.StageContext> => ({
  agentId: context.agentId,
  action: context.action,
  backupName: context.backupName,
  backupType: context.backupType
})

const backupContext = (context: Behavior.BackupContext): BackupContext => stageFields(context)

const executionContext = (
  context: Behavior.BackupExecutionContext,
  { run }: StageOperations
): BackupExecutionContext => ({
  ...backupContext(context),
  sendFragment: (fragment) => run(sending([fragment], () => context.sendFragment(sourcesOf(fragment)))),
  sendFragments: (fragments, options) => {
    const all = Array.from(fragments)
    return run(sending(all, () => context.sendFragments(all.map(sourcesOf), options)))
  }
})

// An async callback as the Effect API's: its rejection (or throw) is the error itself.
const streamOptions = (options: DownloadStreamOptions | undefined): Fragments.DownloadStreamOptions<unknown> => {
  const callback = options?.onCustomMetadata
  if (callback === undefined) return {}
  return {
    onCustomMetadata: (file) =>
      Effect.tryPromise({ try: () => new Promise<void>((resolve) => resolve(callback(file))), catch: (error) => error })
  }
}

const restoreContext = (context: Behavior.RestoreContext, { readable, run }: StageOperations): RestoreContext => ({
  ...stageFields(context),
  softwareVersion: context.softwareVersion,
  fragments: context.fragments,
  downloadFragment: (fragment, folder) => run(context.downloadFragment(fragment, folder)),
  downloadFragmentStream: (fragment, options) => readable(context.downloadFragmentStream(fragment, streamOptions(options)))
})

const cancelContext = (context: Behavior.CancelContext, operations: StageOperations): CancelContext =>
  context.action === "BACKUP" ? backupContext(context) : restoreContext(context, operations)

// Waits for a stream handed out by a stage to be closed: destroying it
// interrupts the download under it.
const closed = (readable: Readable): Effect.Effect<void> =>
  Effect.async((resume) => {
    if (readable.closed) return resume(Effect.void)
    readable.once("close", () => resume(Effect.void))
    readable.destroy()
  })

// A stage function as the stage's Effect. Its operations run in fibers of the
// stage's scope, and its streams close with it: a cancel interrupts the
// stage, which aborts the signal, then stops what the function started,
// before the cancel step runs, as it does for an Effect stage.
const stage = <C, P>(
  stageFunction: StageFunction<P>,
  plain: (context: C, operations: StageOperations) => P
) =>
(context: C): Effect.Effect<Behavior.StageOutcome, unknown> =>
  Effect.gen(function*() {
    const run = yield* FiberSet.makeRuntimePromise()
    const runtime = yield* Effect.runtime<never>()
    const readables = new Set<Readable>()
    yield* Effect.addFinalizer(() => Effect.forEach(readables, closed, { discard: true }))
    const readable = (stream: Stream.Stream<Uint8Array, unknown>) => {
      // Destroyed with the error itself, not the copy that records the span it failed in.
      const opened = Runtime.runSync(runtime, NodeStream.toReadable(Stream.mapError(stream, Cause.originalError)))
      readables.add(opened)
      return opened
    }
    const operations: StageOperations = { run, readable }
    return yield* Effect.tryPromise({
      // A function that is not `async` may throw or return a plain value.
      try: (signal) => new Promise((resolve) => resolve(stageFunction(plain(context, operations), signal))),
      // The error itself: the stage fails with its message, as an Effect stage's typed error does.
      catch: (error) => error
    })
  }).pipe(Effect.scoped)

type AnyFunction = (...args: ReadonlyArray<never>) => unknown

const RequiredStage = Schema.declare((input: unknown): input is AnyFunction => typeof input === "function", {
  message: () => "must be a function"
})

// Left out or undefined: one message when it is something else.
const OptionalStage = Schema.optionalWith(
  Schema.declare((input: unknown): input is AnyFunction | undefined => input === undefined || typeof input === "function", {
    message: () => "must be a function"
  }),
  { exact: true }
)

const Stages = Schema.Struct({
  prepareBackup: OptionalStage,
  executeBackup: RequiredStage,
  postBackup: OptionalStage,
  prepareRestore: OptionalStage,
  executeRestore: RequiredStage,
  postRestore: OptionalStage,
  cancel: OptionalStage
})

// A JavaScript caller has no compiler to tell it that a stage is missing.
const checkStages = (behavior: AgentBehavior): Effect.Effect<void> =>
  Either.match(Schema.decodeUnknownEither(Stages, { errors: "all" })(behavior), {
    onRight: () => Effect.void,
    onLeft: (error) =>
      Effect.die(
        new TypeError(`bro-agent/promise: ${
          ParseResult.ArrayFormatter.formatErrorSync(error)
            .map((issue) => `${issue.path.join(".")} ${issue.message}`)
            .join("; ")
        }`)
      )
  })

const effectBehavior = (behavior: AgentBehavior) =>
  Behavior.make({
    registration: behavior.registration,
    executeBackup: stage(behavior.executeBackup, executionContext),
    executeRestore: stage(behavior.executeRestore, restoreContext),
    // A stage left out stays out: the agent announces PREPARE_STAGE and POST_STAGE by what is given.
    ...(behavior.prepareBackup === undefined ? {} : { prepareBackup: stage(behavior.prepareBackup, backupContext) }),
    ...(behavior.postBackup === undefined ? {} : { postBackup: stage(behavior.postBackup, backupContext) }),
    ...(behavior.prepareRestore === undefined ? {} : { prepareRestore: stage(behavior.prepareRestore, restoreContext) }),
    ...(behavior.postRestore === undefined ? {} : { postRestore: stage(behavior.postRestore, restoreContext) }),
    ...(behavior.cancel === undefined ? {} : { cancel: stage(behavior.cancel, cancelContext) })
  })

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

// Runs an Effect and rejects with its error itself (Effect.runPromise would
// wrap it in a FiberFailure).
const toPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) =>
    Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
  )

const running = (behavior: AgentBehavior, options: AgentOptions, scope: Scope.CloseableScope) =>
  Effect.gen(function*() {
    const { transport, ...agentOptions } = options
    yield* checkStages(behavior)
    const services = yield* Layer.build(Layer.merge(
      transport === undefined ? GrpcTransport.layerConfig() : GrpcTransport.layer(transport),
      NodeFileSystem.layer
    ))
    const agent = yield* Agent.start(effectBehavior(behavior), agentOptions).pipe(Effect.provide(services))
    // Added after the agent, so closed before it: the status streams end first.
    const stopping = yield* Deferred.make<void>()
    yield* Effect.addFinalizer(() => Deferred.succeed(stopping, undefined))
    const subscribe = yield* FiberSet.makeRuntime()
    const runtime = yield* Effect.runtime<never>()
    const statuses = agent.statusChanges.pipe(
      Stream.takeUntil((status) => status.connection._tag === "Stopped"),
      Stream.interruptWhen(Deferred.await(stopping))
    )
    let stopped: Promise<void> | undefined
    const handle: RunningAgent = {
      agentId: agent.agentId,
      status: () => Effect.runSync(agent.status),
      onStatus: (listener) => {
        const fiber = subscribe(Stream.runForEach(statuses, (status) =>
          Effect.sync(() => listener(status)).pipe(
            // A listener's bug is logged; the subscription goes on.
            Effect.catchAllDefect((defect) => Effect.logError("A status listener threw", Cause.die(defect)))
          )))
        return () => fiber.unsafeInterruptAsFork(FiberId.none)
      },
      [Symbol.asyncIterator]: () => Stream.toAsyncIterableRuntime(statuses, runtime)[Symbol.asyncIterator](),
      join: () =>
        Effect.runPromiseExit(agent.join).then((exit) =>
          // The agent's fiber is interrupted only by stop().
          Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? Promise.reject(Cause.squash(exit.cause)) : undefined
        ),
      stop: () => (stopped ??= toPromise(Scope.close(scope, Exit.void)))
    }
    return handle
  })

/**
 * Starts an agent and resolves at once, before it has registered; its
 * status says when it has. Rejects with `InvalidRegistrationInformation`,
 * `InvalidTransportOptions`, `InvalidTlsFile` or a configuration error (a
 * bad environment variable), with a `TypeError` when a stage is missing or
 * not a function; nothing is left open then.
 *
 * @since 0.1.0
 * @category running
 */
export const startAgent = (behavior: AgentBehavior, options: AgentOptions = {}): Promise<RunningAgent> =>
  toPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    return yield* running(behavior, options, scope).pipe(
      Scope.extend(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
  }))
