/**
 * What a service not written with Effect writes with `bro-agent/promise`,
 * type-checked against the installed package: `async` stages with an
 * `AbortSignal`, fragment files as bytes and Node streams, failures as the
 * Effect API's own error classes.
 */
import { FailedToDownload, RegistrationRejected, startAgent } from "bro-agent/promise"
import type { AgentBehavior, RunningAgent } from "bro-agent/promise"
import { Readable } from "node:stream"

const expectBytes = (chunk: unknown): void => {
  if (!(chunk instanceof Uint8Array)) throw new TypeError("a download stream gives bytes")
}

const behavior: AgentBehavior = {
  registration: {
    agentId: "typed-promise-agent",
    softwareVersion: {
      productName: "Pack check",
      productNumber: "APR 901 0098",
      revision: "R1A",
      productionDate: "2026-11-25",
      description: "Two fragments, as bytes and as a stream",
      type: "Check"
    }
  },
  async executeBackup(context, signal) {
    await context.sendFragment({
      fragmentId: "bytes",
      version: "1.0",
      backupFile: { name: "bytes.txt", bytes: "some bytes" }
    })
    signal.throwIfAborted()
    const sent = await context.sendFragment({
      fragmentId: "stream",
      version: "1.0",
      backupFile: { name: "stream.txt", stream: Readable.from(["a stream"]) }
    })
    return `Sent ${sent.backupFile.size} bytes of ${sent.fragment.fragmentId}`
  },
  async executeRestore(context) {
    for (const fragment of context.fragments) {
      try {
        for await (const chunk of context.downloadFragmentStream(fragment)) expectBytes(chunk)
      } catch (error) {
        if (error instanceof FailedToDownload) return `Could not download ${error.fragmentId}`
        throw error
      }
    }
    return undefined
  }
}

/** Runs the agent until it stops, answering whether the orchestrator refused it. */
export const runUntilRefused = async (): Promise<boolean> => {
  const agent: RunningAgent = await startAgent(behavior, { transport: { host: "127.0.0.1", port: 3000 } })
  try {
    await agent.join()
    return false
  } catch (error) {
    return error instanceof RegistrationRejected
  } finally {
    await agent.stop()
  }
}
