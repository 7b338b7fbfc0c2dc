"""Random-network sweeps across targets, and a deliberately broken backend caught at its exact place."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.verification import verify as verify_mod
from spikec.verification.randgraph_spec import GraphSpec
from spikec.verification.sweep import format_sweep, sweep

EXAMPLE = Path(spikec.__file__).parent / "examples" / "braille_subtract.nir"


def test_two_hundred_random_graphs_agree_on_both_rram_targets():
    report = sweep(200, ["rram-512", "rram-256"], spec=GraphSpec.small(), first_seed=0, shrink_failures=False)
    assert report.ok, format_sweep(report)
    for tally in report.tallies.values():
        assert tally.graphs == 200
        assert tally.agreed == 200, format_sweep(report)  # DelayLinear included (delay-buffer branches)


def test_random_graphs_agree_on_the_spinnaker_event_machine():
    """Includes LI read-outs (membrane outputs), which once crashed the machine's output assembly."""
    report = sweep(150, ["spinnaker1"], spec=GraphSpec.small(), first_seed=1000, shrink_failures=False)
    assert report.ok, format_sweep(report)
    assert report.tallies["spinnaker1"].agreed == 150


def test_random_loihi_graphs_agree_with_lava():
    report = sweep(4, ["loihi2"], spec=GraphSpec.loihi_friendly(), first_seed=500, shrink_failures=False)
    assert report.ok, format_sweep(report)
    assert report.tallies["loihi2"].agreed == 4


def test_one_flipped_weight_bit_in_the_backends_program_is_located():
    """The native backend runs a program with bit 6 of one weight flipped; the reference the true one.
    verify must report a mismatch and bisect it to the layer that synapse feeds, at the step
    where a spike first crosses it."""
    program = spikec.compile(spikec.load_nir(EXAMPLE), "loihi2", fidelity_steps=0)
    dense_name = "lif1.lif->lif2"
    dense = program.graph.nodes[dense_name]
    x = (np.random.default_rng(3).random((120, 2, 12)) < 0.3).astype(np.float32)
    reference = spikec.run(program, x, record=("s",))
    col = int(reference["lif1.lif.s"].sum(axis=(0, 1)).argmax())  # the busiest hidden neuron
    weights = np.array(dense.weights)
    rows = [r for r in range(weights.shape[0]) if weights[r, col] >= 0 and not weights[r, col] & (1 << 6)]
    row = rows[0]
    weights[row, col] ^= 1 << 6  # +64: a much stronger excitatory synapse
    broken = replace(program, graph=program.graph.replace_nodes({dense_name: dense.replace(weights=weights)}))

    def broken_backend(prog, x, record=(), **_):
        from spikec.backends import lava

        return lava.run(broken, x, record=record)

    original = verify_mod._backend_runner
    verify_mod._backend_runner = lambda name: broken_backend
    try:
        result = verify_mod.verify_target(program, x)
    finally:
        verify_mod._backend_runner = original
    assert result.mismatches > 0
    hidden_spikes = reference["lif1.lif.s"][:, :, col]
    first_crossing = int(np.argwhere(hidden_spikes.any(axis=1))[0, 0])
    assert result.diverging_node.node == "lif2.s"
    assert result.diverging_node.neuron[-1] == row
    assert result.diverging_node.step > first_crossing  # the Dense latency: one step after the spike

