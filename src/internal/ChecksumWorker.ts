/**
 * MD5 checksums of fragments computed on worker threads, beside the
 * transfer that feeds them, and, for a download into a folder on Node's
 * file system, the file written there by the same thread. Hashing costs
 * about as much CPU as moving the bytes over gRPC; on the event loop's
 * thread it would also hold back the network, since flow-control updates
 * wait while a chunk is hashed.
 *
 * A transfer copies each chunk into one of a few slots of memory it shares
 * with the workers, and a slot is free again once hashed (and written).
 * When the workers fall behind, the transfer waits for a slot: memory stays
 * bounded and the transfer runs at the speed of the slowest. The chunk itself is dropped at once, so that no buffer of the
 * transfer lives long enough for the collector to keep it. Small transfers,
 * whose size is known, are hashed in place, where a thread would cost more
 * than it saves.
 *
 * Every transfer's bytes are hashed on one shared thread. A file being
 * written has, besides, a thread of its own that writes it, taken from a
 * pool: the two threads read the same slots at once, so that a download
 * runs at the slower of hashing and writing rather than at their sum, and a
 * disk that hangs holds up that file only: its wait for a slot is bounded
 * by the data channel's timeout, and a thread that did not hand its slots
 * back is not used again. The writer opens, writes and closes the file
 * itself, with Node's synchronous calls, which block that thread and never
 * the event loop.
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
import { reasonOf } from "./nodeFileSystem.js"

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
   * A session that writes a file on a thread of its own while the bytes are
   * hashed on the shared one, or
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
// a path writes each slot into its file (after hashing it, unless it was
// opened with \`hash: false\`); the first failure is kept, the file closed,
// and every later slot of the session only handed back.
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
      const session = {
        hash: message.hash === false ? undefined : createHash("md5"),
        memory: memories.get(message.memoryId),
        slotSize: message.slotSize,
        fd: undefined,
        failure: undefined
      }
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
        if (session.hash !== undefined) session.hash.update(bytes)
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
        failure === undefined
          ? { id: message.id, checksum: session.hash === undefined ? "" : session.hash.digest("hex").toUpperCase() }
          : { id: message.id, failure }
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
    /** False for a session that only writes: another thread hashes its slots. */
    readonly hash?: boolean
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

/**
 * A session's slots, as the event loop sees them: a slot is free again once
 * every thread it was posted to handed it back (two for a file written on
 * one thread and hashed on another).
 */
interface Slots {
  readonly free: Array<number>
  /** How many threads hold each slot now. */
  readonly holders: Array<number>
  /** Resumes a feed waiting for a free slot. */
  wake: (() => void) | undefined
}

/** What the event loop keeps of one session on one thread. */
interface SessionState {
  readonly slots: Slots
  /** Resumes a digest (or an open) waiting for the worker's answer: a checksum, or the thread's failure. */
  answer: ((reply: Effect.Effect<WorkerReply>) => void) | undefined
  /** The file's first failure, for a session that writes one. */
  failure: WorkerFailure | undefined
  /** Called once the worker closed the session, for one that asked. */
  closed: (() => void) | undefined
}

/** Slots for one session at a time, shared with the threads that read them. */
interface SlotMemory {
  /** Unique in the process: a thread keeps every memory it was sent by this id. */
  readonly id: number
  readonly shared: SharedArrayBuffer
  readonly view: Uint8Array
}

interface HashingThread {
  readonly worker: Worker
  readonly sessions: Map<number, SessionState>
  /** Memories no session uses now; a session takes one, or makes one when none is free. */
  readonly memories: Array<SlotMemory>
  /** The memories this thread was sent, by id. */
  readonly known: Set<number>
  nextId: number
  /** Why the worker stopped, when it stopped unasked. */
  failure: Error | undefined
  closing: boolean
}

const post = (thread: HashingThread, request: WorkerRequest) => thread.worker.postMessage(request)

