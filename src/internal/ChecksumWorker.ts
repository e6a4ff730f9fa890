/**
 * MD5 checksums of fragments computed on worker threads, beside the
 * transfer that feeds them, and, for a download into a folder on Node's
 * file system, the file written there by the same thread. Hashing costs
 * about as much CPU as moving the bytes over gRPC; on the event loop's
 * thread it would also hold back the network, since flow-control updates
 * wait while a chunk is hashed.
 *
 * A transfer copies each chunk into one of a few slots of memory it shares
 * with the worker, and the worker hands the slot back once hashed (and
 * written). When the worker falls behind, the transfer waits for a slot:
 * memory stays bounded and the transfer runs at the speed of the slower of
 * the two. The chunk itself is dropped at once, so that no buffer of the
 * transfer lives long enough for the collector to keep it. Small transfers,
 * whose size is known, are hashed in place, where a thread would cost more
 * than it saves.
 *
 * Transfers that only hash share one thread. A file being written has a
 * thread of its own, taken from a pool, so that a disk that hangs holds up
 * that file only: its wait for a slot is bounded by the data channel's
 * timeout, and a thread that did not hand its slots back is not used again.
 * The worker opens, writes and closes the file itself, with Node's
 * synchronous calls, which block that thread and never the event loop.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import { SystemError } from "@effect/platform/Error"
import type { Duration } from "effect"
import type { Scope } from "effect"
import { Effect, Fiber, RcRef } from "effect"
import { Worker } from "node:worker_threads"
import { DataChannelTimeout } from "../transport/OrchestratorTransport.js"
import { md5 } from "./Checksum.js"

/**
 * An MD5 being computed, fed chunk by chunk.
 *
 * @since 0.1.0
 * @category models
 */
export interface Md5Session {
  /**
   * Feeds bytes. Completes once the bytes were taken (copied or hashed), so
   * the caller may reuse its buffer; waits while the worker is behind.
   */
  readonly update: (bytes: Uint8Array) => Effect.Effect<void>
  /** The checksum of everything fed, as 32 upper-case hex digits. */
  readonly digest: Effect.Effect<string>
}

/**
 * A file being written and hashed on a worker thread, fed chunk by chunk.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileWriteSession {
  /**
   * Feeds bytes. Completes once the bytes were copied, so the caller may
   * reuse its buffer; waits while the worker is behind, at most the timeout
   * the session was opened with. Fails with the first write's failure.
   */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, PlatformError | DataChannelTimeout>
  /** Writes what is left, closes the file, and gives the checksum of everything fed. */
  readonly finish: Effect.Effect<string, PlatformError | DataChannelTimeout>
}

/**
 * Where and how a {@link FileWriteSession} writes.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileWriteOptions {
  /** The file, created (flag `wx`) when the session opens. */
  readonly path: string
  /** How long a write may wait for the worker (the data channel's timeout). */
  readonly timeout: Duration.Duration
  /** The file's open flag: `wx` unless a test says otherwise. */
  readonly flag?: string
}

/**
 * Opens MD5 sessions for the transfers of one data channel.
 *
 * @since 0.1.0
 * @category models
 */
export interface Checksums {
  /**
   * A session for a transfer of `size` bytes (`undefined` when unknown). It
   * is closed with its scope; a session interrupted mid-way leaves nothing
   * behind in the worker.
   */
  readonly open: (size: number | undefined) => Effect.Effect<Md5Session, never, Scope.Scope>
  /**
   * A session that writes a file and hashes it on a thread of its own, or
   * `undefined` when these checksums write no files (the caller writes
   * them). The file is open once this succeeded, and closed with the scope
   * (or by `finish`).
   */
  readonly openFileWriter:
    | ((options: FileWriteOptions) => Effect.Effect<FileWriteSession, PlatformError | DataChannelTimeout, Scope.Scope>)
    | undefined
}

/**
 * Transfers of a known size under this many bytes are hashed in place.
 *
 * @since 0.1.0
 * @category constants
 */
