import { defineConfig } from "vitest/config"
import { alias } from "./vitest.config.js"

// `npm run test:postgres`: the example PostgreSQL agent end to end against a
// throwaway cluster (test/postgres/cluster.ts), with the main suite's
// aliases. The files run one after another: each starts its own cluster, and
// the cancel tests move a few hundred MB, which two cores should not do twice
// at once.
export default defineConfig({
  resolve: { alias },
  test: {
    include: ["test/postgres/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000
  }
})
