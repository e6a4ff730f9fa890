// Commands.stdout and Commands.runWithInput against real processes (sh,
// cat, head, perl), on the real clock: their pipes, exits and signals are
// the system's. The SIGKILL after killAfter is timed on the TestClock, in
// CommandsKillAfter.test.ts.
import * as Command from "@effect/platform/Command"
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Cause, Chunk, Data, Deferred, Duration, Effect, Exit, Fiber, Option, Queue, Random, Ref, Schedule, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { join } from "node:path"
import * as Commands from "../../src/behavior/Commands.js"
import { layerLive } from "../support/layers.js"
import { tempFolder } from "../support/orchestratorHarness.js"
import { gone, pidsIn, unhandledErrors } from "./CommandsSupport.js"

class InputBroke extends Data.TaggedError("InputBroke")<{ readonly at: number }> {}

/** How often a test looks for the pid a process writes as it starts. */
const untilWritten = Schedule.intersect(Schedule.spaced("10 millis"), Schedule.recurs(1000))

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")

/** `count` chunks of `size` bytes, made as they are pulled; `pulled` counts them. */
const chunks = (count: number, size: number, pulled: Ref.Ref<number>) =>
  Stream.range(1, count).pipe(
    Stream.mapEffect(() => Effect.as(Ref.update(pulled, (n) => n + 1), new Uint8Array(size).fill(97)))
  )

/** The lines a command prints, as they come. */
const lines = (command: Command.Command) => Commands.stdout(command).pipe(Stream.decodeText(), Stream.splitLines)

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => (Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none())

layerLive(NodeContext.layer)("Commands.stdout", (it) => {
  it.scoped("streams a large output whole, and ends once the process exited with 0", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = join(yield* tempFolder, "random.bin")
      const bytes = randomBytes(20_000_000)
      yield* fs.writeFile(file, bytes)
      const hash = createHash("md5")
      let size = 0
      yield* Stream.runForEach(Commands.stdout(Command.make("cat", file)), (chunk) =>
        Effect.sync(() => {
          hash.update(chunk)
          size += chunk.length
        }))
      expect(size).toBe(bytes.length)
      expect(hash.digest("hex")).toBe(md5(bytes))
    }))

  it.scoped("fails a non-zero exit with its status and the end of stderr", () =>
    Effect.gen(function*() {
      const command = Command.make("sh", "-c", `head -c 6000 /dev/zero | tr '\\0' a >&2; printf ' the end\\n' >&2; exit 3`)
      const error = yield* Effect.flip(Stream.runDrain(Commands.stdout(command)))
      expect(error).toMatchObject({ _tag: "CommandFailed", reason: "ExitCode", exitCode: 3, signal: undefined })
      expect(error.detail).toBe("exited with status 3")
      // 4096 bytes of the end, trimmed: what came before is dropped.
      expect(error.stderr).toBe(`${"a".repeat(4096 - " the end\n".length)} the end`.trim())
      expect(error.message).toBe(`sh -c 'head -c 6000 /dev/zero | tr '\\''\\0'\\'' a >&2; printf '\\'' the end\\n'\\'' >&2; exit 3' exited with status 3: ${error.stderr}`)
    }))

  it.scoped("keeps stderr's end valid UTF-8 when the cut falls inside a character", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Stream.runDrain(Commands.stdout(Command.make("sh", "-c", "printf 'ééé' >&2; exit 1"), { stderrTail: 5 }))
      )
      expect(error.stderr).toBe("éé")
    }))

  it.scoped("fails a missing program as NotStarted, in one clear sentence", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Stream.runDrain(Commands.stdout(Command.make("no-such-program-15", "--flag"))))
      expect(error).toMatchObject({ reason: "NotStarted", exitCode: undefined, stderr: "" })
      expect(error.message).toBe("no-such-program-15 --flag could not be started: no program no-such-program-15 was found")
    }))

  it.scoped("fails a missing working directory as NotStarted, naming it", () =>
    Effect.gen(function*() {
      const folder = join(yield* tempFolder, "missing")
      const error = yield* Effect.flip(Stream.runDrain(Commands.stdout(Command.make("ls").pipe(Command.workingDirectory(folder)))))
      expect(error.reason).toBe("NotStarted")
      expect(error.message).toBe(`ls could not be started: its working directory ${folder} does not exist`)
    }))

  it.scoped("refuses a piped Command as Unsupported, pointing to a shell with pipefail", () =>
    Effect.gen(function*() {
      const piped = Command.make("echo", "a").pipe(Command.pipeTo(Command.make("cat")))
      const error = yield* Effect.flip(Stream.runDrain(Commands.stdout(piped)))
      expect(error).toMatchObject({ reason: "Unsupported", command: "echo a | cat" })
      expect(error.message).toContain("set -o pipefail")
      const input = yield* Effect.flip(Commands.runWithInput(piped, Stream.empty))
      expect(input.reason).toBe("Unsupported")
    }))

  it.scoped("passes the environment and working directory of the Command", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const command = Command.make("sh", "-c", "printf '%s %s' \"$GREETING\" \"$(pwd)\"").pipe(
        Command.env({ GREETING: "hello" }),
        Command.workingDirectory(folder)
      )
      const text = yield* Stream.runCollect(Stream.decodeText(Commands.stdout(command))).pipe(Effect.map(Chunk.join("")))
      const fs = yield* FileSystem.FileSystem
      expect(text).toBe(`hello ${yield* fs.realPath(folder)}`)
    }))

  it.scoped("kills the process and its whole group when the stream is interrupted", () =>
    Effect.gen(function*() {
      const printed = yield* Queue.unbounded<string>()
      const reading = yield* Effect.fork(
        Stream.runForEach(lines(Command.make("sh", "-c", "sleep 1000 & echo $!; echo $$; wait")), (line) => Queue.offer(printed, line))
      )
      const background = Number(yield* Queue.take(printed))
      const shell = Number(yield* Queue.take(printed))
      expect(gone(shell) || gone(background)).toBe(false)
      yield* Fiber.interrupt(reading)
      expect(gone(shell)).toBe(true)
      expect(gone(background)).toBe(true)
    }))

  it.scoped("kills the process when the stream ends early", () =>
    Effect.gen(function*() {
      const [pid] = yield* Stream.runCollect(Stream.take(lines(Command.make("sh", "-c", "echo $$; exec sleep 1000")), 1))
      expect(gone(Number(pid))).toBe(true)
    }))
})

