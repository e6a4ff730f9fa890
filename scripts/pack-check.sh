#!/usr/bin/env bash
# The package as a user installs it. Packs the tarball, installs only it and
# the peers the README's install line names into a fresh app, then checks:
# one copy of Effect; nothing under internal/ importable; every export, the
# bin and the source maps resolve; a small agent, a small orchestrator client,
# a small promise agent and a small test-kit run type-check against the four
# entry points with
# `strict`, `skipLibCheck: false` and no DOM lib; and the packed `bro-agent
# orchestrator` backs up and restores two agents, the compiled one and the
# plain JavaScript example on `bro-agent/promise`, through the packed
# `bro-agent` command.
#
# Needs the npm registry (for the peers), nothing else. Ends with
# "pack-check: passed", or "pack-check: FAILED: <why>" and exit code 1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fixtures="$root/scripts/pack-check"
work="$(mktemp -d "${TMPDIR:-/tmp}/bro-agent-pack-check.XXXXXX")"
app="$work/app"
pids=()

say() { echo "pack-check: $*"; }
fail() {
  echo "pack-check: FAILED: $*" >&2
  exit 1
}

# Stops what the check started (SIGTERM, then SIGKILL after 10 seconds) and
# removes its folder, whichever way the check ends.
cleanup() {
  local pid deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Shows a log when the step that wrote it fails.
show() {
  echo "----- $1" >&2
  cat "$2" >&2 || true
  echo "-----" >&2
}

# Waits up to 30 seconds until the file has a line matching the pattern, while
# the process writing it runs.
await_line() {
  local file="$1" pattern="$2" pid="$3" what="$4" deadline=$((SECONDS + 30))
  until grep -Eqs "$pattern" "$file"; do
    kill -0 "$pid" 2>/dev/null || { show "$what" "$file"; fail "$what exited before printing /$pattern/"; }
    ((SECONDS < deadline)) || { show "$what" "$file"; fail "$what printed no /$pattern/ within 30 seconds"; }
    sleep 0.2
  done
}

# What the README tells users to install beside the package.
named="$(node "$fixtures/install-line.mjs" "$root/README.md" "$root/package.json")"
mapfile -t peers <<<"$named"

# `npm pack` runs `prepare`, which builds dist/.
say "packing"
mkdir -p "$work/pack" "$app"
(cd "$root" && npm pack --pack-destination "$work/pack" --silent >"$work/pack.log" 2>&1) ||
  { show "npm pack" "$work/pack.log"; fail "npm pack failed"; }
tarballs=("$work/pack"/*.tgz)
((${#tarballs[@]} == 1)) && [[ -f "${tarballs[0]}" ]] || fail "npm pack made no single tarball"
tarball="${tarballs[0]}"

say "installing $(basename "$tarball") ${peers[*]} into a fresh app"
cp "$fixtures"/{package.json,tsconfig.json,agent.ts,orchestrator.ts,promise.ts,testing.ts} "$root/examples/promise-agent.mjs" "$app/"
(cd "$app" && npm install --no-audit --no-fund "$tarball" "${peers[@]}" typescript@~5.9.3 @types/node@^20 \
  >"$work/install.log" 2>&1) || { show "npm install" "$work/install.log"; fail "npm install failed"; }

for package in effect @effect/platform @effect/platform-node; do
  copies="$(find "$app/node_modules" -path "*/node_modules/$package/package.json" | wc -l)"
  ((copies == 1)) || fail "$copies copies of $package are installed, not 1: $(cd "$app" && npm ls "$package" --all)"
done
say "one copy each of effect, @effect/platform and @effect/platform-node"

node "$fixtures/package-files.mjs" "$app/node_modules/bro-agent"

(cd "$app" && node --input-type=module -e 'for (const entry of ["bro-agent", "bro-agent/orchestrator", "bro-agent/promise"]) await import(entry)') ||
  fail "the entry points do not load"
if internal="$(cd "$app" && node -e 'import("bro-agent/internal/Wire.js")' 2>&1)"; then
  fail "bro-agent/internal/Wire.js can be imported"
fi
grep -q ERR_PACKAGE_PATH_NOT_EXPORTED <<<"$internal" ||
  fail "importing bro-agent/internal/Wire.js failed otherwise than with ERR_PACKAGE_PATH_NOT_EXPORTED: $internal"
say "the entry points load; bro-agent/internal/* is not exported"

(cd "$app" && npx --no-install tsc -p . >"$work/tsc.log" 2>&1) || { show "tsc" "$work/tsc.log"; fail "the app does not type-check"; }
say "agent.ts, orchestrator.ts, promise.ts and testing.ts type-check (strict, skipLibCheck false, lib ES2022, types node)"

# The test kit, as a user's test runs it: a backup and a restore of the
# compiled check agent's behaviour, from the packed bro-agent/testing.
(cd "$app" && node build/testing.js) >"$work/testing.log" 2>&1 || { show "testing.js" "$work/testing.log"; fail "the test kit's run failed"; }
grep -q '^testing: passed$' "$work/testing.log" || { show "testing.js" "$work/testing.log"; fail "testing.js did not pass"; }
say "bro-agent/testing backs up and restores a behaviour from the packed package"

# The bin itself rather than `npx bro-agent`: npm exec does not pass SIGTERM
# on, so the orchestrator would outlive the check.
"$app/node_modules/.bin/bro-agent" orchestrator --port 0 --http-port 0 --storage "$work/storage" \
  >"$work/orchestrator.log" 2>&1 &
pids+=($!)
await_line "$work/orchestrator.log" '^REST API on http://' "${pids[-1]}" "bro-agent orchestrator"
grpc_port="$(sed -nE 's/^Development orchestrator listening for agents \(gRPC\) on .*:([0-9]+)$/\1/p' "$work/orchestrator.log")"
url="$(sed -nE 's/^REST API on (http:\/\/.*)$/\1/p' "$work/orchestrator.log")"
[[ -n "$grpc_port" && -n "$url" ]] || { show "bro-agent orchestrator" "$work/orchestrator.log"; fail "cannot read the ports"; }
say "bro-agent orchestrator listens on gRPC port $grpc_port, REST $url"

(cd "$app" && exec env ORCHESTRATOR_PORT="$grpc_port" AGENT_ID=pack-check-agent node build/agent.js) \
  >"$work/agent.log" 2>&1 &
pids+=($!)
await_line "$work/agent.log" 'pack-check-agent: Registered' "${pids[-1]}" "the agent"

# The promise agent backs up this folder; the restore must bring back what
# the file held at the backup.
mkdir "$work/folder"
echo "at the backup" >"$work/folder/notes.txt"
(cd "$app" && exec env ORCHESTRATOR_HOST=127.0.0.1 ORCHESTRATOR_PORT="$grpc_port" \
  node promise-agent.mjs pack-check-promise-agent "$work/folder") >"$work/promise-agent.log" 2>&1 &
pids+=($!)
await_line "$work/promise-agent.log" '^Registered' "${pids[-1]}" "the promise agent"
# Registered as the orchestrator sees it, before any backup is asked for.
for agent in pack-check-agent pack-check-promise-agent; do
  await_line "$work/orchestrator.log" " agent $agent registered" "${pids[0]}" "bro-agent orchestrator"
done
agents="$(cd "$app" && npx --no-install bro-agent agents --url "$url")" || fail "bro-agent agents failed: $agents"
# A table: a header line, then one agent a line with its id first.
[[ "$(awk 'NR > 1 { print $1 }' <<<"$agents" | sort | tr '\n' ' ')" == "pack-check-agent pack-check-promise-agent " ]] ||
  fail "bro-agent agents lists \"$agents\", not the two agents"
say "bro-agent agents lists both agents"

for command in create restore; do
  [[ "$command" == restore ]] && echo "after the backup" >"$work/folder/notes.txt"
  if ! (cd "$app" && npx --no-install bro-agent backup "$command" pack-check-backup --url "$url") >"$work/$command.log" 2>&1; then
    show "bro-agent backup $command" "$work/$command.log"
    show "bro-agent orchestrator" "$work/orchestrator.log"
    show "the agent" "$work/agent.log"
    show "the promise agent" "$work/promise-agent.log"
    fail "bro-agent backup $command pack-check-backup did not exit with 0"
  fi
  say "bro-agent backup $command: $(tail -n 1 "$work/$command.log" | sed "s/^ *//")"
done
[[ "$(cat "$work/folder/notes.txt")" == "at the backup" ]] ||
  fail "the promise agent's restore left notes.txt holding \"$(cat "$work/folder/notes.txt")\""
say "the promise agent restored its folder"

say "passed"
