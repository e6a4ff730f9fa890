import { fileURLToPath } from "node:url"
import { configDefaults, defineConfig } from "vitest/config"
import { quietLog } from "./test/support/quietLogs.js"

// The examples import the package by its name, as a user's code does; in the
// tests that name means the sources (tsconfig.json's `paths` says the same to
// the compiler; the build resolves it to dist/ through package.json's exports).
const source = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export const alias = [
  { find: /^bro-agent$/, replacement: source("./src/index.ts") },
  { find: /^bro-agent\/orchestrator$/, replacement: source("./orchestrator/index.ts") },
  { find: /^bro-agent\/promise$/, replacement: source("./src/promise.ts") },
  { find: /^bro-agent\/testing$/, replacement: source("./src/testing.ts") }
]

export default defineConfig({
  resolve: { alias },
  test: {
    include: ["test/**/*.test.ts"],
    // The PostgreSQL suite needs a PostgreSQL installation: `npm run test:postgres`.
    exclude: [...configDefaults.exclude, "test/postgres/**"],
    // Effect's log lines below TEST_LOG_LEVEL (default Error) stay off the output.
    onConsoleLog: quietLog,
    // Two test files at a time: most of a file's time is spent waiting on
    // sockets, processes and files, and vitest's default on a 2-core machine
    // (cores - 1) ran them one by one, 270 s where two take 175 s.
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
