"""Long synaptic delays on Lava: relay chains and DelayDense equal the reference executor (issue 8).

Skipped only when no Lava environment exists; each Lava run takes 1-3 s, so
the networks are small and cases share a batch.
"""
from __future__ import annotations

import numpy as np
import pytest

import spikec
from spikec.backends.lava.env import ensure_lava_env
from spikec.ir.errors import SpikecError

from test_delays import DT, MOTIF_DELAYS, delay_linear_net, float_and_program, motif_inputs, two_layer_net

try:
    LAVA_PYTHON = ensure_lava_env(create=False)
except SpikecError:  # pragma: no cover - depends on the machine
    LAVA_PYTHON = None

pytestmark = pytest.mark.skipif(LAVA_PYTHON is None, reason="no Lava environment (run `python -m spikec.backends.lava.env`)")


def test_lava_matches_reference_on_random_delays_beyond_delaydense_limit():
    graph = two_layer_net(np.random.default_rng(3), 200)
    program = spikec.compile(graph, "loihi2", dt_s=DT, fidelity_steps=0)
    assert program.report["delays"]["stages"], "the test needs relay chains"
    x = (np.random.default_rng(4).random((450, 2, 5)) < 0.3).astype(float)
    ref = spikec.run(program, x, record=("v",))
    hw = spikec.run(program, x, backend="lava", record=("v",))
    for key in ("out", "h.v", "o.v"):
        np.testing.assert_array_equal(hw[key], ref[key])
    assert ref["out"].sum() > 10


def test_lava_keeps_the_float_timing_across_slot_boundaries_and_relays():
    steps = np.array([16.3, 16.5, 17.5, 63.6, 64.5, 130.2, 1.0])
    graph = delay_linear_net(np.eye(7), np.diag(steps))
    x = (np.random.default_rng(9).random((200, 7)) < 0.05).astype(float)
    f, q = float_and_program(graph, "loihi2", x, backend="lava")
    np.testing.assert_array_equal(q, f)
    assert f.sum() > 10


def test_the_motif_detector_runs_on_lava():
    graph = delay_linear_net(np.ones((1, 3)), MOTIF_DELAYS, threshold=2.5)
    out = float_and_program(graph, "loihi2", motif_inputs(), backend="lava")[1]
    np.testing.assert_array_equal(np.flatnonzero(out[:, 0, 0]), [75])
    assert out[:, 1].sum() == 0