export const inPlaceBelow: number = 4 * 1024 * 1024

/** Slots per session: a few chunks in flight, whatever the fragment's size. */
const slotsPerSession = 4

/** Bytes per slot; larger chunks are fed in pieces. */
const slotSize = 512 * 1024

/** How long the worker is kept after its last session, so that a backup's fragments share it. */
const idleTimeToLive = "5 seconds"

// The worker's program: plain JavaScript, evaluated as a script, so that it
// runs the same from the sources (tests) and from the build. A session with
// a path writes each slot into its file after hashing it; the first failure
// is kept, the file closed, and every later slot of the session only handed
// back.
const workerSource = `
const { parentPort } = require("node:worker_threads")
const { createHash } = require("node:crypto")
const fs = require("node:fs")
const sessions = new Map()
// Each session's slots are one of the thread's memories, sent once and kept:
// a memory per session would be freed only by this isolate's collections,
// which its little garbage makes rare.
const memories = new Map()
const failureOf = (error, syscall) => ({
  code: typeof error.code === "string" ? error.code : "UNKNOWN",
  syscall: typeof error.syscall === "string" ? error.syscall : syscall,
  message: String(error.message)
})
const closeFile = (session) => {
  if (session.fd === undefined) return undefined
  const fd = session.fd
  session.fd = undefined
  try {
    fs.closeSync(fd)
    return undefined
  } catch (error) {
    return failureOf(error, "close")
  }
}
parentPort.on("message", (message) => {
  switch (message.kind) {
    case "open": {
      if (message.memory !== undefined) memories.set(message.memoryId, new Uint8Array(message.memory))
      const session = { hash: createHash("md5"), memory: memories.get(message.memoryId), slotSize: message.slotSize, fd: undefined, failure: undefined }
      sessions.set(message.id, session)
      if (message.path !== undefined) {
        try {
          session.fd = fs.openSync(message.path, message.flag)
          parentPort.postMessage({ id: message.id, opened: true })
        } catch (error) {
          sessions.delete(message.id)
          parentPort.postMessage({ id: message.id, failure: failureOf(error, "open") })
        }
      }
      break
    }
    case "update": {
      const session = sessions.get(message.id)
      let failure
      if (session !== undefined && session.failure === undefined) {
        const start = message.slot * session.slotSize
        const bytes = session.memory.subarray(start, start + message.length)
        session.hash.update(bytes)
        if (session.fd !== undefined) {
          try {
            for (let offset = 0; offset < bytes.length;) offset += fs.writeSync(session.fd, bytes, offset, bytes.length - offset)
          } catch (error) {
            failure = session.failure = failureOf(error, "write")
            closeFile(session)
          }
        }
      }
      parentPort.postMessage({ id: message.id, slot: message.slot, failure })
      break
    }
    case "digest": {
      const session = sessions.get(message.id)
      sessions.delete(message.id)
      if (session === undefined) break
      const failure = session.failure ?? closeFile(session)
      parentPort.postMessage(
        failure === undefined ? { id: message.id, checksum: session.hash.digest("hex").toUpperCase() } : { id: message.id, failure }
      )
      break
    }
    case "close": {
      const session = sessions.get(message.id)
      sessions.delete(message.id)
      if (session !== undefined) closeFile(session)
      if (message.answer) parentPort.postMessage({ id: message.id, closed: true })
      break
    }
  }
})
`

type WorkerRequest =
  | {
    readonly kind: "open"
    readonly id: number
    /** The session's slots: the thread's memory `memoryId`, sent with the first session that uses it. */
    readonly memoryId: number
    readonly memory: SharedArrayBuffer | undefined
    readonly slotSize: number
    readonly path?: string
    readonly flag?: string
  }
  | { readonly kind: "update"; readonly id: number; readonly slot: number; readonly length: number }
  | { readonly kind: "digest"; readonly id: number }
  | { readonly kind: "close"; readonly id: number; readonly answer: boolean }

/** What the worker says of a file it could not open, write or close. */
interface WorkerFailure {
  readonly code: string
  readonly syscall: string
  readonly message: string
}

