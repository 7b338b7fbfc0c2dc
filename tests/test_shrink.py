"""The shrinker: planted bugs in big random graphs reduce to minimal graphs that still fail."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import spikec
from spikec.backends.reference import float_executor
from spikec.verification import randgraph_edits as edits
from spikec.verification.random_graphs import GraphSpec, random_graph, random_input
from spikec.verification.shrink import complexity, graph_size, shrink, shrink_input
from spikec.ir import Graph, SpikecError
from spikec.ir.nodes import IF, LIF, CubaLIF, Delay, DelayLinear, Input, Linear, Output

BIG = GraphSpec.small().with_(hidden_layers=(4, 5), hidden_size=(8, 16), p_recurrent=0.6, p_skip=0.4, p_delay=0.3)


def on_a_cycle(graph: Graph) -> set[str]:
    g = nx.DiGraph(list(graph.edges))
    return {n for component in nx.strongly_connected_components(g) if len(component) > 1 for n in component}


def recurrent_subtractive_cubalif(graph: Graph) -> bool:
    """The planted structural bug: a CubaLIF with subtractive reset inside a recurrent loop."""
    loop = on_a_cycle(graph)
    return any(isinstance(n, CubaLIF) and n.reset == "subtract" and name in loop for name, n in graph.items())


def first_seed(spec: GraphSpec, predicate, min_nodes: int = 15) -> Graph:
    for seed in range(500):
        graph = random_graph(seed, spec)
        if len(graph.nodes) >= min_nodes and predicate(graph):
            return graph
    raise AssertionError("no seed has the planted feature")


def widths(graph: Graph) -> list[int]:
    return [int(np.prod(node.shape)) for node in graph.nodes.values() if isinstance(node, (Input, Output))] + [
        int(n.v_threshold.size) for n in graph.nodes.values() if hasattr(n, "v_threshold")
    ]


@pytest.fixture(scope="module")
def structural_case() -> tuple[Graph, Graph, list[str]]:
    """A big graph with the planted structural bug, its shrunk form and the shrinker's log."""
    graph = first_seed(BIG, recurrent_subtractive_cubalif)
    log: list[str] = []
    return graph, shrink(graph, recurrent_subtractive_cubalif, log=log), log


def test_a_structural_bug_shrinks_to_one_neuron_in_a_loop(structural_case):
    graph, small, log = structural_case
    spikec.validate(small)
    assert recurrent_subtractive_cubalif(small)
    assert graph_size(graph)[0] >= 15 and len(small.nodes) <= 5, log
    assert max(widths(small)) == 1
    kinds = sorted(n.kind for n in small.nodes.values())
    assert kinds.count("CubaLIF") == 1 and not {"Conv2d", "Delay", "Affine"} & set(kinds)
    assert "spikec.shrunk_from" in small.metadata and "spikec.random.reproducer" not in small.metadata


# --- a deliberately broken executor ---------------------------------------------------


