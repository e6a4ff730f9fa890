/**
 * A module resolution hook for the benchmarks' child processes that run an
 * example: the examples import the library by its name, `bro-agent`, as a
 * user's code does; here that name means the library compiled beside the
 * benchmark (`bench/.build/src`), as tsconfig.json's `paths` says to the
 * compiler and vitest's alias to the tests. Registered by
 * `register-bro-agent.ts` (`node --import`).
 */
const entries: Record<string, string> = {
  "bro-agent": "../../src/index.js",
  "bro-agent/orchestrator": "../../orchestrator/index.js",
  "bro-agent/promise": "../../src/promise.js"
}

interface ResolveResult {
  readonly url: string
  readonly shortCircuit?: boolean
}

export const resolve = (
  specifier: string,
  context: unknown,
  next: (specifier: string, context: unknown) => Promise<ResolveResult>
): Promise<ResolveResult> => {
  const entry = entries[specifier]
  return next(entry === undefined ? specifier : new URL(entry, import.meta.url).href, context)
}
