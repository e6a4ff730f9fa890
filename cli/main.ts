#!/usr/bin/env node
/**
 * The `bro-agent` executable: runs `Cli.run` on the process's arguments and
 * exits with its code. SIGINT and SIGTERM interrupt it, which closes the
 * orchestrator's servers (or stops waiting for an action) and exits with 0.
 *
 * @since 0.1.0
 */
// Modules by path rather than the packages' indexes: loading every module of
// @effect/platform-node would double the start-up time of each command.
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import * as Cli from "./Cli.js"

NodeRuntime.runMain(
  Cli.run(process.argv.slice(2), {
    color: process.stdout.isTTY === true && process.stderr.isTTY === true,
    terminal: process.stdout.isTTY === true
  }).pipe(Effect.provide(FetchHttpClient.layer)),
  {
    // `Cli.run` prints every problem itself.
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      const code = Exit.isSuccess(exit)
        ? (typeof exit.value === "number" ? exit.value : Cli.ExitCode.failure)
        : Cause.isInterruptedOnly(exit.cause)
        ? Cli.ExitCode.success
        : Cli.ExitCode.failure
      // Let Node finish writing the output before it exits.
      process.exitCode = code
      onExit(code)
    }
  }
)
