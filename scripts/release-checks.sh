#!/usr/bin/env bash
# The long checks run before a release (not in CI), one step a line. Each step exits non-zero on
# failure; results and figures go to docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# Fuzzing (issue 8, item 4): one CPU-hour per parser target (6 targets, 2 at a time on 2 cores:
# about 3 hours), the growing corpus kept in fuzz/work/ between runs.
FUZZ_WORK=fuzz/work scripts/fuzz.sh "${FUZZ_SECONDS:-3600}"
