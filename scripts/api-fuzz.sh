#!/usr/bin/env bash
# schemathesis against a live demo server: builds the demo database, makes an API token for the
# cluster clerk, serves it on a free loopback port, installs schemathesis (pinned, from PyPI) into
# a venv under target/, runs every check with a bounded number of examples per operation, then
# proves the server still works: a ledger posting succeeds and /health is ok. Exits non-zero on
# any failure. Figures: docs/RELIABILITY.md, "API robustness (schemathesis)".
#
#   scripts/api-fuzz.sh                  # CI: 25 examples per operation
#   API_FUZZ_EXAMPLES=500 scripts/api-fuzz.sh   # a longer run
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
examples=${API_FUZZ_EXAMPLES:-25}
work=target/api-fuzz
venv=$work/venv
mkdir -p "$work"
log() { printf '\n== %s\n' "$*"; }

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

bin=${CLUSTERWISE_BIN:-}
if [ -z "$bin" ]; then
  log "building clusterwise"
  cargo build -q --bin clusterwise
  bin=target/debug/clusterwise
fi

db="$work/demo.db"
log "demo database $db"
"$bin" demo --no-serve --db "$db" >/dev/null 2>"$work/demo.log"
token=$("$bin" token create --db "$db" --email clerk@demo.clusterwise.test --label api-fuzz 2>/dev/null)
officer=$("$bin" token create --db "$db" --email officer@demo.clusterwise.test --label api-fuzz 2>/dev/null)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
CLUSTERWISE_SECURE_COOKIES=false "$bin" serve --db "$db" --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done

# Business-rule refusals (an unbalanced entry, a school that may not vote) are 422 by design:
# a schema cannot say that debits equal credits, so schema-valid data may still be refused.
cat >"$work/schemathesis.toml" <<TOML
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
TOML

log "schemathesis run: all checks, $examples examples per operation"
start=$(date +%s)
status=0
"$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$base/api/v1/openapi.json" \
  --url "$base" \
  --checks all \
  --max-examples "$examples" \
  --header "Authorization: Bearer $token" \
  --seed 20261202 \
  --generation-database none \
  --report junit --report-dir "$work/report" \
  --no-color 2>&1 | tee "$work/schemathesis.log" || status=$?
elapsed=$(( $(date +%s) - start ))

if grep -qi "panicked" "$work/server.log"; then
  echo "the server logged a panic:" >&2
  grep -i "panicked" "$work/server.log" >&2
  status=1
fi

log "after the run: a ledger posting still succeeds and /health is ok"
key="api-fuzz-after-$(date +%s)"
code=$(curl -s -o "$work/after.json" -w '%{http_code}' -X POST "$base/api/v1/clusters/9/ledger/entries" \
  -H "Authorization: Bearer $officer" -H 'Content-Type: application/json' -H "Idempotency-Key: $key" \
  -d '{"kind":"receipt","date":"2026-09-01","memo":"After the fuzz run","lines":[{"account":"funding","stream":"Cluster admin funding","phase":"all","holder":"central","side":"credit","amount_pence":100},{"account":"available","stream":"Cluster admin funding","phase":"all","holder":"central","side":"debit","amount_pence":100}]}')
if [ "$code" != 201 ]; then
  echo "the posting after the run got $code: $(cat "$work/after.json")" >&2
  status=1
fi
curl -fsS "$base/health" | grep -q '"ok"' || { echo "/health is not ok after the run" >&2; status=1; }
balanced=$(curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/clusters/9/ledger" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["balanced"] and d["reconciles"])')
[ "$balanced" = True ] || { echo "the ledger does not balance after the run" >&2; status=1; }

echo "api fuzz: schemathesis exit $status, ${elapsed}s, $examples examples per operation"
exit "$status"
