#!/usr/bin/env bash
# Load test against the Norfolk demo on loopback (issue 8, item 7), with oha at a fixed rate.
#
#   scripts/load.sh                 # full run: each read scenario 60 s at 1,000/s, overload at 3x
#   scripts/load.sh --smoke         # CI: 10 s per scenario, asserts only 0 errors and only 200/503
#   scripts/load.sh --soak 1800     # 30-minute soak of mixed reads and postings; RSS growth <= 10 %
#
# Options: --duration S (per scenario), --rate N (reads/s), --post-rate N (ledger postings/s,
# default 200, through the JSON API by scripts/post-load.py), --overload-seconds S, --out FILE
# (JSON lines of results; default target/load/results.jsonl). Env: CLUSTERWISE_BIN (default: build
# target/release/clusterwise), OHA (default: oha on PATH, else installed into target/tools).
#
# Each read scenario is one signed-in page (the session cookie comes from the sign-in form),
# requested at a fixed rate with oha's latency correction (so a slow server cannot hide its
# queueing by slowing the client). Thresholds (full run): reads p99 <= 25 ms and 0 errors;
# postings p99 <= 50 ms, only 201s, the journal grown by exactly the 201s and balancing; overload:
# only 200 or 503 (every 503 carries Retry-After, checked with curl while overloaded) and the
# first good answer within 10 s of the overload ending, then a clean run at the normal rate.
# The load average is printed and recorded with every figure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

duration=60
rate=1000
post_rate=200
overload_seconds=20
soak=0
smoke=0
out="$root/target/load/results.jsonl"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; duration=10; overload_seconds=10 ;;
    --duration) duration=$2; shift ;;
    --rate) rate=$2; shift ;;
    --post-rate) post_rate=$2; shift ;;
    --overload-seconds) overload_seconds=$2; shift ;;
    --soak) soak=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$(dirname "$out")"

