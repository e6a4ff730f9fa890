/**
 * A child process as a scoped resource, on `node:child_process` directly.
 *
 * Every 'error' listener (on the process and on each of its pipes) is
 * installed at spawn and stays for as long as the handle lives, so that an
 * EPIPE or ECONNRESET on a pipe, whenever it comes, is a recorded state and
 * never an unhandled 'error' event (which would end the agent's process).
 * The events only update the handle's state and wake the fibers waiting on
 * it (`until`); what they mean is decided by the engines that read it.
 *
 * The process is started detached, as the leader of its own process group,
 * so that `sh -c "a | b"` and whatever else it starts are stopped with it:
 * the finalizer sends SIGTERM to the group, SIGKILL after `killAfter`, and
 * waits for the process to exit.
 *
 * @since 0.1.0
 */
import { spawn as spawnChild } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { stat } from "node:fs/promises"
import type { Readable, Writable } from "node:stream"
import { Effect } from "effect"
import type { Scope } from "effect"
import { CommandFailed } from "./errors.js"
import type { CommandSettings, CommandSpec } from "./spec.js"
import { StderrTail } from "./stderrTail.js"

/**
 * How the process ended, as Node reports it: a status, or the signal that killed it.
 *
 * @since 0.1.0
 */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * What the events told so far.
 *
 * @since 0.1.0
 */
export interface ProcessState {
  exit: ExitStatus | undefined
  /** We sent the process a signal: a death by signal is then ours, not the process's failure. */
  signalled: boolean
  /** Writing to stdin failed (EPIPE: the process closed it, or exited). */
  stdinBroken: boolean
  stdinFinished: boolean
  bytesWritten: number
  stdoutEnded: boolean
  stdoutClosed: boolean
  stdoutError: Error | undefined
  stderrClosed: boolean
}

/**
 * A started process.
 *
 * @since 0.1.0
 */
export interface RunningProcess {
  readonly spec: CommandSpec
  readonly pid: number
  /** `null` unless started with `stdin: "pipe"`. */
  readonly stdin: Writable | null
  /** `null` unless started with `stdout: "pipe"`. */
  readonly stdout: Readable | null
  /** Read by the engines; only `bytesWritten` is theirs to update. */
  readonly state: ProcessState
  /** Waits until `ready()` holds; it is checked at once and after every event of the process. */
  readonly until: (ready: () => boolean) => Effect.Effect<void>
  /** Waits for the process to exit. */
  readonly exitStatus: Effect.Effect<ExitStatus>
  /**
   * Stops the group (SIGTERM, SIGKILL after `killAfter`) unless the process
   * exited, then stops what it left in its group, waits for stderr's end and
   * closes the pipes. Runs once; the finalizer runs it too.
   */
  readonly terminate: Effect.Effect<void>
  /** The end of stderr so far, as text. */
  readonly stderr: () => string
}

/**
 * Which pipes the process gets; stderr is always piped (its end is kept).
 *
 * @since 0.1.0
 */
export interface Wiring {
  readonly stdin: "pipe" | "ignore"
  readonly stdout: "pipe" | "ignore"
}

/** Signals the process's group, or the process alone if that fails; a group already gone is fine. */
const signalGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {
      // Nothing left to signal.
    }
  }
}

const notStarted = (spec: CommandSpec, error: unknown) =>
  Effect.gen(function*() {
    const code = (error as NodeJS.ErrnoException | undefined)?.code
    const missingFolder = code === "ENOENT" && spec.cwd !== undefined &&
      (yield* Effect.promise(() => stat(spec.cwd ?? "").then(() => false, () => true)))
    const detail = missingFolder
      ? `could not be started: its working directory ${spec.cwd} does not exist`
      : code === "ENOENT"
      ? `could not be started: no program ${spec.program} was found`
      : code === "EACCES"
      ? `could not be started: ${spec.program} is not executable (permission denied)`
      : `could not be started: ${error instanceof Error ? error.message : String(error)}`
    return yield* new CommandFailed({
      reason: "NotStarted",
      command: spec.text,
      exitCode: undefined,
      signal: undefined,
      stderr: "",
      detail,
      cause: error
    })
  })