interface WorkerReply {
  readonly id: number
  readonly slot?: number
  readonly checksum?: string
  readonly opened?: true
  readonly closed?: true
  readonly failure?: WorkerFailure
}

/** What the event loop keeps of one session. */
interface SessionState {
  readonly free: Array<number>
  /** Resumes an update waiting for a free slot. */
  wake: (() => void) | undefined
  /** Resumes a digest (or an open) waiting for the worker's answer: a checksum, or the thread's failure. */
  answer: ((reply: Effect.Effect<WorkerReply>) => void) | undefined
  /** The file's first failure, for a session that writes one. */
  failure: WorkerFailure | undefined
  /** Called once the worker closed the session, for one that asked. */
  closed: (() => void) | undefined
}

/** Slots for one session at a time, shared with the worker. */
interface SlotMemory {
  readonly id: number
  readonly view: Uint8Array
}

interface HashingThread {
  readonly worker: Worker
  readonly sessions: Map<number, SessionState>
  /** Memories no session uses now; a session takes one, or makes one when none is free. */
  readonly memories: Array<SlotMemory>
  memoryCount: number
  nextId: number
  /** Why the worker stopped, when it stopped unasked. */
  failure: Error | undefined
  closing: boolean
}

const post = (thread: HashingThread, request: WorkerRequest) => thread.worker.postMessage(request)

let running = 0

/**
 * How many checksum worker threads run in this process now: for tests and
 * diagnostics (a thread left running after its scope closed is a leak).
 *
 * @since 0.1.0
 * @category diagnostics
 */
export const runningThreads = (): number => running

const spawnThread = (): HashingThread => {
  const worker = new Worker(workerSource, {
    eval: true,
    name: "bro-agent md5",
    // It holds a few hash states and no data of its own.
    resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 }
  })
  running++
  const thread: HashingThread = {
    worker,
    sessions: new Map(),
    memories: [],
    memoryCount: 0,
    nextId: 0,
    failure: undefined,
    closing: false
  }
  worker.on("message", (reply: WorkerReply) => {
    const session = thread.sessions.get(reply.id)
    if (session === undefined) return
    if (reply.failure !== undefined && session.failure === undefined) session.failure = reply.failure
    if (reply.slot !== undefined) {
      session.free.push(reply.slot)
      const wake = session.wake
      session.wake = undefined
      wake?.()
    } else if (reply.closed === true) {
      session.closed?.()
    } else {
      session.answer?.(Effect.succeed(reply))
    }
  })
  const stopped = (failure: Error) => {
    if (thread.closing || thread.failure !== undefined) return
    thread.failure = failure
    for (const session of thread.sessions.values()) {
      session.wake?.()
      session.answer?.(Effect.die(failure))
      session.closed?.()
    }
  }
  worker.on("error", stopped)
  worker.once("exit", (code) => {
    running--
    stopped(new Error(`the MD5 worker thread exited with code ${code}`))
  })
  return thread
}

// Waits for the thread to stop, unless it cannot (a thread blocked in a
// write on a hung disk stops once the write returns): then the scope that
// waits may close without it.
const stopThread = (thread: HashingThread): Effect.Effect<void> =>
  Effect.promise(() => {
    thread.closing = true
    return thread.worker.terminate()
  })

const startThread: Effect.Effect<HashingThread, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(spawnThread),
  stopThread
)

// A worker that stopped unasked is a bug (or the process is out of memory):
// a defect, not a transfer failure.
const checkThread = (thread: HashingThread): Effect.Effect<void> =>
  Effect.suspend(() => thread.failure === undefined ? Effect.void : Effect.die(thread.failure))

let memoriesMade = 0

/**
 * How many slot memories the process has made so far: for tests and
 * diagnostics (sessions one after another on a thread reuse its memories;
 * a memory per session was kept until the worker's rare collections).
 *
 * @since 0.1.0
 * @category diagnostics
 */
export const slotMemoriesMade = (): number => memoriesMade