log() { printf '\n== %s\n' "$*"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- tools ----
oha=${OHA:-}
if [ -z "$oha" ]; then
  if command -v oha >/dev/null 2>&1; then
    oha=$(command -v oha)
  else
    oha="$root/target/tools/bin/oha"
    if [ ! -x "$oha" ]; then
      log "installing oha 1.16.0 into target/tools (cargo install --locked; once per clone)"
      start=$(date +%s)
      cargo install --locked --quiet oha --version 1.16.0 --root "$root/target/tools"
      echo "oha installed in $(( $(date +%s) - start )) s"
    fi
  fi
fi
bin=${CLUSTERWISE_BIN:-}
if [ -z "$bin" ]; then
  log "building the release binary"
  cargo build --release --locked --quiet -p cli
  bin="$root/target/release/clusterwise"
fi

# ---- the demo server ----
work=$(mktemp -d /tmp/clusterwise-load.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
server_pid=
stop() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT
log "starting the demo on $base"
(cd "$work" && CLUSTERWISE_SECURE_COOKIES=false CLUSTERWISE_LOG=warn exec "$bin" demo --db "$work/demo.db" \
  --bind "127.0.0.1:$port" --data "$root/../shared/data/real/norfolk_schools_spc_2022_23.csv") >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
  curl -sf "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$base/health" >/dev/null

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$server_pid/status"; }
psi() { awk -F'total=' '/^some/{print $2}' "/proc/pressure/$1" 2>/dev/null || echo -; }

# ---- sign in as the authority officer (sees every school, cluster and statement) ----
jar="$work/cookies"
csrf=$(curl -sf -c "$jar" -b "$jar" "$base/sign-in" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" --data-urlencode "csrf_token=$csrf" \
  --data-urlencode "email=officer@demo.clusterwise.test" --data-urlencode "password=clusterwise-demo" "$base/sign-in")
[ "$code" = 303 ] || { echo "sign-in answered $code" >&2; exit 1; }
session=$(awk '$6 == "clusterwise_session" {print $7}' "$jar")
[ -n "$session" ] || { echo "no session cookie" >&2; exit 1; }
cookie="Cookie: clusterwise_session=$session"
cluster=$(curl -sf -H "$cookie" "$base/clusters" | grep -o 'href="/clusters/[0-9]*"' | head -1 | grep -o '[0-9]*')
urn=$(curl -sf -H "$cookie" "$base/clusters/$cluster" | grep -o 'href="/schools/[0-9]\{6\}"' | head -1 | grep -o '[0-9]\{6\}')
for path in /schools "/clusters/$cluster" "/schools/$urn/statement"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$cookie" "$base$path")
  [ "$code" = 200 ] || { echo "$path answered $code" >&2; exit 1; }
done

# ---- one fixed-rate run: prints and records p50/p99/max/errors/status codes ----
failures=0
# run NAME PATH RATE SECONDS MODE  (MODE: strict | smoke | overload)
run() {
  local name=$1 path=$2 r=$3 secs=$4 mode=$5
  local json="$work/$name.json" before after connections=96
  # Overload comes from many people at once: more connections than the server admits and
  # queues (max_in_flight 32 + 128 waiting), so the gate has something to refuse.
  [ "$mode" = overload ] && connections=512
  before=$(loadavg)
  "$oha" --no-tui --output-format json -z "${secs}s" -q "$r" --latency-correction -w -c "$connections" \
    -H "$cookie" "$base$path" >"$json"
  after=$(loadavg)
  python3 - "$json" "$name" "$path" "$r" "$secs" "$mode" "$before" "$after" "$(rss_kib)" >>"$out" <<'PY' || failures=$((failures + 1))
import json, sys
f, name, path, rate, secs, mode, before, after, rss = sys.argv[1:]
d = json.load(open(f))
codes = {str(k): v for k, v in d.get("statusCodeDistribution", {}).items()}
errors = sum(d.get("errorDistribution", {}).values())
lat = d.get("latencyPercentiles", {})
ms = lambda v: round(v * 1000, 2) if v is not None else None
row = {
    "scenario": name, "path": path, "rate": int(rate), "seconds": int(secs), "mode": mode,
    "requests": sum(codes.values()) + errors, "rps": round(d["summary"].get("requestsPerSec") or 0, 1),
    "p50_ms": ms(lat.get("p50")), "p99_ms": ms(lat.get("p99")), "max_ms": ms(d["summary"].get("slowest")),
    "errors": errors, "status": codes, "load_before": before, "load_after": after, "server_rss_kib": int(rss),
}
print(json.dumps(row))
problems = []
if errors:
    problems.append(f"{errors} errors: {d.get('errorDistribution')}")
if mode == "overload":
    if set(codes) - {"200", "503"}:
        problems.append(f"statuses other than 200/503: {codes}")
else:
    if set(codes) - {"200"}:
        problems.append(f"statuses other than 200: {codes}")
    if mode == "strict" and row["p99_ms"] is not None and row["p99_ms"] > 25:
        problems.append(f"p99 {row['p99_ms']} ms > 25 ms")
print(f"{name:<12} {row['rps']:>7}/s p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  max {row['max_ms']} ms  "
      f"errors {errors}  {codes}  load {before} -> {after}  rss {int(rss)//1024} MiB"
      + ("  FAIL: " + "; ".join(problems) if problems else ""), file=sys.stderr)
sys.exit(1 if problems else 0)
PY
}

mode=strict
[ "$smoke" = 1 ] && mode=smoke
: >"$out"
log "reads at $rate/s for $duration s each (load average $(loadavg))"
run schools /schools "$rate" "$duration" "$mode"
run cluster "/clusters/$cluster" "$rate" "$duration" "$mode"
run statement "/schools/$urn/statement" "$rate" "$duration" "$mode"

# ---- ledger postings at a fixed rate through the JSON API (the cluster clerk's allocations) ----
officer_token=$("$bin" token create --db "$work/demo.db" --email officer@demo.clusterwise.test --label load 2>/dev/null)
clerk_token=$("$bin" token create --db "$work/demo.db" --email clerk@demo.clusterwise.test --label load 2>/dev/null)
clerk_cluster=$(sed -n 's/.*clerk@demo\.clusterwise\.test *//p' "$work/server.log" | head -1)
[ -n "$clerk_cluster" ] || { echo "the demo did not say which cluster the clerk serves" >&2; exit 1; }
log "ledger postings at $post_rate/s for $duration s ($clerk_cluster, load average $(loadavg))"
p99_limit=()
[ "$mode" = strict ] && p99_limit=(--max-p99 50)
python3 "$root/scripts/post-load.py" "$base" "$officer_token" "$clerk_token" "$clerk_cluster" \
  --rate "$post_rate" --seconds "$duration" "${p99_limit[@]}" >>"$out" || failures=$((failures + 1))

# ---- overload at 3x: only 200 or 503-with-Retry-After, then recovery ----
over=$((rate * 3))
log "overload: /clusters/$cluster at $over/s for $overload_seconds s"
(
  sleep $((overload_seconds / 2))
  # While overloaded: every 503 must carry Retry-After.
  for _ in $(seq 60); do
    curl -s -o /dev/null -D - -H "$cookie" "$base/clusters/$cluster"
  done >"$work/overload-headers.txt"
) &
probe=$!
run overload "/clusters/$cluster" "$over" "$overload_seconds" overload
wait "$probe"
python3 - "$work/overload-headers.txt" <<'PY' || failures=$((failures + 1))
import sys
blocks = open(sys.argv[1]).read().split("HTTP/1.1 ")[1:]
bad = [b.splitlines()[0] for b in blocks if b.startswith("503") and "retry-after: 1" not in b.lower()]
n503 = sum(b.startswith("503") for b in blocks)
print(f"probes while overloaded: {len(blocks)}, 503: {n503}, 503 without Retry-After: {len(bad)}", file=sys.stderr)
sys.exit(1 if bad or any(not b.startswith(("200", "503")) for b in blocks) else 0)
PY
start=$(date +%s.%N)
recovered=
while :; do
  now=$(date +%s.%N)
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$cookie" "$base/clusters/$cluster")
  if [ "$code" = 200 ]; then recovered=$(python3 -c "print(round($now - $start, 3))"); break; fi
  if python3 -c "import sys; sys.exit(0 if $now - $start > 10 else 1)"; then break; fi
  sleep 0.05
done
if [ -z "$recovered" ]; then
  echo "FAIL: no 200 within 10 s of the overload ending" >&2
  failures=$((failures + 1))
else
  echo "first 200 after the overload: ${recovered} s" >&2
  echo "{\"scenario\": \"recovery\", \"first_ok_seconds\": $recovered, \"load\": \"$(loadavg)\"}" >>"$out"
fi
run after "/clusters/$cluster" "$rate" 5 smoke

# ---- soak: mixed reads at the rate and postings at a tenth of theirs; RSS sampled every 10 s;
# growth <= 10 % after a 60 s warm-up ----
if [ "$soak" -gt 0 ]; then
  log "soak: $soak s of mixed reads at $rate/s"
  urls="$work/urls.txt"
  printf '%s\n' "$base/schools" "$base/clusters/$cluster" "$base/schools/$urn/statement" >"$urls"
  "$oha" --no-tui --output-format json -z "${soak}s" -q "$rate" --latency-correction -w -c 96 \
    -H "$cookie" --urls-from-file "$urls" >"$work/soak.json" &
  soak_pid=$!
  # Writes meanwhile: the clerk's postings at a tenth of the posting rate, the journal growing
  # all the while (checked as in the posting run: every 201 in the journal, balanced).
  python3 "$root/scripts/post-load.py" "$base" "$officer_token" "$clerk_token" "$clerk_cluster" \
    --rate $((post_rate / 10)) --seconds "$soak" >"$work/soak-postings.json" &
  soak_posts=$!
  sleep 60
  warm=$(rss_kib)
  peak=$warm
  while kill -0 "$soak_pid" 2>/dev/null; do
    r=$(rss_kib); [ "$r" -gt "$peak" ] && peak=$r
    # Anonymous (heap) and file-backed (the binary, SQLite's mapped WAL index) memory apart.
    # And the kernel's pressure stall totals (microseconds some task waited for CPU, for I/O),
    # so a stall in the results can be set against what the machine was doing.
    echo "$(date +%s) $r $(awk '/^RssAnon:|^RssFile:|^RssShmem:/{printf "%s ", $2}' "/proc/$server_pid/status")$(psi cpu) $(psi io) $(loadavg)" \
      >>"$work/rss.txt"
    sleep 10
  done
  wait "$soak_pid" || true
  # Sampled when the reads end, before the posting script's closing ledger read.
  reads_end=$(rss_kib)
  if wait "$soak_posts"; then cat "$work/soak-postings.json" >>"$out"; else failures=$((failures + 1)); fi
  final=$(rss_kib)
  growth=$(python3 -c "print(round(100 * ($final - $warm) / $warm, 1))")
  echo "soak RSS: after warm-up $((warm / 1024)) MiB, peak $((peak / 1024)) MiB, when the reads ended $((reads_end / 1024)) MiB, after the closing ledger read $((final / 1024)) MiB: growth ${growth} %" >&2
  echo "soak RSS samples (unix time, RSS, RssAnon, RssFile, RssShmem KiB, CPU and I/O pressure µs, load): ${out%.jsonl}.rss.txt" >&2
  cp "$work/rss.txt" "${out%.jsonl}.rss.txt" 2>/dev/null || true
  python3 - "$work/soak.json" "$warm" "$peak" "$final" "$growth" "$(loadavg)" "$rate" "$soak" "$reads_end" >>"$out" <<'PY' || failures=$((failures + 1))
import json, sys
d = json.load(open(sys.argv[1])); warm, peak, final, growth, load = sys.argv[2:7]
errors = sum(d.get("errorDistribution", {}).values())
codes = d.get("statusCodeDistribution", {})
print(json.dumps({"scenario": "soak", "errors": errors, "status": codes, "p99_ms": round(d["latencyPercentiles"]["p99"] * 1000, 2),
  "rss_warm_kib": int(warm), "rss_peak_kib": int(peak), "rss_reads_end_kib": int(sys.argv[9]), "rss_final_kib": int(final),
  "growth_pct": float(growth), "load": load}))
served = sum(codes.values())
expected = int(sys.argv[7]) * int(sys.argv[8])
if served < 0.95 * expected:
    print(f"the soak served {served} requests, fewer than 95 % of the {expected} offered", file=sys.stderr)
sys.exit(1 if errors or float(growth) > 10 or set(codes) - {"200"} or served < 0.95 * expected else 0)
PY
fi

# The server's own log (its warnings say when the load gate refused requests, and how many).
cp "$work/server.log" "${out%.jsonl}.server.log" 2>/dev/null || true
log "results in $out (server log: ${out%.jsonl}.server.log)"
if [ "$failures" -gt 0 ]; then
  echo "load: $failures check(s) failed" >&2
  exit 1
fi
echo "load: every check passed"
