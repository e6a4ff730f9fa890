// Generates the TypeScript types of the wire messages from proto/ with
// proto-loader's own generator, then adds the `.js` extensions that ESM
// (module resolution NodeNext) requires on relative imports.
//
//   node scripts/proto-types.mjs [outDir]   (default: src/internal/generated)
//
// test/ProtoTypes.test.ts runs it into a temporary folder and compares the
// result with the committed files, so the committed types cannot drift.
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const outDir = resolve(process.argv[2] ?? join(root, "src/internal/generated"))
const generator = createRequire(import.meta.url).resolve("@grpc/proto-loader/build/bin/proto-loader-gen-types.js")

rmSync(outDir, { recursive: true, force: true })
// Only the two service files are named: the others come in through their
// imports. Naming the package-less files too would make the generator write
// two different files to one path (`Fragment.ts` is both the message and the
// file's own type).
execFileSync(process.execPath, [
  generator,
  "--keepCase",
  "--longs=String",
  "--enums=String",
  "--defaults",
  "--grpcLib=@grpc/grpc-js",
  `--outDir=${outDir}`,
  "-I",
  ".",
  "--",
  "INT_BR_ORCH_CTRL.proto",
  "INT_BR_ORCH_DATA.proto"
], { cwd: join(root, "proto"), stdio: ["ignore", "ignore", "inherit"] })

const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]
  )
for (const file of walk(outDir)) {
  const text = readFileSync(file, "utf8")
  writeFileSync(file, text.replace(/from '(\.{1,2}\/[^']*)'/g, "from '$1.js'"))
}
