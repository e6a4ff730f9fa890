// Prints the peers that the README's install line names (`effect@^3.22.2 ...`,
// one a line), after checking that they are exactly the package's peer
// dependencies with the same ranges: the check installs what users are told to.
import { readFileSync } from "node:fs"

const [readmePath, packagePath] = process.argv.slice(2)
const fail = (reason) => {
  console.error(`pack-check: FAILED: ${reason}`)
  process.exit(1)
}

const line = readFileSync(readmePath, "utf8").split("\n").find((text) => text.startsWith("npm install bro-agent "))
if (line === undefined) fail(`${readmePath} has no line starting "npm install bro-agent "`)
const named = line.replace(/#.*/, "").trim().split(/\s+/).slice(3)
const peers = JSON.parse(readFileSync(packagePath, "utf8")).peerDependencies ?? {}
const expected = Object.entries(peers).map(([name, range]) => `${name}@${range}`)
const missing = expected.filter((spec) => !named.includes(spec))
const extra = named.filter((spec) => !expected.includes(spec))
if (missing.length > 0 || extra.length > 0) {
  fail(
    `the README's install line (${line.trim()}) does not name the peer dependencies of package.json: ` +
      [missing.length > 0 ? `missing ${missing.join(" ")}` : "", extra.length > 0 ? `unexpected ${extra.join(" ")}` : ""]
        .filter((text) => text.length > 0).join(", ")
  )
}
console.log(named.join("\n"))
