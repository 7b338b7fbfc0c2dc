#!/usr/bin/env bash
# Create .venv with spikec and everything it needs (idempotent). Sourced by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${SPIKEC_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# torch first, pinned: 2.13.0 is a CPU wheel on these machines' disk; an unpinned
# torch pulls a multi-GB CUDA build (norse's torchvision then moves it to 2.14.1, also on disk).
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet "torch==2.13.0"
fi
"$VENV/bin/pip" install --quiet -e ".[test]"
