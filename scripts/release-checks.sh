#!/usr/bin/env bash
# The long checks run before a release (not in CI), one step a line. Each step exits non-zero on
# failure; results and figures go to docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# Load (issue 8, item 7): reads at 1,000/s for 60 s each, overload at 3x, recovery, and a
# 30-minute soak with RSS growth <= 10 %. Results in target/load/results.jsonl.
scripts/load.sh --duration 60 --rate 1000 --overload-seconds 30 --soak 1800
