#!/usr/bin/env bash
# Set up everything and run the whole test suite (README, command 2; CI runs this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${SPIKEC_VENV:-.venv}
# Lava (lava-nc 0.10.0) lives in its own Python 3.10 environment (docs/lava.md).
if [ "${SPIKEC_SKIP_LAVA:-0}" != "1" ]; then
  "$VENV/bin/python" -m spikec.backends.lava
fi
# NEST 3.10 with PyNN 0.13 (its own venv) runs the emitted PyNN scripts (docs/toolchains.md).
if [ "${SPIKEC_SKIP_NEST:-0}" != "1" ]; then
  "$VENV/bin/python" -m spikec.backends.pynn --setup
fi
# One BLAS thread per test worker: on a loaded 2-core machine OpenBLAS's own threads
# made a 1000x1000 matrix-vector product 25x slower (bench/README.md).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec "$VENV/bin/python" -m pytest -q -n 2 "$@"
