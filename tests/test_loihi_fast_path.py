"""The fast Loihi reference path computes the integers of the step-by-step definition.

``run_loihi`` runs ``loihi_schedule`` (event-driven sums over chunks of time
steps, populations in topological order of their cycles; numba kernels when
installed). ``run_loihi_stepwise`` is the straightforward loop in Lava's order.
On random programs (recurrent and self connections, synaptic delays, every
reset variant, read-outs, batches, chunk boundaries, weights and biases at the
integer edges so that u wraps and v saturates) spikes, u and v must be equal
on the numpy path and on the compiled one.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikec.backends.reference import loihi_schedule
from spikec.backends.reference.event_sums import PackedColumns, compiled_kernels
from spikec.backends.reference.loihi_executor import prepare_spikes, run_loihi, run_loihi_stepwise
from spikec.compiler.loihi.nodes import Dense, LoihiInput, LoihiNeurons, LoihiOutput
from spikec.compiler.target import load_target
from spikec.ir.graph import Graph

FMT = load_target("loihi2").numeric
PATHS = [False] + ([True] if compiled_kernels() is not None else [])


def random_population(rng: np.random.Generator, n: int, edge: bool) -> LoihiNeurons:
    reset = str(rng.choice(["zero", "subtract"]))
    reset_delay = bool(rng.random() < 0.3)
    return LoihiNeurons(
        shape=(n,), du=int(rng.choice([0, 3, int(rng.integers(0, 4096)), 4095])),
        dv=int(rng.choice([0, int(rng.integers(0, 4096)), 4095])),
        vth=int(rng.choice([1, int(rng.integers(1, 300)), 131071])),
        bias_mant=rng.integers(-4095, 4096, n) * (rng.random(n) < 0.5),
        bias_exp=rng.integers(0, 8 if edge else 3, n),
        reset=reset, v_reset=rng.integers(-3_000_000, 3_000_000, n) * (rng.random() < 0.3),
        reset_delay=reset_delay, reset_recheck=bool(reset == "subtract" and not reset_delay and rng.random() < 0.5),
        spiking=bool(rng.random() < 0.85),
    )


def random_dense(rng: np.random.Generator, n_out: int, n_in: int, edge: bool, delays: bool) -> Dense:
    w = rng.integers(-127, 128, (n_out, n_in)) * 2
    if edge:  # full-scale 8-bit weights, mostly excitatory (u wraps at 24 bits), or hand-written huge ones (int32 wraps)
        w = rng.choice([254, 254, 254, -254, int(rng.choice([254, 1 << 24, -(1 << 26)]))], (n_out, n_in))
    w = w * (rng.random((n_out, n_in)) < rng.uniform(0.05, 1.0))
    return Dense(weights=w, weight_exp=int(rng.integers(4, 8) if edge else rng.integers(-8, 3)), num_weight_bits=8,
                 sign_mode=1, weight_scale=np.ones(n_out),
                 delays=rng.integers(0, 4, (n_out, n_in)) if delays else None)


def random_program(seed: int) -> tuple[Graph, np.ndarray]:
    """Inputs -> populations with forward, backward and self Dense edges; random integer edges."""
    rng = np.random.default_rng(seed)
    edge = bool(rng.random() < 0.3)
    n_in, n_pops = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    sizes = rng.integers(1, 9, n_pops)
    nodes: dict = {"in": LoihiInput(shape=(n_in,))}
    edges = []
    for i, n in enumerate(sizes):
        nodes[f"p{i}"] = random_population(rng, int(n), edge)
    pairs = [("in", 0)] + [(f"p{i}", int(rng.integers(0, n_pops))) for i in range(n_pops) for _ in range(int(rng.integers(0, 3)))]
    pairs += [(f"p{i - 1}", i) for i in range(1, n_pops)]
    for k, (src, j) in enumerate(dict.fromkeys(pairs)):
        n_src = n_in if src == "in" else int(sizes[int(src[1:])])
        nodes[f"d{k}"] = random_dense(rng, int(sizes[j]), n_src, edge, bool(rng.random() < 0.3))
        edges += [(src, f"d{k}"), (f"d{k}", f"p{j}")]
    for i in range(n_pops):
        if rng.random() < 0.6 or i == n_pops - 1:
            reads = "s" if nodes[f"p{i}"].spiking and rng.random() < 0.7 else "v"
            nodes[f"out{i}"] = LoihiOutput(shape=(int(sizes[i]),), reads=reads)
            edges.append((f"p{i}", f"out{i}"))
    steps, batch = int(rng.integers(1, 40)), int(rng.integers(1, 4))
    x = (rng.random((steps, batch, n_in)) < rng.uniform(0.05, 0.9)).astype(np.int8)
    return Graph(nodes, edges), x


@pytest.mark.parametrize("compiled", PATHS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), chunk=st.sampled_from([1, 7, 64, 1 << 21]))
def test_fast_path_equals_stepwise_definition_on_random_programs(compiled, seed, chunk):
    graph, x = random_program(seed)
    record = ("u", "v", "s")
    want = run_loihi_stepwise(graph, FMT, x, record)
    spikes, _, steps = prepare_spikes(graph, x)
    saved = loihi_schedule.CHUNK_ELEMENTS
    loihi_schedule.CHUNK_ELEMENTS = chunk * x.shape[1] * 8  # chunks of `chunk` steps at most
    try:
        got = loihi_schedule.run_schedule(graph, FMT, spikes, steps, x.shape[1], record, compiled=compiled)
    finally:
        loihi_schedule.CHUNK_ELEMENTS = saved
    assert set(got) == set(want)
    for key, arr in want.items():
        np.testing.assert_array_equal(got[key].reshape(arr.shape), arr, err_msg=key)


def test_run_loihi_equals_stepwise_with_batch_layout_and_traces():
    graph, x = random_program(7)
    for inputs in (x, x[:, 0]):
        want = run_loihi_stepwise(graph, FMT, inputs, ("v",))
        got = run_loihi(graph, FMT, inputs, ("v",))
        assert set(got) == set(want)
        for key in want:
            assert got[key].shape == want[key].shape and got[key].dtype == want[key].dtype
            np.testing.assert_array_equal(got[key], want[key])


@pytest.mark.skipif(compiled_kernels() is None, reason="numba not installed")
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_compiled_and_numpy_event_sums_agree(seed):
    rng = np.random.default_rng(seed)
    n_out, n_in, rows = (int(v) for v in rng.integers(1, 60, 3))
    w = rng.integers(-(2**31), 2**31, (n_out, n_in)) * (rng.random((n_out, n_in)) < rng.random())
    packed = PackedColumns(w)
    spikes = rng.random((rows, n_in)) < rng.random()
    exact = spikes.astype(object) @ w.T.astype(object)
    for compiled in (False, True):
        np.testing.assert_array_equal(packed.sums(spikes, compiled=compiled), exact.astype(np.int64))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_packed_columns_group_synapses_by_source_with_targets_ascending(seed):
    rng = np.random.default_rng(seed)
    w = (rng.integers(-254, 255, (int(rng.integers(1, 30)), int(rng.integers(1, 30)))) * (rng.random() < 0.9)).astype(np.int32)
    w *= rng.random(w.shape) < rng.random()
    packed = PackedColumns(w)
    src, tgt = np.nonzero(w.T)
    np.testing.assert_array_equal(packed.target, tgt)
    np.testing.assert_array_equal(packed.weight, w[tgt, src])
    np.testing.assert_array_equal(np.diff(packed.start), np.bincount(src, minlength=w.shape[1]))
