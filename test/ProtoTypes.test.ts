import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const committed = join(root, "src/internal/generated")

const filesUnder = (folder: string): Array<string> =>
  readdirSync(folder, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? filesUnder(join(folder, entry.name)) : [join(folder, entry.name)]
    )

const snapshot = (folder: string): Record<string, string> =>
  Object.fromEntries(
    filesUnder(folder).sort().map((file) => [relative(folder, file), readFileSync(file, "utf8")])
  )

describe("generated message types", () => {
  it("are what `npm run proto:types` makes from proto/ today", () => {
    const scratch = mkdtempSync(join(tmpdir(), "bro-agent-proto-types-"))
    try {
      execFileSync(process.execPath, [join(root, "scripts/proto-types.mjs"), scratch], { stdio: "pipe" })
      const fresh = snapshot(scratch)
      expect(Object.keys(fresh).length).toBeGreaterThan(30)
      expect(snapshot(committed)).toEqual(fresh)
    } finally {
      rmSync(scratch, { recursive: true, force: true })
    }
  })
})
