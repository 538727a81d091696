#!/usr/bin/env bash
# The evaluation benchmark (issue 6), side by side on this machine:
#   1. generates 25,000 schools x 10 years x 10 measures of tidy metrics (bench/evaluation/data/);
#   2. runs the authority summary in Rust (crates/domain/benches/evaluation.rs: parse, every
#      cluster's gaps, targets' RAG, a difference-in-differences with 1,000 bootstrap replicates);
#   3. runs the same in pandas/statsmodels (bench/evaluation/pandas_summary.py, virtualenv
#      bench/evaluation/.venv);
#   4. checks both agree (same DiD estimate, same sum of gaps, same RAG counts).
# Prints a Markdown table for BENCHMARKS.md. Usage: bench/evaluation/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
[ -x bench/evaluation/.venv/bin/python ] || python3 -m venv bench/evaluation/.venv
bench/evaluation/.venv/bin/pip install -q pandas statsmodels
[ -f bench/evaluation/data/metrics.csv ] || python3 bench/evaluation/make_data.py >&2
cargo build --release --locked -p domain --bench evaluation >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo bench --locked -p domain --bench evaluation -- "$runs" 2>/dev/null | grep '^{' >"$tmp/ours"
bench/evaluation/.venv/bin/python bench/evaluation/pandas_summary.py bench/evaluation/data "$runs" >"$tmp/pandas"
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
ours, pandas = json.load(open(f"{tmp}/ours")), json.load(open(f"{tmp}/pandas"))
same_did = abs(ours["did"] - pandas["did"]) < 1e-9
same_gaps = abs(ours["gap_sum"] - pandas["gap_sum"]) <= 1e-6 * max(1.0, abs(pandas["gap_sum"]))
same_rag = ours["rag"] == pandas["rag"]
print(f"pandas {pandas['pandas']}, statsmodels {pandas['statsmodels']}; medians of {ours['runs']} runs; "
      f"{ours['rows']:,} rows, {ours['clusters']:,} clusters; DiD {ours['did']:.3f} points "
      f"(ours 95% interval {ours['ci'][0]:.2f} to {ours['ci'][1]:.2f}, pandas {pandas['ci'][0]:.2f} to {pandas['ci'][1]:.2f}; "
      f"{ours['treated']:,} treated, {ours['comparison']:,} comparison schools); "
      f"same estimate: {'yes' if same_did else 'NO'}; same gaps: {'yes' if same_gaps else 'NO'}; same RAG: {'yes' if same_rag else 'NO'}\n")
print("| step | pandas/statsmodels | ours | ratio |")
print("| --- | ---: | ---: | ---: |")
rows = [
    ("read and check the CSV (2.5 million rows)", pandas["read_ms"], ours["parse_ms"]),
    ("every cluster's gaps, every measure and year", pandas["gaps_ms"], ours["gaps_ms"]),
    ("targets' RAG (3 per cluster)", pandas["rag_ms"], ours["rag_ms"]),
    ("difference-in-differences, 1,000 bootstrap replicates", pandas["did_ms"], ours["did_ms"]),
    ("the authority summary (gaps + RAG + DiD)", pandas["summary_ms"], ours["summary_ms"]),
    ("whole: read + summary", pandas["read_ms"] + pandas["summary_ms"], ours["parse_ms"] + ours["summary_ms"]),
]
for name, p, o in rows:
    print(f"| {name} | {p:,.0f} ms | {o:,.0f} ms | {p / o:.1f}× |")
if not (same_did and same_gaps and same_rag):
    sys.exit(1)
PY
