/**
 * An example agent in plain JavaScript, on `bro-agent/promise`: it backs up
 * the regular files of one folder, one fragment per file, and restores them
 * into that folder. Files the backup does not hold are left alone.
 *
 * Run it against an orchestrator (a real BRO or `bro-agent orchestrator`),
 * from a checkout after `npm run build` or from an app where `bro-agent` is
 * installed:
 *
 * ```sh
 * ORCHESTRATOR_HOST=127.0.0.1 ORCHESTRATOR_PORT=3000 node examples/promise-agent.mjs my-agent /data
 * ```
 *
 * The agent id and the folder are the first two arguments, or `AGENT_ID`
 * (default `promise-agent`) and `AGENT_FOLDER`. The orchestrator's address,
 * TLS and the data channel's settings are read from the environment:
 * `ORCHESTRATOR_HOST`, `ORCHESTRATOR_PORT`, `ORCHESTRATOR_TLS_CA_FILE`,
 * `AGENT_FRAGMENT_CHUNK_SIZE`, ... It stops on SIGINT or SIGTERM.
 */
import { startAgent } from "bro-agent/promise"
import { readdir, realpath } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The agent's behaviour, for the folder `folder`.
 *
 * @param {{ agentId: string, folder: string }} options
 */
export const folderAgent = ({ agentId, folder }) => ({
  registration: {
    agentId,
    softwareVersion: {
      productName: "Folder",
      productNumber: "APR 901 0003",
      revision: "R1A",
      productionDate: "2026-11-25",
      description: `The files of ${folder}`,
      type: "Folder"
    }
  },

  async executeBackup(context, signal) {
    const entries = await readdir(folder, { withFileTypes: true })
    const files = entries.filter((entry) => entry.isFile()).map((entry) => entry.name).sort()
    for (const [index, name] of files.entries()) {
      // A cancel aborts the signal and stops the transfer under way; stop here too.
      signal.throwIfAborted()
      await context.sendFragment({
        fragmentId: `${agentId}_${index}`,
        version: "1.0",
        customInformation: { file: name },
        backupFile: join(folder, name)
      })
    }
    return `Sent ${files.length} files of ${folder}`
  },

  async executeRestore(context, signal) {
    for (const fragment of context.fragments) {
      signal.throwIfAborted()
      // Written under a temporary name and renamed once its checksum matched.
      await context.downloadFragment(fragment, folder)
    }
    return `Restored ${context.fragments.length} files into ${folder}`
  }
})

const main = async () => {
  const [agentId = process.env.AGENT_ID ?? "promise-agent", folder = process.env.AGENT_FOLDER] = process.argv.slice(2)
  if (folder === undefined || folder === "") {
    console.error("usage: node promise-agent.mjs [agent-id] <folder>  (or AGENT_ID and AGENT_FOLDER)")
    process.exitCode = 2
    return
  }
  const agent = await startAgent(folderAgent({ agentId, folder }))
  console.log(`Backing up ${folder} as agent ${agentId}`)
  let last = ""
  agent.onStatus((status) => {
    const line = `${status.connection._tag}${status.action === undefined ? "" : ` ${status.action.action} ${status.action.stage}`}`
    if (line !== last) console.log(line)
    last = line
  })
  const stop = () => void agent.stop()
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  try {
    await agent.join()
  } catch (error) {
    console.error(error.message)
    process.exitCode = 1
  } finally {
    await agent.stop()
  }
}

// Run only when started as a program, so that a test can import `folderAgent`.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === await realpath(process.argv[1])) {
  await main()
}
