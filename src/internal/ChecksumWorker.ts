/**
 * MD5 checksums of fragments computed on a worker thread, beside the
 * transfer that feeds them. Hashing costs about as much CPU as moving the
 * bytes over gRPC; on the event loop's thread it would also hold back the
 * network, since flow-control updates wait while a chunk is hashed.
 *
 * A transfer copies each chunk into one of a few slots of memory it shares
 * with the worker, and the worker hands the slot back once hashed. When the
 * worker falls behind, the transfer waits for a slot: memory stays bounded
 * and the transfer runs at the speed of the slower of the two. Small
 * transfers, whose size is known, are hashed in place, where a thread would
 * cost more than it saves.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Effect, RcRef } from "effect"
import { Worker } from "node:worker_threads"
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
// runs the same from the sources (tests) and from the build.
const workerSource = `
const { parentPort } = require("node:worker_threads")
const { createHash } = require("node:crypto")
const sessions = new Map()
parentPort.on("message", (message) => {
  switch (message.kind) {
    case "open":
      sessions.set(message.id, { hash: createHash("md5"), memory: new Uint8Array(message.memory), slotSize: message.slotSize })
      break
    case "update": {
      const session = sessions.get(message.id)
      if (session !== undefined) {
        const start = message.slot * session.slotSize
        session.hash.update(session.memory.subarray(start, start + message.length))
      }
      parentPort.postMessage({ id: message.id, slot: message.slot })
      break
    }
    case "digest": {
      const session = sessions.get(message.id)
      sessions.delete(message.id)
      if (session !== undefined) parentPort.postMessage({ id: message.id, checksum: session.hash.digest("hex").toUpperCase() })
      break
    }
    case "close":
      sessions.delete(message.id)
      break
  }
})
`

type WorkerRequest =
  | { readonly kind: "open"; readonly id: number; readonly memory: SharedArrayBuffer; readonly slotSize: number }
  | { readonly kind: "update"; readonly id: number; readonly slot: number; readonly length: number }
  | { readonly kind: "digest"; readonly id: number }
  | { readonly kind: "close"; readonly id: number }

type WorkerReply =
  | { readonly id: number; readonly slot: number; readonly checksum?: undefined }
  | { readonly id: number; readonly slot?: undefined; readonly checksum: string }

/** What the event loop keeps of one session. */
interface SessionState {
  readonly free: Array<number>
  /** Resumes an update waiting for a free slot. */
  wake: (() => void) | undefined
  /** Resumes a digest waiting for the worker's answer: a checksum, or the thread's failure. */
  answer: ((checksum: Effect.Effect<string>) => void) | undefined
}

interface HashingThread {
  readonly worker: Worker
  readonly sessions: Map<number, SessionState>
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

const startThread: Effect.Effect<HashingThread, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const worker = new Worker(workerSource, {
      eval: true,
      name: "bro-agent md5",
      // It holds a few hash states and no data of its own.
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 }
    })
    running++
    const thread: HashingThread = { worker, sessions: new Map(), nextId: 0, failure: undefined, closing: false }
    worker.on("message", (reply: WorkerReply) => {
      const session = thread.sessions.get(reply.id)
      if (session === undefined) return
      if (reply.slot !== undefined) {
        session.free.push(reply.slot)
        const wake = session.wake
        session.wake = undefined
        wake?.()
      } else {
        session.answer?.(Effect.succeed(reply.checksum))
      }
    })
    const stopped = (failure: Error) => {
      if (thread.closing || thread.failure !== undefined) return
      thread.failure = failure
      for (const session of thread.sessions.values()) {
        session.wake?.()
        session.answer?.(Effect.die(failure))
      }
    }
    worker.on("error", stopped)
    worker.once("exit", (code) => {
      running--
      stopped(new Error(`the MD5 worker thread exited with code ${code}`))
    })
    return thread
  }),
  (thread) =>
    Effect.promise(() => {
      thread.closing = true
      return thread.worker.terminate()
    })
)

// A worker that stopped unasked is a bug (or the process is out of memory):
// a defect, not a transfer failure.
const checkThread = (thread: HashingThread): Effect.Effect<void> =>
  Effect.suspend(() => thread.failure === undefined ? Effect.void : Effect.die(thread.failure))

const workerSession = (thread: HashingThread): Effect.Effect<Md5Session, never, Scope.Scope> =>
  Effect.gen(function*() {
    const id = thread.nextId++
    const memory = new SharedArrayBuffer(slotsPerSession * slotSize)
    const view = new Uint8Array(memory)
    const state: SessionState = {
      free: Array.from({ length: slotsPerSession }, (_, slot) => slot),
      wake: undefined,
      answer: undefined
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        thread.sessions.set(id, state)
        post(thread, { kind: "open", id, memory, slotSize })
      }),
      () =>
        Effect.sync(() => {
          if (!thread.sessions.delete(id)) return
          if (thread.failure === undefined) post(thread, { kind: "close", id })
        })
    )

    const freeSlot = Effect.async<void>((resume) => {
      if (state.free.length > 0 || thread.failure !== undefined) return resume(Effect.void)
      state.wake = () => resume(Effect.void)
      return Effect.sync(() => {
        state.wake = undefined
      })
    })

    // Small updates are gathered in the current slot; a slot goes to the
    // worker when it is full, or at the digest.
    let current: number | undefined
    let filled = 0
    const flush = () => {
      if (current === undefined) return
      if (filled > 0) post(thread, { kind: "update", id, slot: current, length: filled })
      else state.free.push(current)
      current = undefined
      filled = 0
    }

    const update = (bytes: Uint8Array): Effect.Effect<void> => {
      let offset = 0
      const feed: Effect.Effect<void> = Effect.suspend(() => {
        while (offset < bytes.length) {
          if (current === undefined) {
            current = state.free.pop()
            if (current === undefined) return Effect.zipRight(freeSlot, Effect.zipRight(checkThread(thread), feed))
          }
          const length = Math.min(slotSize - filled, bytes.length - offset)
          view.set(bytes.subarray(offset, offset + length), current * slotSize + filled)
          filled += length
          offset += length
          if (filled === slotSize) flush()
        }
        return Effect.void
      })
      return feed
    }

    const digest = Effect.zipRight(
      checkThread(thread),
      Effect.async<string>((resume) => {
        state.answer = (checksum) => {
          state.answer = undefined
          thread.sessions.delete(id)
          resume(checksum)
        }
        flush()
        post(thread, { kind: "digest", id })
      })
    )

    return { update, digest }
  })

const inPlaceSession = (): Md5Session => {
  const hash = md5()
  return { update: (bytes) => Effect.sync(() => hash.update(bytes)), digest: Effect.sync(() => hash.digest()) }
}

/**
 * Checksums that use one worker thread, started at the first large transfer
 * and stopped when no transfer has used it for a few seconds, or when the
 * scope closes. Sessions of concurrent transfers share it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Checksums, never, Scope.Scope> = Effect.gen(function*() {
  const thread = yield* RcRef.make({ acquire: startThread, idleTimeToLive })
  return {
    open: (size) =>
      size !== undefined && size < inPlaceBelow
        ? Effect.sync(inPlaceSession)
        : Effect.flatMap(RcRef.get(thread), workerSession)
  }
})

/**
 * Checksums computed in place, on the caller's thread, whatever the size.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inPlace: Checksums = { open: () => Effect.sync(inPlaceSession) }