// A memory for a new session, and what the open message carries of it. A
// memory given back while the worker still reads a slot of the session
// before is safe: that session is over, and the worker takes the next
// session's slots only from its messages, which come after.
const takeMemory = (thread: HashingThread): { readonly memory: SlotMemory; readonly shared: SharedArrayBuffer | undefined } => {
  const free = thread.memories.pop()
  if (free !== undefined) return { memory: free, shared: undefined }
  const shared = new SharedArrayBuffer(slotsPerSession * slotSize)
  memoriesMade++
  return { memory: { id: thread.memoryCount++, view: new Uint8Array(shared) }, shared }
}

const newSessionState = (): SessionState => ({
  free: Array.from({ length: slotsPerSession }, (_, slot) => slot),
  wake: undefined,
  answer: undefined,
  failure: undefined,
  closed: undefined
})

// Bytes are gathered in the session's current slot of shared memory; a slot
// goes to the worker when it is full, or at `flush` (the digest, the file's
// end). When no slot is free, feeding waits for `freeSlot`; `failed` is
// checked before each feed (a file writer whose disk failed).
const slotFeeder = <E>(
  thread: HashingThread,
  id: number,
  state: SessionState,
  view: Uint8Array,
  freeSlot: Effect.Effect<void, E>,
  failed: () => E | undefined
) => {
  let current: number | undefined
  let filled = 0
  const flush = () => {
    if (current === undefined) return
    if (filled > 0) post(thread, { kind: "update", id, slot: current, length: filled })
    else state.free.push(current)
    current = undefined
    filled = 0
  }
  const feed = (bytes: Uint8Array): Effect.Effect<void, E> => {
    let offset = 0
    const next: Effect.Effect<void, E> = Effect.suspend(() => {
      const failure = failed()
      if (failure !== undefined) return Effect.fail(failure)
      while (offset < bytes.length) {
        if (current === undefined) {
          current = state.free.pop()
          if (current === undefined) return Effect.zipRight(freeSlot, Effect.zipRight(checkThread(thread), next))
        }
        const length = Math.min(slotSize - filled, bytes.length - offset)
        view.set(bytes.subarray(offset, offset + length), current * slotSize + filled)
        filled += length
        offset += length
        if (filled === slotSize) flush()
      }
      return Effect.void
    })
    return next
  }
  return { feed, flush }
}

const workerSession = (thread: HashingThread): Effect.Effect<Md5Session, never, Scope.Scope> =>
  Effect.gen(function*() {
    const id = thread.nextId++
    const { memory, shared } = takeMemory(thread)
    const view = memory.view
    const state = newSessionState()
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        thread.sessions.set(id, state)
        post(thread, { kind: "open", id, memoryId: memory.id, memory: shared, slotSize })
      }),
      () =>
        Effect.sync(() => {
          thread.memories.push(memory)
          if (!thread.sessions.delete(id)) return
          if (thread.failure === undefined) post(thread, { kind: "close", id, answer: false })
        })
    )

    const freeSlot = Effect.async<void>((resume) => {
      if (state.free.length > 0 || thread.failure !== undefined) return resume(Effect.void)
      state.wake = () => resume(Effect.void)
      return Effect.sync(() => {
        state.wake = undefined
      })
    })

    const { feed: update, flush } = slotFeeder(thread, id, state, view, freeSlot, () => undefined)

    const digest = Effect.zipRight(
      checkThread(thread),
      Effect.async<string>((resume) => {
        state.answer = (reply) => {
          state.answer = undefined
          thread.sessions.delete(id)
          resume(Effect.map(reply, (answer) => answer.checksum ?? ""))
        }
        flush()
        post(thread, { kind: "digest", id })
      })
    )

    return { update, digest }
  })

// A failure of the worker's file as NodeFileSystem reports one: a
// SystemError whose description is Node's own message ("ENOSPC: no space
// left on device, write").
const reasons: Record<string, SystemError["reason"]> = {
  ENOENT: "NotFound",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EEXIST: "AlreadyExists",
  EBUSY: "Busy",
  EBADF: "BadResource",
  ETIMEDOUT: "TimedOut"
}

