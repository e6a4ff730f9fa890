/**
 * `node --import register-bro-agent.js …`: resolves `bro-agent` to the
 * library compiled beside the benchmark (see `bro-agent-hooks.ts`).
 */
import { register } from "node:module"

register("./bro-agent-hooks.js", import.meta.url)