layerLive(NodeContext.layer)("Commands.runWithInput", (it) => {
  it.scoped("pipes the whole input and succeeds with status 0 and the bytes written", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* tempFolder
      const pulled = yield* Ref.make(0)
      const result = yield* Commands.runWithInput(
        Command.make("sh", "-c", "cat > copy; echo copied >&2").pipe(Command.workingDirectory(folder)),
        chunks(300, 65536, pulled)
      )
      expect(result).toEqual({ command: "sh -c 'cat > copy; echo copied >&2'", exitCode: 0, stderr: "copied", bytesWritten: 300 * 65536 })
      const copy = yield* fs.readFile(join(folder, "copy"))
      expect(copy.length).toBe(300 * 65536)
      expect(copy.every((byte) => byte === 97)).toBe(true)
    }))

  it.scoped("fails with the status and stderr of a tool that exits with 1 while input still flows, not with EPIPE", () =>
    Effect.gen(function*() {
      const pulled = yield* Ref.make(0)
      const error = yield* Effect.flip(Commands.runWithInput(
        Command.make("sh", "-c", "head -c 10 > /dev/null; echo 'not an archive' >&2; exit 1"),
        chunks(100_000, 65536, pulled)
      ))
      expect(error).toMatchObject({ _tag: "CommandFailed", reason: "ExitCode", exitCode: 1, stderr: "not an archive" })
      expect(error.message).toBe("sh -c 'head -c 10 > /dev/null; echo '\\''not an archive'\\'' >&2; exit 1' exited with status 1: not an archive")
      // The input was stopped, not read to its end.
      expect(yield* Ref.get(pulled)).toBeLessThan(100_000)
    }))

  it.scoped("fails with a non-zero status after the whole input", () =>
    Effect.gen(function*() {
      const pulled = yield* Ref.make(0)
      const error = yield* Effect.flip(
        Commands.runWithInput(Command.make("sh", "-c", "cat > /dev/null; echo 'bad data' >&2; exit 4"), chunks(10, 1000, pulled))
      )
      expect(error).toMatchObject({ reason: "ExitCode", exitCode: 4, stderr: "bad data" })
      expect(yield* Ref.get(pulled)).toBe(10)
    }))

  it.scoped("drains the rest of the input when the tool closes its stdin early and exits with 0", () =>
    Effect.gen(function*() {
      const pulled = yield* Ref.make(0)
      const result = yield* Commands.runWithInput(Command.make("head", "-c", "10"), chunks(400, 65536, pulled))
      expect(result.exitCode).toBe(0)
      expect(result.bytesWritten).toBeLessThan(400 * 65536)
      expect(yield* Ref.get(pulled)).toBe(400)
    }))

  it.scoped("fails with the input's error still after an early exit with 0", () =>
    Effect.gen(function*() {
      const pulled = yield* Ref.make(0)
      const input = Stream.concat(chunks(200, 65536, pulled), Stream.fail(new InputBroke({ at: 200 })))
      const error = yield* Effect.flip(Commands.runWithInput(Command.make("head", "-c", "10"), input))
      expect(error).toEqual(new InputBroke({ at: 200 }))
    }))

  it.scoped("kills the process on a failing input, with no end of input it could take for complete, and fails with the input's error", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const fs = yield* FileSystem.FileSystem
      const pulled = yield* Ref.make(0)
      const pidFile = join(folder, "pid")
      // It ignores SIGTERM, so only SIGKILL stops it; had its stdin been ended, cat
      // would have returned and the shell written "complete".
      const command = Command.make("sh", "-c", "trap '' TERM; echo $$ > pid; cat > /dev/null && echo complete > marker")
        .pipe(Command.workingDirectory(folder))
      const input = Stream.concat(
        chunks(5, 65536, pulled),
        Stream.fromEffect(pidsIn(pidFile).pipe(Effect.filterOrFail((pids) => pids.length === 1), Effect.retry(untilWritten))).pipe(
          Stream.drain
        )
      ).pipe(Stream.concat(Stream.fail(new InputBroke({ at: 5 }))))
      const error = yield* Effect.flip(Commands.runWithInput(command, input, { killAfter: "100 millis" }))
      expect(error).toEqual(new InputBroke({ at: 5 }))
      const [pid] = yield* pidsIn(pidFile)
      expect(gone(pid ?? 0)).toBe(true)
      expect(yield* fs.exists(join(folder, "marker"))).toBe(false)
    }))

  it.scoped("stops the input before it kills the process when interrupted", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const fs = yield* FileSystem.FileSystem
      const pidFile = join(folder, "pid")
      const events = join(folder, "events")
      // It notes SIGTERM, and writes its pid only once it would (a shell may put a trap off
      // until its foreground command returned, which cat never does here).
      const tool = [
        `$SIG{TERM} = sub { open(my $events, ">>", "events"); print $events "TERM\n"; close($events); exit 143 };`,
        `open(my $pid, ">", "pid"); print $pid "$$\n"; close($pid);`,
        `while (sysread(STDIN, my $chunk, 65536)) {}`
      ].join(" ")
      const command = Command.make("perl", "-e", tool).pipe(Command.workingDirectory(folder))
      const started = yield* Deferred.make<number>()
      const atInputEnd = yield* Deferred.make<{ readonly alive: boolean; readonly terminated: boolean }>()
      const pulled = yield* Ref.make(0)
      const input = Stream.concat(
        chunks(3, 65536, pulled),
        Stream.fromEffect(
          pidsIn(pidFile).pipe(
            Effect.filterOrFail((pids) => pids.length === 1),
            Effect.retry(untilWritten),
            Effect.flatMap(([pid]) => Deferred.succeed(started, pid ?? 0))
          )
        ).pipe(Stream.drain, Stream.concat(Stream.never))
      ).pipe(
        Stream.ensuring(Effect.gen(function*() {
          const pid = yield* Deferred.await(started)
          const terminated = (yield* fs.exists(events)) && (yield* fs.readFileString(events)).includes("TERM")
          yield* Deferred.succeed(atInputEnd, { alive: !gone(pid), terminated })
        }).pipe(Effect.orDie))
      )
      const running = yield* Effect.fork(Commands.runWithInput(command, input))
      const pid = yield* Deferred.await(started)
      yield* Fiber.interrupt(running)
      // When the input ended, the process was still running and not told to stop...
      expect(yield* Deferred.await(atInputEnd)).toEqual({ alive: true, terminated: false })
      // ...and it was then stopped with SIGTERM, and waited for.
      expect(gone(pid)).toBe(true)
      expect(yield* fs.readFileString(events)).toBe("TERM\n")
    }))

  it.scoped("never leaves an unhandled error or a process, interrupted at 50 random moments", () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const pidFile = join(folder, "pids")
      const unhandled = yield* unhandledErrors
      const slowReader = "binmode STDIN; while (sysread(STDIN, my $chunk, 65536)) { select(undef, undef, undef, 0.001) }"
      const tools = [
        "cat > /dev/null",
        `perl -e '${slowReader}'`,
        "head -c 1000",
        "head -c 70000 > /dev/null; exit 2",
        "exit 0"
      ]
      const pulled = yield* Ref.make(0)
      for (let round = 0; round < 50; round++) {
        const tool = tools[yield* Random.nextIntBetween(0, tools.length)] ?? "cat"
        const chunkCount = yield* Random.nextIntBetween(1, 200)
        const run = round % 5 === 4
          // One round in five streams stdout instead, read slowly.
          ? Stream.runForEach(
            Commands.stdout(Command.make("sh", "-c", `echo $$ >> "$0"; exec head -c 100000000 /dev/zero`, pidFile)),
            () => Effect.yieldNow()
          )
          : Commands.runWithInput(
            Command.make("sh", "-c", `echo $$ >> "$0"; ${tool}`, pidFile),
            chunks(chunkCount, 65536, pulled)
          )
        const fiber = yield* Effect.fork(run)
        // Only provokes different interleavings; nothing below depends on it.
        yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 60)))
        const exit = yield* Fiber.interrupt(fiber)
        // Whatever it ended with, it is never a defect.
        expect(Exit.isFailure(exit) ? Cause.isDie(exit.cause) : false, `round ${round}: ${String(exit)}`).toBe(false)
        const failure = failureOf(exit)
        if (Option.isSome(failure)) expect(failure.value._tag).toBe("CommandFailed")
        for (const pid of yield* pidsIn(pidFile)) expect(gone(pid), `round ${round}: process ${pid}`).toBe(true)
        expect(unhandled.map(String), `round ${round}`).toEqual([])
      }
    }), 120_000)
})