const systemErrorOf = (failure: WorkerFailure, path: string): PlatformError =>
  new SystemError({
    reason: reasons[failure.code] ?? "Unknown",
    module: "FileSystem",
    method: failure.syscall === "open" ? "open" : failure.syscall === "close" ? "close" : "writeAll",
    pathOrDescriptor: path,
    syscall: failure.syscall,
    description: failure.message,
    cause: Object.assign(new Error(failure.message), { code: failure.code, syscall: failure.syscall })
  })

/** Extra state of a thread that writes files, for its pool. */
interface WriterThread extends HashingThread {
  /** Called when its last session closed. */
  idle: (() => void) | undefined
}

const fileWriteSession = (
  thread: WriterThread,
  options: FileWriteOptions
): Effect.Effect<FileWriteSession, PlatformError | DataChannelTimeout, Scope.Scope> =>
  Effect.gen(function*() {
    const { path, timeout } = options
    const id = thread.nextId++
    const { memory, shared } = takeMemory(thread)
    const view = memory.view
    const state = newSessionState()
    let finished = false
    const failed = () => (state.failure === undefined ? undefined : systemErrorOf(state.failure, path))
    const timedOut = (waitingFor: string) => new DataChannelTimeout({ waitingFor, after: timeout })
    // The worker's answer to an open or a digest, within the timeout.
    const answer = (request: WorkerRequest, waitingFor: string) =>
      Effect.async<WorkerReply>((resume) => {
        state.answer = (reply) => {
          state.answer = undefined
          resume(reply)
        }
        post(thread, request)
        return Effect.sync(() => {
          state.answer = undefined
        })
      }).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => timedOut(waitingFor) }))

    const forget = () => {
      thread.sessions.delete(id)
      if (thread.sessions.size === 0) thread.idle?.()
    }

    yield* Effect.acquireRelease(
      Effect.suspend(() => {
        thread.sessions.set(id, state)
        return answer(
          { kind: "open", id, memoryId: memory.id, memory: shared, slotSize, path, flag: options.flag ?? "wx" },
          `the disk to create ${path}`
        )
      }).pipe(
        Effect.zipRight(checkThread(thread)),
        Effect.flatMap(() => {
          const failure = failed()
          return failure === undefined ? Effect.void : Effect.zipRight(Effect.sync(forget), Effect.fail(failure))
        }),
        // The release runs whatever the outcome: after a timeout it closes the session.
        Effect.either
      ),
      () =>
        Effect.sync(() => {
          thread.memories.push(memory)
          if (finished || !thread.sessions.has(id)) return
          if (thread.failure !== undefined) return forget()
          // Closed once the worker is through with the slots it holds: the
          // pool takes the thread back then, or never when its disk hangs.
          state.closed = forget
          post(thread, { kind: "close", id, answer: true })
        })
    ).pipe(Effect.flatMap((opened) => (opened._tag === "Left" ? Effect.fail(opened.left) : Effect.void)))

    const freeSlot = Effect.async<void>((resume) => {
      if (state.free.length > 0 || thread.failure !== undefined || state.failure !== undefined) return resume(Effect.void)
      state.wake = () => resume(Effect.void)
      return Effect.sync(() => {
        state.wake = undefined
      })
    }).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => timedOut(`the disk to write ${path}`) }))

    const { feed: write, flush } = slotFeeder<PlatformError | DataChannelTimeout>(thread, id, state, view, freeSlot, failed)

    const finish = Effect.suspend(() => {
      const failure = failed()
      if (failure !== undefined) return Effect.fail(failure)
      flush()
      return answer({ kind: "digest", id }, `the disk to write and close ${path}`).pipe(
        Effect.zipLeft(checkThread(thread)),
        Effect.flatMap((reply) => {
          finished = true
          forget()
          const error = failed()
          return error === undefined ? Effect.succeed(reply.checksum ?? "") : Effect.fail(error)
        })
      )
    })

    return { write, finish }
  })

