// Checks the installed package against its own package.json: every export
// and the bin name a file that is there, and every source map (of code and of
// declarations) points at sources that are there too.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"

const root = resolve(process.argv[2])
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const problems = []

const targets = (value) =>
  value === null ? [] : typeof value === "string" ? [value] : Object.values(value).flatMap(targets)
for (const [entry, value] of Object.entries(manifest.exports)) {
  for (const target of targets(value)) {
    if (target.includes("*")) continue
    if (!existsSync(join(root, target))) problems.push(`export ${entry} names ${target}, which is not in the package`)
  }
}
for (const [name, target] of Object.entries(typeof manifest.bin === "string" ? { [manifest.name]: manifest.bin } : manifest.bin)) {
  if (!existsSync(join(root, target))) problems.push(`bin ${name} names ${target}, which is not in the package`)
}

const files = (folder) =>
  readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(folder, entry.name)) : [join(folder, entry.name)]
  )
const maps = files(join(root, "dist")).filter((path) => path.endsWith(".map"))
for (const map of maps) {
  const { sourceRoot = "", sources } = JSON.parse(readFileSync(map, "utf8"))
  for (const source of sources) {
    const path = resolve(dirname(map), sourceRoot, source)
    if (!existsSync(path)) problems.push(`${map.slice(root.length + 1)} points at ${source}, which is not in the package`)
  }
}

if (problems.length > 0) {
  console.error(`pack-check: FAILED: the package's files do not match its package.json:\n  ${problems.join("\n  ")}`)
  process.exit(1)
}
console.log(`pack-check: every export, the bin and ${maps.length} source maps resolve in the package`)
