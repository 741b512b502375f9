#!/usr/bin/env bash
# Set up (first run only) and start the server on the embedded default model.
# Extra arguments go to `streamscribe serve` (see `.venv/bin/streamscribe serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamscribe serve "$@"