const inPlaceSession = (): Md5Session => {
  const hash = md5()
  return { update: (bytes) => Effect.sync(() => hash.update(bytes)), digest: Effect.sync(() => hash.digest()) }
}

/**
 * Threads for the files being written: one per file, taken from the idle
 * ones or started, given back once its file is closed, and stopped after a
 * few seconds idle or when the scope closes. A thread whose file did not
 * close within the timeout (a hung disk) is not given back: it is stopped,
 * without waiting, as it may never return from its write.
 */
const writerThreads = (
  timeToLive: Duration.DurationInput
): Effect.Effect<(timeout: Duration.Duration) => Effect.Effect<WriterThread, never, Scope.Scope>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const idle: Array<{ readonly thread: WriterThread; readonly reaper: Fiber.RuntimeFiber<void> }> = []
    const owned = new Set<WriterThread>()
    const abandon = (thread: WriterThread) =>
      Effect.suspend(() => {
        owned.delete(thread)
        return Effect.asVoid(Effect.forkDaemon(stopThread(thread)))
      })
    yield* Effect.addFinalizer(() =>
      Effect.forEach([...owned], (thread) => (thread.sessions.size === 0 ? stopThread(thread) : abandon(thread)), {
        discard: true
      })
    )
    const park = (thread: WriterThread) =>
      Effect.suspend(() => {
        if (!owned.has(thread) || thread.failure !== undefined) return Effect.sync(() => void owned.delete(thread))
        const expire = Effect.suspend(() => {
          const index = idle.findIndex((entry) => entry.thread === thread)
          if (index < 0) return Effect.void
          idle.splice(index, 1)
          owned.delete(thread)
          return stopThread(thread)
        })
        return Effect.flatMap(
          // Forked from a release, which is uninterruptible: the wait is not.
          Effect.forkIn(Effect.interruptible(Effect.zipRight(Effect.sleep(timeToLive), expire)), scope),
          (reaper) => Effect.sync(() => void idle.push({ thread, reaper }))
        )
      })
    const drained = (thread: WriterThread, timeout: Duration.Duration) =>
      Effect.async<void>((resume) => {
        if (thread.sessions.size === 0) return resume(Effect.void)
        thread.idle = () => resume(Effect.void)
        return Effect.sync(() => {
          thread.idle = undefined
        })
      }).pipe(
        Effect.timeout(timeout),
        Effect.matchEffect({ onFailure: () => abandon(thread), onSuccess: () => park(thread) })
      )
    return (timeout) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const entry = idle.pop()
          if (entry !== undefined) return Effect.as(Fiber.interrupt(entry.reaper), entry.thread)
          return Effect.sync(() => {
            const thread: WriterThread = Object.assign(spawnThread(), { idle: undefined })
            owned.add(thread)
            return thread
          })
        }),
        (thread) =>
          thread.sessions.size === 0
            ? park(thread)
            : Effect.asVoid(Effect.forkIn(Effect.interruptible(drained(thread, timeout)), scope))
      )
  })

/**
 * Checksums that use one worker thread for the transfers that only hash,
 * started at the first large transfer and stopped when no transfer has used
 * it for a few seconds, or when the scope closes; sessions of concurrent
 * transfers share it. Each file written has a thread of its own, from a
 * pool kept the same way.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Checksums, never, Scope.Scope> = Effect.gen(function*() {
  const thread = yield* RcRef.make({ acquire: startThread, idleTimeToLive })
  const writer = yield* writerThreads(idleTimeToLive)
  return {
    open: (size) =>
      size !== undefined && size < inPlaceBelow
        ? Effect.sync(inPlaceSession)
        : Effect.flatMap(RcRef.get(thread), workerSession),
    openFileWriter: (options) => Effect.flatMap(writer(options.timeout), (taken) => fileWriteSession(taken, options))
  }
})

/**
 * Checksums computed in place, on the caller's thread, whatever the size;
 * they write no files.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inPlace: Checksums = { open: () => Effect.sync(inPlaceSession), openFileWriter: undefined }