/** The memory an open message carries: sent once to each thread, then named by its id. */
const memoryFor = (thread: HashingThread, memory: SlotMemory): SharedArrayBuffer | undefined => {
  if (thread.known.has(memory.id)) return undefined
  thread.known.add(memory.id)
  return memory.shared
}

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
    known: new Set(),
    nextId: 0,
    failure: undefined,
    closing: false
  }
  worker.on("message", (reply: WorkerReply) => {
    const session = thread.sessions.get(reply.id)
    if (session === undefined) return
    if (reply.failure !== undefined && session.failure === undefined) session.failure = reply.failure
    if (reply.slot !== undefined) {
      const slots = session.slots
      const holders = (slots.holders[reply.slot] ?? 1) - 1
      slots.holders[reply.slot] = holders
      if (holders > 0) return
      slots.free.push(reply.slot)
      const wake = slots.wake
      slots.wake = undefined
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
      session.slots.wake?.()
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

// A memory for a new session, given back to the thread's pool with the
// scope. A memory given back while a worker still reads a slot of the
// session before is safe: that session is over (an interrupted download's
// file is removed), and a worker takes the next session's slots only from
// its messages, which come after.
const takeMemory = (thread: HashingThread): Effect.Effect<SlotMemory, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const free = thread.memories.pop()
      if (free !== undefined) return free
      const shared = new SharedArrayBuffer(slotsPerSession * slotSize)
      return { id: memoriesMade++, shared, view: new Uint8Array(shared) }
    }),
    (memory) => Effect.sync(() => void thread.memories.push(memory))
  )

const newSlots = (): Slots => ({
  free: Array.from({ length: slotsPerSession }, (_, slot) => slot),
  holders: Array.from({ length: slotsPerSession }, () => 0),
  wake: undefined
})

const newSessionState = (slots: Slots): SessionState => ({
  slots,
  answer: undefined,
  failure: undefined,
  closed: undefined
})

/** A thread and the id a session has on it. */
interface Reader {
  readonly thread: HashingThread
  readonly id: number
}

// Bytes are gathered in the session's current slot of shared memory; a slot
// goes to every reader when it is full, or at `flush` (the digest, the
// file's end). When no slot is free, feeding waits for `freeSlot`; `failed`
// is checked before each feed (a file writer whose disk failed).
const slotFeeder = <E>(
  readers: ReadonlyArray<Reader>,
  slots: Slots,
  view: Uint8Array,
  freeSlot: Effect.Effect<void, E>,
  failed: () => E | undefined
) => {
  let current: number | undefined
  let filled = 0
  const checkThreads = Effect.forEach(readers, (reader) => checkThread(reader.thread), { discard: true })
  const flush = () => {
    if (current === undefined) return
    if (filled > 0) {
      slots.holders[current] = readers.length
      for (const { thread, id } of readers) post(thread, { kind: "update", id, slot: current, length: filled })
    } else {
      slots.free.push(current)
    }
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
          current = slots.free.pop()
          if (current === undefined) return Effect.zipRight(freeSlot, Effect.zipRight(checkThreads, next))
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

// Waits for a free slot, or for what stops the session: a thread that
// stopped, a file that failed.
const waitForSlot = (slots: Slots, stopped: () => boolean) =>
  Effect.async<void>((resume) => {
    if (slots.free.length > 0 || stopped()) return resume(Effect.void)
    slots.wake = () => resume(Effect.void)
    return Effect.sync(() => {
      slots.wake = undefined
    })
  })

/** A session on the hashing thread, in `memory`: closed with the scope, unless `digest` ended it. */
const hashingSession = (thread: HashingThread, memory: SlotMemory, slots: Slots) =>
  Effect.gen(function*() {
    const id = thread.nextId++
    const state = newSessionState(slots)
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        thread.sessions.set(id, state)
        post(thread, { kind: "open", id, memoryId: memory.id, memory: memoryFor(thread, memory), slotSize })
      }),
      () =>
        Effect.sync(() => {
          if (!thread.sessions.delete(id)) return
          if (thread.failure === undefined) post(thread, { kind: "close", id, answer: false })
        })
    )
    // The checksum of every slot posted before it.
    const digest = Effect.zipRight(
      checkThread(thread),
      Effect.async<string>((resume) => {
        state.answer = (reply) => {
          state.answer = undefined
          thread.sessions.delete(id)
          resume(Effect.map(reply, (answer) => answer.checksum ?? ""))
        }
        post(thread, { kind: "digest", id })
      })
    )
    return { reader: { thread, id }, digest }
  })

