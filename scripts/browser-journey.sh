#!/usr/bin/env bash
# Builds the binary, then runs every browser journey (scripts/journeys/*.mjs, or the ones named
# as arguments) in headless Chromium, each against its own fresh `clusterwise demo` on a free
# loopback port with a throwaway database, so no journey depends on what another changed.
# Screenshots go to artifacts/screenshots/<journey>/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
cargo build --locked -p cli --bin clusterwise
bin="${CARGO_TARGET_DIR:-target}/debug/clusterwise"
if [ $# -gt 0 ]; then journeys=("$@"); else journeys=(scripts/journeys/*.mjs); fi
passed=0
for file in "${journeys[@]}"; do
  case "$file" in */lib.mjs) continue ;; esac
  [ -f "$file" ] || file="scripts/journeys/$file.mjs"
  work=$(mktemp -d /tmp/clusterwise-journey.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" demo --db "$work/demo.db" --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 $server 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.2
  done
  if ! CLUSTERWISE_URL="http://127.0.0.1:$port" node "$file"; then
    echo "journey $file failed; server log:" >&2
    tail -n 40 "$work/server.log" >&2
    exit 1
  fi
  kill $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  rm -rf "$work"
  trap - EXIT
  passed=$((passed + 1))
done
echo "browser journeys passed: $passed"
