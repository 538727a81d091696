#!/usr/bin/env bash
# Fuzzes every parser and importer (census CSV, GIAS CSV, membership CSV, metrics CSV, policy
# file, constitution and meeting files) with cargo-fuzz / libFuzzer: the targets are in fuzz/
# (its own workspace), the seed corpus in fuzz/corpus/<target>/, the dictionaries in fuzz/dict/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 20 s each, every target)
#
# Fails on any crash (a panic or a broken invariant), any input taking over 1 s, or over 2 GiB;
# the input is kept in fuzz/artifacts/<target>/. Works on the stable toolchain: cargo-fuzz passes
# -Z flags, which RUSTC_BOOTSTRAP=1 allows. Installs cargo-fuzz from crates.io when missing.
# Environment: FUZZ_JOBS (targets run at once, default: the machine's cores), FUZZ_WORK (where
# the growing corpus is kept, default a temporary directory; the release run keeps fuzz/work).
set -euo pipefail
export CARGO_TERM_COLOR=never
cd "$(dirname "$0")/.."

seconds=${1:-20}
shift || true
all=(census_csv gias_csv membership_csv metrics_csv policy_file governance_files)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
jobs=${FUZZ_JOBS:-$(nproc)}
cargo_fuzz_version=0.13.1

export RUSTC_BOOTSTRAP=1
log() { printf '\n== %s\n' "$*"; }

if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  log "installing cargo-fuzz $cargo_fuzz_version"
  start=$SECONDS
  cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
  echo "cargo-fuzz installed in $((SECONDS - start)) s"
fi

# Release build with debug assertions (so integer overflow is a crash too) and AddressSanitizer.
log "building ${#targets[@]} fuzz targets"
start=$SECONDS
build_log=$(mktemp /tmp/clusterwise-fuzz-build.XXXXXX)
build() { cargo fuzz build --debug-assertions "$@" >"$build_log" 2>&1 || { cat "$build_log" >&2; exit 1; }; }
if [ ${#targets[@]} -eq ${#all[@]} ]; then build; else for t in "${targets[@]}"; do build "$t"; done; fi
rm -f "$build_log"
echo "built in $((SECONDS - start)) s"

work=${FUZZ_WORK:-}
if [ -z "$work" ]; then
  work=$(mktemp -d /tmp/clusterwise-fuzz.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
logs=$(mktemp -d /tmp/clusterwise-fuzz-logs.XXXXXX)

run_one() {
  local t=$1
  mkdir -p "$work/$t" "fuzz/artifacts/$t"
  # The first corpus directory gets the new inputs; the committed seeds are only read.
  cargo fuzz run --debug-assertions "$t" "$work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -dict="fuzz/dict/$t.dict" \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 -close_fd_mask=3 >"$logs/$t.log" 2>&1
}

log "fuzzing ${#targets[@]} targets for $seconds s each, $jobs at a time"
start=$SECONDS
declare -A status
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$t" &
  status[$t]=$!
  running=$((running + 1))
done
failed=()
for t in "${targets[@]}"; do
  if ! wait "${status[$t]}"; then
    failed+=("$t")
  fi
done

printf '\n%-18s %10s %8s %6s %6s %7s %8s %7s %s\n' target execs exec/s cov ft corpus slowest rss_mb result
for t in "${targets[@]}"; do
  f="$logs/$t.log"
  execs=$(awk '/stat::number_of_executed_units/{print $2}' "$f" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/{print $2}' "$f" | tail -1)
  slowest=$(awk '/stat::slowest_unit_time_sec/{print $2}' "$f" | tail -1)
  rss=$(awk '/stat::peak_rss_mb/{print $2}' "$f" | tail -1)
  last=$(grep -E '^#[0-9]+' "$f" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  result=clean
  if [[ " ${failed[*]} " == *" $t "* ]]; then
    result="FAILED: $(grep -m1 -E 'ERROR: libFuzzer|panicked at|ERROR: AddressSanitizer' "$f" || echo 'see log')"
  fi
  printf '%-18s %10s %8s %6s %6s %7s %7ss %7s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "${slowest:-?}" "${rss:-?}" "$result"
done
echo "fuzzed in $((SECONDS - start)) s"

if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    log "$t failed; its log:"
    grep -v '^#[0-9]' "$logs/$t.log" | tail -60 >&2
    echo "the input is in fuzz/artifacts/$t/: reproduce with RUSTC_BOOTSTRAP=1 cargo fuzz run --debug-assertions $t fuzz/artifacts/$t/<file>" >&2
  done
  rm -rf "$logs"
  exit 1
fi
rm -rf "$logs"
echo "fuzz: ${#targets[@]} targets clean (no crash, no input over 1 s or 2 GiB)"
