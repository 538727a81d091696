#!/usr/bin/env bash
# Runs every test Clusterwise has: formatting, lints, unit, snapshot, store contract (SQLite and
# a throwaway PostgreSQL this script starts), HTTP and CLI tests, the headless-Chromium journey,
# and the check that the domain crate stays pure. Installs PostgreSQL and Chromium (Debian
# packages) when they are missing. Exits non-zero on the first failure.
set -euo pipefail
export CARGO_TERM_COLOR=never
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

need_apt=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root to install ${need_apt[*]} (apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

# A throwaway PostgreSQL server on a free loopback port, stopped on exit. It runs with the
# durable settings the ledger requires (fsync, full_page_writes, synchronous_commit on: the
# defaults; the store refuses ledger postings otherwise), its data in RAM (/dev/shm) when there
# is room, where an fsync costs next to nothing.
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] && [ "$(df -Pk "$shm" | awk 'NR==2{print $4}')" -gt 524288 ] || shm=/tmp
pg_dir=$(mktemp -d "$shm/clusterwise-pg.XXXXXX")
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" -eq 0 ] && chown postgres "$pg_dir"
stop_pg() {
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_pg EXIT
log "starting PostgreSQL ($("$pg_bin/postgres" --version)) on 127.0.0.1:$pg_port"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust --no-sync >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=200" start >/dev/null
export CLUSTERWISE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test (SQLite and PostgreSQL)"
test_log="$pg_dir/cargo-test.log"
cargo test --workspace --locked 2>&1 | tee "$test_log"
passed=$(awk '/^test result: /{for(i=1;i<=NF;i++) if($(i+1) ~ /^passed/) s+=$i} END{print s+0}' "$test_log")
failed=$(awk '/^test result: /{for(i=1;i<=NF;i++) if($(i+1) ~ /^failed/) s+=$i} END{print s+0}' "$test_log")

log "the domain crate stays pure"
deps=$(cargo tree -p domain -e normal --prefix none --format '{p}' --locked | awk '{print $1}' | sort -u)
for forbidden in sqlx tokio axum hyper; do
  if grep -qx "$forbidden" <<<"$deps"; then
    echo "domain depends on $forbidden" >&2
    exit 1
  fi
done
echo "domain depends on none of sqlx, tokio, axum, hyper ($(wc -l <<<"$deps") crates in its tree)"

log "browser journeys (headless Chromium)"
journey_log="$pg_dir/journeys.log"
scripts/browser-journey.sh 2>&1 | tee "$journey_log"
passed=$((passed + $(awk '/^browser journeys passed: /{print $4}' "$journey_log")))

log "API robustness (schemathesis against a live demo server)"
api_log="$pg_dir/api-fuzz.log"
scripts/api-fuzz.sh 2>&1 | tee "$api_log"
passed=$((passed + $(awk '/ generated, [0-9]+ passed/{for(i=1;i<=NF;i++) if($(i+1) ~ /^passed/) s=$i} END{print s+0}' "$api_log")))

log "fuzzing every parser and importer (scripts/fuzz.sh)"
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

log "all tests passed"
echo "tests: $passed passed, $failed failed"