def simulate_ignoring_reset_delay(graph: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """The float reference with a planted bug: delayed resets happen immediately."""
    correct = float_executor._spike_and_reset

    def buggy(node, state, v):
        undelayed = SimpleNamespace(
            v_threshold=node.v_threshold, v_reset=node.v_reset, reset=node.reset, reset_delay=False,
            reset_recheck=getattr(node, "reset_recheck", False),
        )
        return correct(undelayed, state, v)

    with mock.patch.object(float_executor, "_spike_and_reset", buggy):
        return spikec.simulate(graph, x)


def executors_disagree(graph: Graph) -> bool:
    x = random_input(graph, seed=0, steps=30, batch=2, rate=0.3)
    good, bad = spikec.simulate(graph, x), simulate_ignoring_reset_delay(graph, x)
    return any(not np.array_equal(good[k], bad[k]) for k in good)


def test_a_broken_executor_is_caught_and_shrunk_to_a_delayed_reset_neuron():
    spec = BIG.with_(p_reset_delay=0.5, p_conv=0.0)
    graph = first_seed(spec, executors_disagree)
    small = shrink(graph, executors_disagree, max_steps=400)
    spikec.validate(small)
    assert executors_disagree(small)
    spiking = [n for n in small.nodes.values() if isinstance(n, (IF, LIF, CubaLIF))]
    assert len(small.nodes) <= 5 and len(spiking) == 1 and spiking[0].reset_delay
    assert spiking[0].v_threshold.size == 1 and small.nodes["output"].shape == (1,)
    assert np.prod(small.nodes["input"].shape) <= 4  # the bug needs two spikes in a row, from some input
    assert not any(isinstance(n, (CubaLIF, Delay)) for n in small.nodes.values())


def test_shrinking_is_deterministic(structural_case):
    graph, first, _ = structural_case
    again = shrink(graph, recurrent_subtractive_cubalif)
    assert again.same_as(first) and list(again.nodes) == list(first.nodes)


def test_shrink_refuses_a_graph_that_does_not_fail():
    with pytest.raises(SpikecError):
        shrink(random_graph(0), lambda g: False)


def test_max_steps_bounds_the_predicate_calls():
    graph = first_seed(BIG, recurrent_subtractive_cubalif)
    calls = []

    def counting(g: Graph) -> bool:
        calls.append(1)
        return recurrent_subtractive_cubalif(g)

    shrink(graph, counting, max_steps=7)
    assert len(calls) <= 8  # the first call checks the original


# --- properties -----------------------------------------------------------------------


def has_kind(kind: str, at_least: int):
    return lambda g: sum(n.kind == kind for n in g.nodes.values()) >= at_least


PREDICATES = {
    "two LIFs": has_kind("LIF", 2),
    "a Delay": has_kind("Delay", 1),
    "a convolution": has_kind("Conv2d", 1),
    "an IF with delayed reset": lambda g: any(isinstance(n, IF) and n.reset_delay for n in g.nodes.values()),
    "a layer of 5 neurons": lambda g: any(hasattr(n, "v_threshold") and n.v_threshold.size >= 5 for n in g.nodes.values()),
    "a back edge": lambda g: bool(g.execution_order()[1]),
    "a big weight": lambda g: any(hasattr(n, "weight") and np.abs(n.weight).max() > 5 for n in g.nodes.values()),
    "two outputs": lambda g: len(g.outputs) >= 2,
    "a synapse delayed 2 steps": lambda g: any(
        isinstance(n, DelayLinear) and (n.delay >= 2 * g.metadata["dt_s"] - 1e-12).any() for n in g.nodes.values()
    ),
}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(seed=st.integers(0, 10_000), which=st.sampled_from(sorted(PREDICATES)))
def test_shrinking_never_returns_a_graph_that_passes(seed, which):
    predicate = PREDICATES[which]
    graph = random_graph(seed, GraphSpec.small().with_(p_delay=0.4, p_conv=0.3, p_hidden_output=0.3, p_delay_linear=0.3))
    assume(predicate(graph))
    small = shrink(graph, predicate, max_steps=150)
    spikec.validate(small)
    assert predicate(small)
    assert complexity(small) <= complexity(graph)
    assert graph_size(small)[0] <= graph_size(graph)[0]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_every_edit_the_shrinker_keeps_is_valid_even_for_activity_predicates(seed):
    graph = random_graph(seed, GraphSpec.tiny())
    x_seed = seed

    def output_spikes(g: Graph) -> bool:
        out = spikec.simulate(g, random_input(g, x_seed, steps=20, rate=0.3))
        return bool(any(v.any() for v in out.values()))

    assume(output_spikes(graph))
    small = shrink(graph, output_spikes, max_steps=150)
    spikec.validate(small)
    assert output_spikes(small)


# --- the edits ---------------------------------------------------------------------


def test_dropping_a_layer_composes_the_weights_around_it():
    # input(2) -> fc1 (3x2) -> lif (3) -> fc2 (1x3) -> output: without the LIF, fc2 . fc1 remains.
    w1, w2 = np.arange(6.0).reshape(3, 2), np.array([[1.0, -1.0, 2.0]])
    ones = np.ones(3)
    graph = Graph(
        {"input": Input(shape=(2,)), "fc1": Linear(w1),
         "lif": LIF(tau=ones, r=ones, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones),
         "fc2": Linear(w2), "output": Output(shape=(1,))},
        (("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "output")),
    )
    dropped = spikec.normalise(edits.fuse_all(edits.bypass(graph, "lif")))
    assert list(dropped.nodes) == ["input", "fc2", "output"]
    np.testing.assert_array_equal(dropped.nodes["fc2"].weight, w2 @ w1)


def test_a_fanning_out_synapse_is_absorbed_into_each_successor():
    # input(2) -> fc (2x2) -> {a (1x2) -> out_a, b (1x2) -> out_b}: fc disappears, a and b compose with it.
    w, wa, wb = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0]]), np.array([[0.0, -1.0]])
    graph = Graph(
        {"input": Input(shape=(2,)), "fc": Linear(w), "a": Linear(wa), "b": Linear(wb),
         "out_a": Output(shape=(1,)), "out_b": Output(shape=(1,))},
        (("input", "fc"), ("fc", "a"), ("fc", "b"), ("a", "out_a"), ("b", "out_b")),
    )
    assert list(edits.absorbable(graph)) == ["fc"]
    absorbed = spikec.normalise(edits.absorb(graph, "fc"))
    assert "fc" not in absorbed.nodes and ("input", "a") in absorbed.edges and ("input", "b") in absorbed.edges
    np.testing.assert_array_equal(absorbed.nodes["a"].weight, wa @ w)
    np.testing.assert_array_equal(absorbed.nodes["b"].weight, wb @ w)


