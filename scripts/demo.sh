#!/usr/bin/env bash
# The main job on a bundled example (README, command 1): load, inspect, simulate,
# compile for every target family, and verify each target's own backend
# (Lava for Loihi, the SpiNNaker event machine, the RRAM crossbar simulator)
# against the bit-accurate reference executor.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${SPIKEC_VENV:-.venv}
SPIKEC="$VENV/bin/spikec"
MODEL=examples/braille_subtract.nir
OUT=${SPIKEC_DEMO_OUT:-out}
mkdir -p "$OUT"
echo "== spikec inspect $MODEL"
"$SPIKEC" inspect "$MODEL"
echo "== random input spikes: 200 steps, batch 4, 12 channels"
"$VENV/bin/python" -c "import numpy as np; np.save('$OUT/input.npy', (np.random.default_rng(0).random((200, 4, 12)) < 0.2).astype(np.float32))"
echo "== spikec run (float reference, dt = 1e-4 s)"
"$SPIKEC" run "$MODEL" --input "$OUT/input.npy" --output "$OUT/float.npz" --dt 1e-4
"$VENV/bin/python" -c "
import numpy as np
y = np.load('$OUT/float.npz')['output']
print('output spikes per sample and class (float reference):')
print(y.sum(axis=0).astype(int))
"
echo "== spikec targets"
"$SPIKEC" targets
echo "== spikec compile for loihi2 (with the quantisation and fidelity report)"
"$SPIKEC" compile "$MODEL" --target loihi2 -o "$OUT/braille.loihi2" --report
echo "== spikec verify: each target's own backend against the reference executor"
if [ "${SPIKEC_SKIP_LAVA:-0}" != "1" ]; then
  "$VENV/bin/python" -m spikec.backends.lava > /dev/null
fi
"$SPIKEC" verify "$MODEL" --targets loihi2,spinnaker1,rram-512 --input "$OUT/input.npy"