const start = (spec: CommandSpec, wiring: Wiring, settings: CommandSettings) =>
  Effect.async<RunningProcess, CommandFailed>((resume) => {
    let child: ChildProcess
    try {
      child = spawnChild(spec.program, spec.args, {
        stdio: [wiring.stdin, wiring.stdout, "pipe"],
        cwd: spec.cwd,
        env: spec.env,
        shell: spec.shell,
        detached: true
      })
    } catch (error) {
      // Refused before any process existed (a NUL byte in an argument, say).
      resume(notStarted(spec, error))
      return
    }
    const state: ProcessState = {
      exit: undefined,
      signalled: false,
      stdinBroken: false,
      stdinFinished: false,
      bytesWritten: 0,
      stdoutEnded: false,
      stdoutClosed: false,
      stdoutError: undefined,
      stderrClosed: false
    }
    const waiters = new Set<() => void>()
    const changed = () => {
      for (const waiter of [...waiters]) waiter()
    }
    const tail = new StderrTail(settings.stderrTail)
    let settled = false
    let startError: Error | undefined

    child.on("error", (error) => {
      // Before 'spawn' this is the failure to start; after, a failed kill, which the group kill covers.
      if (!settled) startError ??= error
      changed()
    })
    child.on("exit", (code, signal) => {
      state.exit = { code, signal }
      changed()
    })
    child.stdin?.on("error", () => {
      state.stdinBroken = true
      changed()
    })
    child.stdin?.on("drain", changed)
    child.stdin?.on("finish", () => {
      state.stdinFinished = true
      changed()
    })
    child.stdin?.on("close", changed)
    child.stdout?.on("error", (error) => {
      state.stdoutError = error
      changed()
    })
    child.stdout?.on("readable", changed)
    child.stdout?.on("end", () => {
      state.stdoutEnded = true
      changed()
    })
    child.stdout?.on("close", () => {
      state.stdoutClosed = true
      changed()
    })
    child.stderr?.on("error", changed)
    child.stderr?.on("data", (chunk: Buffer) => tail.add(chunk))
    child.stderr?.on("close", () => {
      state.stderrClosed = true
      changed()
    })

    const until = (ready: () => boolean) =>
      Effect.async<void>((wake) => {
        if (ready()) return wake(Effect.void)
        const waiter = () => {
          if (!ready()) return
          waiters.delete(waiter)
          wake(Effect.void)
        }
        waiters.add(waiter)
        return Effect.sync(() => {
          waiters.delete(waiter)
        })
      })

    const closePipes = () => {
      child.stdin?.destroy()
      child.stdout?.destroy()
      child.stderr?.destroy()
    }
    const exitStatus = Effect.map(until(() => state.exit !== undefined), () => state.exit ?? { code: null, signal: null })
    // The wait itself interruptible, or the timeout could not end it: terminate runs uninterruptibly.
    const within = <A>(wait: Effect.Effect<A>) => Effect.timeoutOption(Effect.interruptible(wait), settings.killAfter)
    let terminated = false
    const terminate = (pid: number) =>
      Effect.uninterruptible(Effect.suspend(() => {
        if (terminated) return Effect.void
        terminated = true
        return Effect.gen(function*() {
          if (state.exit === undefined) {
            state.signalled = true
            signalGroup(pid, "SIGTERM")
            const exited = yield* within(exitStatus)
            if (exited._tag === "None") {
              signalGroup(pid, "SIGKILL")
              yield* exitStatus
            }
          } else {
            // What the process left running in its group, if anything.
            signalGroup(pid, "SIGTERM")
          }
          // stderr ends once no process of the group holds it: its last lines are in.
          const closed = yield* within(until(() => state.stderrClosed))
          if (closed._tag === "None") {
            signalGroup(pid, "SIGKILL")
            yield* within(until(() => state.stderrClosed))
          }
          // The process is gone: closing our ends now cannot pass for the end of its input.
          closePipes()
        })
      }))

    const settle = () => {
      if (settled) return
      if (startError !== undefined) {
        settled = true
        closePipes()
        return resume(notStarted(spec, startError))
      }
      const pid = child.pid
      if (pid === undefined) return
      settled = true
      resume(Effect.succeed({
        spec,
        pid,
        stdin: child.stdin,
        stdout: child.stdout,
        state,
        until,
        exitStatus,
        terminate: terminate(pid),
        stderr: () => tail.text()
      }))
    }
    child.on("spawn", settle)
    child.on("error", settle)
  })

/**
 * Starts the process; the scope's finalizer stops it (see `terminate`).
 *
 * @since 0.1.0
 */
export const spawn = (
  spec: CommandSpec,
  wiring: Wiring,
  settings: CommandSettings
): Effect.Effect<RunningProcess, CommandFailed, Scope.Scope> =>
  Effect.acquireRelease(start(spec, wiring, settings), (running) => running.terminate)

/**
 * The failure a process's exit other than status 0 means; its end of stderr is read now.
 *
 * @since 0.1.0
 */
export const exitFailure = (running: RunningProcess, status: ExitStatus): CommandFailed => {
  const signal = status.signal ?? undefined
  return new CommandFailed({
    reason: status.code === null ? "Signal" : "ExitCode",
    command: running.spec.text,
    exitCode: status.code ?? undefined,
    signal,
    stderr: running.stderr(),
    detail: status.code === null ? `was killed by signal ${signal ?? "(unknown)"}` : `exited with status ${status.code}`,
    cause: undefined
  })
}
