#!/usr/bin/env bash
# Builds the binary, starts `clusterwise demo` on a free loopback port with a throwaway database,
# runs scripts/browser-journey.mjs in headless Chromium, and stops the server. Screenshots go to
# artifacts/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
cargo build --locked -p cli --bin clusterwise
work=$(mktemp -d /tmp/clusterwise-journey.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${CARGO_TARGET_DIR:-target}/debug/clusterwise" demo --db "$work/demo.db" --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.2
done
CLUSTERWISE_URL="http://127.0.0.1:$port" node scripts/browser-journey.mjs
