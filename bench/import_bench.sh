#!/usr/bin/env bash
# The import benchmark, side by side on this machine:
#   1. generates an England-sized census (25,000 rows) and a 50,000-row GIAS file (bench/data/);
#   2. pandas.read_csv of each file (pandas installed into bench/.venv by this script), from the
#      bytes in memory and from the path;
#   3. our parse + validate of each file, from the bytes in memory, on all cores and on one
#      (cargo bench -p domain --bench import);
#   4. the whole `clusterwise import` into a fresh SQLite file: wall time and peak memory
#      (GNU time; Debian package `time`).
# Steps 2 and 3 run in ROUNDS interleaved rounds of RUNS runs each, so that both sides meet the
# same machine; the table gives the median of the rounds' medians.
# Prints a Markdown table for BENCHMARKS.md. Usage: bench/import_bench.sh [RUNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
rounds=${2:-3}
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/pip install -q pandas
python3 bench/make_data.py >&2
cargo build --release --locked -p cli --bin clusterwise >&2
cargo bench --locked -p domain --bench import --no-run >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  echo "round $r of $rounds" >&2
  bench/.venv/bin/python bench/pandas_read.py "$runs" >>"$tmp/pandas"
  cargo bench --locked -q -p domain --bench import -- "$runs" 2>/dev/null | tail -1 >>"$tmp/ours"
  # The same on one core (the parser then reads on one thread).
  taskset -c 0 cargo bench --locked -q -p domain --bench import -- "$runs" 2>/dev/null | tail -1 >>"$tmp/ours1"
done
whole() { # kind file → "seconds kilobytes" of the median of 5 imports, each into a fresh database
  for _ in 1 2 3 4 5; do
    rm -f "$tmp"/db*
    /usr/bin/time -f "%e %M" -o "$tmp/t" target/release/clusterwise import "$1" "$2" --db "sqlite://$tmp/db.sqlite" \
      >/dev/null 2>&1
    cat "$tmp/t"
  done | sort -n | sed -n 3p
}
read -r census_s census_kb <<<"$(whole census bench/data/census_england_2022_23.csv)"
read -r gias_s gias_kb <<<"$(whole gias bench/data/edubasealldata_50k.csv)"
python3 - "$tmp" "$census_s" "$census_kb" "$gias_s" "$gias_kb" <<'PY'
import json, statistics, sys
tmp = sys.argv[1]
load = lambda name: [json.loads(l) for l in open(f"{tmp}/{name}") if l.strip()]
p, o, o1 = load("pandas"), load("ours"), load("ours1")
cs, ck, gs, gk = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
med = lambda rows, key, field: statistics.median(r[key][field] for r in rows)
cores = open('/proc/cpuinfo').read().count('processor')
print(f"pandas {p[0]['pandas']}; {len(p)} rounds of {o[0]['runs']} runs, median of the rounds' medians "
      f"(each round's ratio in brackets); {cores} cores, parser on {o[0]['threads']} threads\n")
print("| file | rows × columns | pandas.read_csv (in memory / from path) | our parse + validate | ratio | on 1 core (ratio) | whole import into SQLite | peak memory |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for key, name, s, kb in [("census", "census_england_2022_23.csv (UTF-8)", cs, ck), ("gias", "edubasealldata_50k.csv (Windows-1252)", gs, gk)]:
    pm, pp = med(p, key, "median_ms"), med(p, key, "median_ms_from_path")
    om, o1m = med(o, key, "median_ms"), med(o1, key, "median_ms")
    each = ", ".join(f"{a[key]['median_ms'] / b[key]['median_ms']:.1f}" for a, b in zip(p, o))
    print(f"| {name} | {p[0][key]['rows']:,} × {p[0][key]['columns']} | {pm:.0f} ms / {pp:.0f} ms "
          f"| {om:.1f} ms | {pm / om:.1f}× ({each}) | {o1m:.1f} ms ({pm / o1m:.1f}×) | {s:.2f} s | {kb / 1024:.0f} MB |")
PY
