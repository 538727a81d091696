#!/usr/bin/env bash
# The long checks run before a release (hours, not CI minutes): a plain list of steps, one line
# each, run in order; exits non-zero on the first failure. Results go in docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== release step: %s\n' "$*"; "$@"; }

# Fuzzing (issue 8 item 4): at least one CPU-hour per parser target, the corpus kept in fuzz/work.
step env FUZZ_WORK=fuzz/work scripts/fuzz.sh "${FUZZ_SECONDS:-3600}"
