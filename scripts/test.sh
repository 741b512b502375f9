#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite, as CI does (.ci/run calls this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# Tiny models run fastest single-threaded; pytest-xdist spreads the tests over the cores.
export OMP_NUM_THREADS=1
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
