#!/usr/bin/env bash
# The long reliability runs for a release (issue 8), too slow for CI. A list of independent
# steps: each is a function named step_*, run in name order (or only those named on the command line:
# `scripts/release-checks.sh crash_sqlite disk_full`); every step runs even when an earlier one
# fails, and the script exits non-zero if any failed. Each step prints its own figures; copy them
# into docs/RELIABILITY.md. Other parts of issue 8 add their own step_* functions below.
#
# Needs: Rust, and for the PostgreSQL steps the Debian `postgresql` package (as scripts/test.sh).
# The disk-full step needs root (it mounts a small tmpfs).
set -uo pipefail
export CARGO_TERM_COLOR=never
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# A throwaway, durable PostgreSQL (fsync, full_page_writes, synchronous_commit on), as
# scripts/test.sh starts it; sets CLUSTERWISE_TEST_POSTGRES_URL. Stopped on exit.
# Both global: the exit trap uses them after start_pg has returned.
pg_dir=""
pg_bin=""
start_pg() {
  [ -n "$pg_dir" ] && return 0
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$pg_bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
  local shm=/dev/shm
  [ -d "$shm" ] && [ -w "$shm" ] || shm=/tmp
  pg_dir=$(mktemp -d "$shm/clusterwise-release-pg.XXXXXX")
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  [ "$(id -u)" -eq 0 ] && chown postgres "$pg_dir"
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust --no-sync >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c max_connections=200" start >/dev/null
  export CLUSTERWISE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  stop_pg() {
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  }
  trap stop_pg EXIT
}

# Crash safety: 10,000 SIGKILL cycles of the real server on SQLite (crates/cli/tests/server_kill.rs).
step_crash_sqlite() {
  CLUSTERWISE_CRASH_CYCLES=${CRASH_CYCLES:-10000} \
    cargo test --release -p cli --test server_kill the_server_survives_sigkill_on_sqlite -- --nocapture
}

# Crash safety on PostgreSQL: 1,000 cycles.
step_crash_postgres() {
  start_pg || return 1
  CLUSTERWISE_CRASH_PG_CYCLES=${CRASH_PG_CYCLES:-1000} \
    cargo test --release -p cli --test server_kill the_server_survives_sigkill_on_postgres -- --nocapture
}

# Disk full on a real file system: a tmpfs filled with ballast (required here, not skipped), for
# SQLite and for a PostgreSQL tablespace.
step_disk_full() {
  start_pg || return 1
  CLUSTERWISE_REQUIRE_TMPFS=1 cargo test --release -p web --test http_disk_full -- --nocapture
}

# Load (issue 8, item 7): reads at 1,000/s for 60 s each, overload at 3x, recovery, and a
# 30-minute soak with RSS growth <= 10 %. Results in target/load/results.jsonl.
step_load() {
  scripts/load.sh --duration 60 --rate 1000 --overload-seconds 30 --soak 1800
}

# Fuzzing (issue 8, item 4): one CPU-hour per parser target (6 targets, 2 at a time on 2 cores:
# about 3 hours), the growing corpus kept in fuzz/work/ between runs.
step_fuzz() {
  FUZZ_WORK=fuzz/work scripts/fuzz.sh "${FUZZ_SECONDS:-3600}"
}

steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
  mapfile -t steps < <(declare -F | awk '{print $3}' | grep '^step_' | sed 's/^step_//')
fi
failed=()
for s in "${steps[@]}"; do
  log "$s"
  start=$(date +%s)
  if "step_$s"; then
    echo "step $s passed in $(( $(date +%s) - start )) s"
  else
    echo "step $s FAILED after $(( $(date +%s) - start )) s"
    failed+=("$s")
  fi
done
log "release checks: ${#steps[@]} steps, ${#failed[@]} failed ${failed[*]:-}"
[ ${#failed[@]} -eq 0 ]
