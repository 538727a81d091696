#!/usr/bin/env bash
# The funding benchmark (issue 4), side by side in one run on this machine:
#   1. generates an England-sized input (25,000 schools in 1,700 clusters) in bench/funding/data/;
#   2. runs `clusterwise allocate` on bench/funding/policy.toml (six streams, mixed models) RUNS
#      times: wall time, peak memory, and the engine's own time (--timings);
#   3. runs the same formulas in pandas (bench/funding/pandas_allocate.py, virtualenv
#      bench/funding/.venv) RUNS times;
#   4. checks both statements hold exactly the same rows, hence the same totals.
# Prints a Markdown table for BENCHMARKS.md. Usage: bench/funding/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-7}
[ -x bench/funding/.venv/bin/python ] || python3 -m venv bench/funding/.venv
bench/funding/.venv/bin/pip install -q pandas
python3 bench/funding/make_inputs.py >&2
cargo build --release --locked -p cli --bin clusterwise >&2
d=bench/funding/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e %M" -o "$tmp/time" target/release/clusterwise allocate --policy bench/funding/policy.toml \
    --schools $d/schools.csv --clusters $d/members.csv --facts $d/facts.csv \
    --out "$tmp/ours.csv" --report "$tmp/ours.json" --timings 2>"$tmp/timings"
  echo "$(cat "$tmp/time") $(sed -E 's/read ([0-9.]+) ms, allocate ([0-9.]+) ms.*write ([0-9.]+) ms/\1 \2 \3/' "$tmp/timings")" >>"$tmp/ours"
  bench/funding/.venv/bin/python bench/funding/pandas_allocate.py $d/schools.csv $d/members.csv $d/facts.csv "$tmp/pandas.csv" >>"$tmp/pandas"
done
python3 - "$tmp" <<'PY'
import collections, csv, json, statistics, sys
tmp = sys.argv[1]
ours = [list(map(float, l.split())) for l in open(f"{tmp}/ours")]  # wall s, KB, read, allocate, write ms
pandas = [json.loads(l) for l in open(f"{tmp}/pandas")]
med = lambda xs: statistics.median(xs)
wall, kb = med(o[0] for o in ours) * 1e3, max(o[1] for o in ours)
alloc = med(o[3] for o in ours)
p_total, p_compute = med(p["total_ms"] for p in pandas), med(p["compute_ms"] for p in pandas)
load = lambda p: collections.Counter(tuple(r) for r in csv.reader(open(p)))
a, b = load(f"{tmp}/ours.csv"), load(f"{tmp}/pandas.csv")
same = a == b
tot = collections.defaultdict(int)
for (cluster, urn, stream, phase, comp, pence), n in a.items():
    if cluster != "cluster":
        tot[(cluster, stream, phase)] += int(pence) * n
report = {(r["cluster"], r["stream"], r["phase"]): r["budget_pence"] for r in json.load(open(f"{tmp}/ours.json"))}
reconciles = all(tot[k] == v for k, v in report.items()) and len(tot) == len(report)
print(f"pandas {pandas[0]['pandas']}; medians of {len(ours)} runs; {sum(a.values()) - 1:,} statement rows; "
      f"identical statements: {'yes' if same else 'NO'}; every pot reconciles: {'yes' if reconciles else 'NO'}\n")
print("| measure | pandas | ours | ratio |")
print("| --- | ---: | ---: | ---: |")
print(f"| allocation only (no file reading or writing) | {p_compute:.0f} ms | {alloc:.0f} ms | {p_compute / alloc:.1f}× |")
print(f"| whole run: read CSVs, allocate, write statement | {p_total:.0f} ms | {wall:.0f} ms | {p_total / wall:.1f}× |")
print(f"| our peak memory (whole CLI run) | | {kb / 1024:.0f} MB | |")
if not (same and reconciles):
    sys.exit(1)
PY
