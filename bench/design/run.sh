#!/usr/bin/env bash
# The boundary-planner benchmark (issue 3): ours against PySAL spopt (MaxP, AZP, Region
# K-means) and an exact p-median districting MIP (HiGHS), side by side, every answer judged by
# the same checker (`clusterwise design --evaluate`). Writes bench/design/out/results.md.
#
# usage: bench/design/run.sh [MIP_SECONDS]   (default 600; the whole run takes about 15 minutes)
# Needs: python3 with venv, a release build of `clusterwise` (built here unless CLUSTERWISE_BIN
# names one), the Norfolk census in ../shared/data/real.
set -euo pipefail
cd "$(dirname "$0")/../.."
MIP_SECONDS=${1:-600}
HERE=bench/design
OUT=$HERE/out
VENV=$HERE/.venv
DATA=${NORFOLK_CSV:-../shared/data/real/norfolk_schools_spc_2022_23.csv}
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then
  # Check that the packages resolve before installing them.
  python3 -m pip download --no-deps -q -d "$OUT/wheels" spopt libpysal geopandas shapely highspy
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q spopt libpysal geopandas shapely highspy
fi
PY=$VENV/bin/python
if [ -z "${CLUSTERWISE_BIN:-}" ]; then
  cargo build --release -q -p cli
  CLUSTERWISE_BIN=${CARGO_TARGET_DIR:-target}/release/clusterwise
fi
BIN=$CLUSTERWISE_BIN

python3 "$HERE/make_counties.py" "$DATA" "$OUT" > "$OUT/inputs.txt"
cat "$OUT/inputs.txt"
BOUNDS=(--min-pupils 2500 --max-pupils 5000)
: > "$OUT/runs.jsonl"

# record NAME INSTANCE-ARGS... -- COMMAND...: times COMMAND (wall, peak RSS), then judges its
# assignment $OUT/NAME.csv with the same checker on the instance.
record() {
  local name=$1; shift
  local inst=()
  while [ "$1" != "--" ]; do inst+=("$1"); shift; done
  shift
  local status
  status=$( { /usr/bin/time -f "%e %M" -o "$OUT/$name.time" "$@" 2> "$OUT/$name.err" | tail -1; } || true)
  if [ -s "$OUT/$name.csv" ]; then
    "$BIN" design "${inst[@]}" --evaluate "$OUT/$name.csv" --report "$OUT/$name.eval.json" > /dev/null
  fi
  python3 - "$name" "$OUT" "$status" <<'EOF' >> "$OUT/runs.jsonl"
import json, sys, os
name, out, status = sys.argv[1], sys.argv[2], sys.argv[3]
wall, rss = open(f"{out}/{name}.time").read().split()[-2:]
row = {"name": name, "wall_s": float(wall), "peak_mb": round(int(rss) / 1024, 1), "status": status.strip()}
ev = f"{out}/{name}.eval.json"
if os.path.exists(ev) and os.path.exists(f"{out}/{name}.csv"):
    e = json.load(open(ev))["evaluation"]
    rules = {}
    for v in e["hard_violations"]:
        rules[v["rule"]] = rules.get(v["rule"], 0) + 1
    row.update(clusters=e["clusters"], objective=e["objective"]["total"], travel=e["objective"]["travel_pupil_km"],
               violations=len(e["hard_violations"]), by_rule=rules)
print(json.dumps(row))
EOF
  tail -1 "$OUT/runs.jsonl"
}

N=(--schools "$OUT/norfolk.csv" "${BOUNDS[@]}" --clusters 22..32)
NA=(--schools "$OUT/norfolk.csv" --existing "$OUT/norfolk_existing.csv" --mode amalgamate "${BOUNDS[@]}" --clusters 22..32)
"$BIN" design "${N[@]}" --write-graph "$OUT/graph.csv" --max-iterations 1 --quiet > /dev/null 2>&1 || true

# Ours.
for seed in 1 2 3; do
  record "ours_norfolk_redraw_s$seed" "${N[@]}" -- "$BIN" design "${N[@]}" --seed $seed --quiet --out "$OUT/ours_norfolk_redraw_s$seed.csv"
done
record ours_norfolk_redraw_0.25s "${N[@]}" -- "$BIN" design "${N[@]}" --time-limit 0.25 --quiet --out "$OUT/ours_norfolk_redraw_0.25s.csv"
for seed in 1 2 3; do
  record "ours_norfolk_amalgamate_s$seed" "${NA[@]}" -- "$BIN" design "${NA[@]}" --seed $seed --quiet --out "$OUT/ours_norfolk_amalgamate_s$seed.csv"
done
C4=(--schools "$OUT/county_4x.csv" "${BOUNDS[@]}" --clusters 88..128)
C16=(--schools "$OUT/county_16x.csv" "${BOUNDS[@]}" --clusters 352..512)
EN=(--schools "$OUT/england.csv" "${BOUNDS[@]}" --clusters 1320..1920)
record ours_county_4x "${C4[@]}" -- "$BIN" design "${C4[@]}" --time-limit 9 --quiet --out "$OUT/ours_county_4x.csv"
record ours_county_16x "${C16[@]}" -- "$BIN" design "${C16[@]}" --time-limit 9 --quiet --out "$OUT/ours_county_16x.csv"
record ours_england "${EN[@]}" -- "$BIN" design "${EN[@]}" --time-limit 55 --quiet --out "$OUT/ours_england.csv"

# Peers on Norfolk, given our neighbour graph.
G=("$OUT/norfolk.csv" "$OUT/graph.csv")
record spopt_maxp "${N[@]}" -- "$PY" "$HERE/peers.py" maxp "${G[@]}" "$OUT/spopt_maxp.csv" --min 2500
record spopt_azp_27 "${N[@]}" -- "$PY" "$HERE/peers.py" azp "${G[@]}" "$OUT/spopt_azp_27.csv" --regions 27
record spopt_kmeans_27 "${N[@]}" -- "$PY" "$HERE/peers.py" kmeans "${G[@]}" "$OUT/spopt_kmeans_27.csv" --regions 27
# HiGHS does not always stop at its time limit on the redraw model, so each MIP also runs under
# `timeout` (the cap plus 5 minutes for building the model).
CAP=$((${MIP_SECONDS%.*} + 300))
record mip_amalgamate "${NA[@]}" -- timeout $CAP "$PY" "$HERE/peers.py" mip "${G[@]}" "$OUT/mip_amalgamate.csv" --existing "$OUT/norfolk_existing.csv" --time-limit "$MIP_SECONDS"
record mip_redraw "${N[@]}" -- timeout $CAP "$PY" "$HERE/peers.py" mip "${G[@]}" "$OUT/mip_redraw.csv" --time-limit "$MIP_SECONDS"

python3 - "$OUT" <<'EOF' | tee "$OUT/results.md"
import json, sys
out = sys.argv[1]
print("| run | clusters | hard violations | objective (pupil-km) | wall | peak memory | notes |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
for line in open(f"{out}/runs.jsonl"):
    r = json.loads(line)
    v = r.get("violations", "–")
    if r.get("by_rule"):
        v = f"{v} (" + ", ".join(f"{k} {n}" for k, n in sorted(r["by_rule"].items())) + ")"
    obj = f"{r['objective']:,.0f}" if "objective" in r else "–"
    print(f"| {r['name']} | {r.get('clusters', '–')} | {v} | {obj} | {r['wall_s']:.2f} s | {r['peak_mb']:.0f} MB | {r['status'][:110]} |")
EOF
