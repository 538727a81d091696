#!/usr/bin/env bash
# The import benchmark (issue 2), side by side in one run on this machine:
#   1. generates an England-sized census (25,000 rows) and a 50,000-row GIAS file (bench/data/);
#   2. pandas.read_csv of each file (pandas installed into bench/.venv by this script);
#   3. our parse + validate of each file (cargo bench -p domain --bench import);
#   4. the whole `clusterwise import` into a fresh SQLite file: wall time and peak memory.
# Prints a Markdown table for BENCHMARKS.md. Usage: bench/import_bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/pip install -q pandas
python3 bench/make_data.py >&2
cargo build --release --locked -p cli --bin clusterwise >&2
pandas=$(bench/.venv/bin/python bench/pandas_read.py "$runs")
ours=$(cargo bench --locked -p domain --bench import -- "$runs" 2>/dev/null | tail -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
whole() { # kind file → "seconds kilobytes" (median of 5 fresh imports)
  for _ in 1 2 3 4 5; do
    rm -f "$tmp"/db*
    /usr/bin/time -f "%e %M" -o "$tmp/t" target/release/clusterwise import "$1" "$2" --db "$tmp/db.sqlite" >/dev/null
    cat "$tmp/t"
  done | sort -n | sed -n 3p
}
read -r census_s census_kb <<<"$(whole census bench/data/census_england_2022_23.csv)"
read -r gias_s gias_kb <<<"$(whole gias bench/data/edubasealldata_50k.csv)"
python3 - "$pandas" "$ours" "$census_s" "$census_kb" "$gias_s" "$gias_kb" <<'PY'
import json, sys
p, o = json.loads(sys.argv[1]), json.loads(sys.argv[2])
cs, ck, gs, gk = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
print(f"pandas {p['pandas']}; medians of the runs; machine: {open('/proc/cpuinfo').read().count('processor')} cores\n")
print("| file | rows × columns | pandas.read_csv | our parse + validate | ratio | whole import into SQLite | peak memory |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for key, name, s, kb in [("census", "census_england_2022_23.csv (UTF-8)", cs, ck), ("gias", "edubasealldata_50k.csv (Windows-1252)", gs, gk)]:
    ratio = p[key]["median_ms"] / o[key]["median_ms"]
    print(f"| {name} | {p[key]['rows']:,} × {p[key]['columns']} | {p[key]['median_ms']:.0f} ms | {o[key]['median_ms']:.0f} ms | {ratio:.1f}× | {s:.2f} s | {kb/1024:.0f} MB |")
PY