const workerSession = (thread: HashingThread): Effect.Effect<Md5Session, never, Scope.Scope> =>
  Effect.gen(function*() {
    const memory = yield* takeMemory(thread)
    const slots = newSlots()
    const session = yield* hashingSession(thread, memory, slots)
    const freeSlot = waitForSlot(slots, () => thread.failure !== undefined)
    const { feed: update, flush } = slotFeeder([session.reader], slots, memory.view, freeSlot, () => undefined)
    return { update, digest: Effect.suspend(() => (flush(), session.digest)) }
  })

// A failure of the worker's file as NodeFileSystem reports one: a
// SystemError whose description is Node's own message ("ENOSPC: no space
// left on device, write").
const systemErrorOf = (failure: WorkerFailure, path: string): PlatformError =>
  new SystemError({
    reason: reasonOf(failure.code),
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

// The file is written by `thread` and hashed, slot by slot, by `hasher` (the
// transfers' shared hashing thread): the two run at once, and a slot is free
// again once both are through with it. A disk that hangs holds `thread`
// only; the hashing thread never touches the disk.
const fileWriteSession = (
  thread: WriterThread,
  hasher: HashingThread,
  options: FileWriteOptions
): Effect.Effect<FileWriteSession, PlatformError | DataChannelTimeout, Scope.Scope> =>
  Effect.gen(function*() {
    const { path, timeout } = options
    const id = thread.nextId++
    const memory = yield* takeMemory(hasher)
    const slots = newSlots()
    const state = newSessionState(slots)
    let finished = false
    const failed = () => (state.failure === undefined ? undefined : systemErrorOf(state.failure, path))
    const timedOut = (waitingFor: string) => new DataChannelTimeout({ waitingFor, after: timeout })
    // The writer's answer to an open or a digest, within the timeout.
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

    const openFile = Effect.acquireRelease(
      Effect.suspend(() => {
        thread.sessions.set(id, state)
        return answer(
          {
            kind: "open",
            id,
            memoryId: memory.id,
            memory: memoryFor(thread, memory),
            slotSize,
            path,
            flag: options.flag ?? "wx",
            hash: false
          },
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
          if (finished || !thread.sessions.has(id)) return
          if (thread.failure !== undefined) return forget()
          // Closed once the worker is through with the slots it holds: the
          // pool takes the thread back then, or never when its disk hangs.
          state.closed = forget
          post(thread, { kind: "close", id, answer: true })
        })
    ).pipe(Effect.flatMap((opened) => (opened._tag === "Left" ? Effect.fail(opened.left) : Effect.void)))
    yield* openFile
    const hashing = yield* hashingSession(hasher, memory, slots)

    const freeSlot = waitForSlot(slots, () => thread.failure !== undefined || hasher.failure !== undefined || state.failure !== undefined)
      .pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => timedOut(`the disk to write ${path}`) }))

    const { feed: write, flush } = slotFeeder<PlatformError | DataChannelTimeout>(
      [{ thread, id }, hashing.reader],
      slots,
      memory.view,
      freeSlot,
      failed
    )

    const finish = Effect.suspend(() => {
      const failure = failed()
      if (failure !== undefined) return Effect.fail(failure)
      flush()
      return answer({ kind: "digest", id }, `the disk to write and close ${path}`).pipe(
        Effect.zipLeft(checkThread(thread)),
        Effect.flatMap(() => {
          finished = true
          forget()
          const error = failed()
          return error === undefined ? hashing.digest : Effect.fail(error)
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
 * Checksums that use one worker thread for hashing, started at the first
 * large transfer and stopped when no transfer has used it for a few
 * seconds, or when the scope closes; sessions of concurrent transfers share
 * it. Each file written has, besides, a thread of its own that writes it,
 * from a pool kept the same way.
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
    openFileWriter: (options) =>
      Effect.flatMap(
        RcRef.get(thread),
        (hasher) => Effect.flatMap(writer(options.timeout), (taken) => fileWriteSession(taken, hasher, options))
      )
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
