"""Loihi core placement: every neuron on exactly one core, per-core limits kept, clear failures."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import spikec
from spikec.compiler.loihi.place import PlaceLoihi, format_placement, synapse_bits
from spikec.compiler.target import load_target
from spikec.ir import CompileError, Graph
from spikec.ir.nodes import LIF, Input, Linear, Output

from conftest import NIR_PAPER


def dense_net(n_in: int, n_hidden: int, density: float, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    w = rng.normal(0.5, 1.0, (n_hidden, n_in)) * (rng.random((n_hidden, n_in)) < density)
    one = np.ones(n_hidden)
    lif = LIF(tau=2e-3 * one, r=20 * one, v_leak=0 * one, v_threshold=one, v_reset=0 * one)
    nodes = {"in": Input(shape=(n_in,)), "fc": Linear(weight=w), "hidden": lif, "out": Output(shape=(n_hidden,))}
    return Graph(nodes, (("in", "fc"), ("fc", "hidden"), ("hidden", "out")))


def target_with(**limits):
    t = load_target("loihi2")
    return replace(t, limits=replace(t.limits, **limits))


def placement(graph, target):
    return spikec.compile(graph, target, dt_s=1e-4, fidelity_steps=0).report["place-loihi"]


@settings(max_examples=25, deadline=None)
@given(n_hidden=st.integers(1, 300), per_core=st.integers(1, 64), density=st.floats(0.05, 1.0), seed=st.integers(0, 99))
def test_every_neuron_is_placed_exactly_once_within_the_neuron_limit(n_hidden, per_core, density, seed):
    report = placement(dense_net(20, n_hidden, density, seed), target_with(neurons_per_core=per_core, cores_per_chip=1024))
    cores = [c for c in report["per_core"] if c["population"] == "hidden"]
    covered = np.zeros(n_hidden, dtype=int)
    for c in cores:
        assert 1 <= c["neurons"] <= per_core
        covered[c["first_neuron"]:c["first_neuron"] + c["neurons"]] += 1
    assert (covered == 1).all()
    assert len(cores) >= -(-n_hidden // per_core)


def test_synaptic_memory_forces_a_finer_split_and_is_respected():
    graph = dense_net(400, 200, 1.0)
    roomy = placement(graph, target_with(neurons_per_core=1024, synaptic_memory_bytes_per_core=10**7))
    tight = placement(graph, target_with(neurons_per_core=1024, synaptic_memory_bytes_per_core=20_000))
    assert roomy["cores"] == 1
    # 200 x 400 dense 8-bit synapses = 80,000 bytes: at least 4 cores of 20,000 bytes
    assert tight["cores"] >= 4
    assert all(c["synaptic_bytes"] <= 20_000 for c in tight["per_core"])
    assert tight["synapses"] == roomy["synapses"] > 0.9 * 200 * 400  # a few weights round to zero


def test_sparse_synapses_pay_for_an_index():
    graph = dense_net(1000, 4, 0.1)
    program = spikec.compile(graph, "loihi2", dt_s=1e-4, fidelity_steps=0)
    dense = program.graph.nodes["in->hidden"]
    assert synapse_bits(dense, 6) == 8 + 10  # 8-bit weight + log2(1000) index bits


def test_a_network_beyond_the_chip_fails_with_the_count_and_the_limit():
    # neurons alone fit one core (the feasibility pass agrees); synaptic memory needs >= 4 cores of 2
    tight = target_with(neurons_per_core=1024, synaptic_memory_bytes_per_core=20_000, cores_per_chip=2, chips=1)
    with pytest.raises(CompileError, match=r"needs \d+ cores, \d+ more than the 2 of 1 chip\(s\) x 2 cores"):
        spikec.compile(dense_net(400, 200, 1.0), tight, dt_s=1e-4, fidelity_steps=0)


def test_one_neuron_over_the_synaptic_memory_fails_naming_the_population():
    with pytest.raises(CompileError, match=r"node 'hidden': synaptic memory of one neuron \(bytes\) is \d+, over the per-core limit 100"):
        spikec.compile(dense_net(400, 3, 1.0), target_with(synaptic_memory_bytes_per_core=100), dt_s=1e-4, fidelity_steps=0)


def test_braille_fits_and_the_report_prints():
    report = placement(spikec.load_nir(NIR_PAPER / "braille_noDelay_bias_zero.nir"), load_target("loihi2"))
    assert report["cores"] == 2 and report["neurons"] == 38 + 7
    text = format_placement(report)
    assert "2 of 128 cores" in text and "lif1.lif" in text