def test_a_convolutional_front_end_collapses_into_one_dense_matrix():
    spec = GraphSpec.small().with_(p_conv=1.0, hidden_layers=(1, 1))
    graph = random_graph(3, spec)
    conv_neurons = [n for n in graph.nodes if n.startswith("cneurons")]
    for name in conv_neurons:
        graph = edits.fuse_all(edits.bypass(graph, name))
    graph = spikec.normalise(graph)
    assert not {"Conv2d", "SumPool2d", "AvgPool2d", "Flatten"} & {n.kind for n in graph.nodes.values()}
    assert len(graph.nodes["input"].shape) == 1


def test_slicing_a_width_group_keeps_rows_columns_and_neurons_consistent():
    graph = random_graph(11, GraphSpec.small().with_(p_conv=0.0, p_recurrent=1.0, hidden_layers=(2, 2), hidden_size=(6, 6)))
    for ports in edits.width_groups(graph):
        n = edits.group_width(graph, ports)
        sliced = spikec.normalise(edits.slice_group(graph, ports, np.arange(n // 2 or 1)))
        assert graph_size(sliced)[2] < graph_size(graph)[2]


# --- inputs ------------------------------------------------------------------------


def test_shrink_input_keeps_one_spike_and_just_enough_steps():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 4)) < 0.3).astype(float)
    x[12, 2] = 1.0

    def late_spike_on_channel_2(a: np.ndarray) -> bool:
        return a.shape[0] > 5 and bool(a[5:, 2].any())

    small = shrink_input(x, late_spike_on_channel_2)
    assert late_spike_on_channel_2(small)
    assert small.shape == (6, 4) and small.sum() == 1 and small[5, 2] == 1


def test_shrink_input_picks_one_batch_element_and_preserves_a_simulated_failure():
    graph = random_graph(2, GraphSpec.tiny().with_(readout_types=("LIF",)))
    x = random_input(graph, seed=2, steps=30, batch=3, rate=0.5)

    def output_spikes(a: np.ndarray) -> bool:
        return bool(spikec.simulate(graph, a)["output"].any())

    assume_spikes = output_spikes(x)
    assert assume_spikes
    small = shrink_input(x, output_spikes, batched=True)
    assert output_spikes(small)
    assert small.shape[1] == 1 and small.shape[0] <= x.shape[0] and small.sum() < x.sum() / 3


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), threshold=st.integers(1, 6))
def test_shrink_input_never_returns_a_passing_input(seed, threshold):
    x = (np.random.default_rng(seed).random((25, 3)) < 0.4).astype(float)
    predicate = lambda a: a.sum() >= threshold and a.shape[0] >= 3  # noqa: E731
    assume(predicate(x))
    small = shrink_input(x, predicate)
    assert predicate(small) and small.sum() == threshold
    # 1-minimal: neither one step less at either end nor one spike less still fails
    assert not predicate(small[1:]) and not predicate(small[:-1])
