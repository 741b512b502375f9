#!/usr/bin/env bash
# Create .venv and install streamscribe into it.
#   bash scripts/setup.sh          runtime only (serve, transcribe, clients)
#   bash scripts/setup.sh --dev    + test, lint, training and evaluation tools, and the
#                                  Debian packages the tests drive (Chromium, TTS engines)
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${PYTHON:-python3.11}
command -v "$python_bin" >/dev/null || python_bin=python3
[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# The CPU build of torch, pinned: an unpinned torch resolves to a multi-GB CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || "${pip[@]}" torch==2.13.0

if [ "${1:-}" = "--dev" ]; then
  "${pip[@]}" -e ".[dev,train,peers,plot]"
  apt_packages=(chromium chromium-driver espeak-ng flite festival festvox-kallpc16k
                festvox-kdlpc16k festvox-us-slt-hts sox libsox-fmt-all ffmpeg libportaudio2
                libjemalloc2)
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  "${pip[@]}" -e .
fi
