"""The random-graph generator: valid, reproducible, round-trips through NIR, and spikes."""
from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spikec
import spikec.verification.random_graphs  # noqa: F401  (the reproducer names this module path)
from spikec.verification.random_graphs import GraphSpec, random_graph, random_input, reproducer
from spikec.ir import Graph, SpikecError
from spikec.ir.nodes import IF, LIF, CubaLIF, Delay, DelayLinear, Input, Output

SPIKING = (IF, LIF, CubaLIF)
PRESETS = {"tiny": GraphSpec.tiny(), "small": GraphSpec.small(), "loihi": GraphSpec.loihi_friendly()}
seeds = st.integers(min_value=0, max_value=2**32 - 1)
presets = st.sampled_from(sorted(PRESETS))
quick = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def with_probes(graph: Graph) -> Graph:
    """The graph with an extra Output on every spiking layer, to measure its activity."""
    spiking = [n for n, node in graph.items() if isinstance(node, SPIKING)]
    probes = {f"probe__{n}": Output() for n in spiking}
    return Graph({**graph.nodes, **probes}, graph.edges + tuple((n, f"probe__{n}") for n in spiking), graph.metadata)


def feeding_spikes(graph: Graph, name: str) -> str:
    """The spiking layer (or input) whose spikes reach ``name`` along the feed-forward path."""
    node = graph.nodes[name]
    if isinstance(node, SPIKING + (Input,)):
        return name
    feed = [p for p in graph.predecessors(name) if not p.startswith(("skip", "rec"))]
    return feeding_spikes(graph, feed[0])


def readout_is_live(graph: Graph, seed: int) -> bool:
    """The spiking layer that feeds the read-out fires at least once on the recommended input."""
    source = feeding_spikes(graph, graph.predecessors("output")[0])
    if source == "input":
        return True
    out = spikec.simulate(with_probes(graph), random_input(graph, seed, batch=2))
    return bool(out[f"probe__{source}"].any())


# --- validity and reproducibility -------------------------------------------------


@quick
@given(seed=seeds, preset=presets)
def test_every_graph_validates_and_is_already_normalised(seed, preset):
    graph = random_graph(seed, PRESETS[preset])
    spikec.validate(graph)
    assert spikec.normalise(graph).same_as(graph)


@quick
@given(seed=seeds, preset=presets)
def test_same_seed_and_spec_give_the_same_graph(seed, preset):
    a, b = random_graph(seed, PRESETS[preset]), random_graph(seed, PRESETS[preset])
    assert a.same_as(b)
    assert list(a.nodes) == list(b.nodes) and a.edges == b.edges and dict(a.metadata) == dict(b.metadata)


def test_different_seeds_give_different_graphs():
    graphs = [random_graph(seed) for seed in range(20)]
    assert not any(graphs[i].same_as(graphs[j]) for i in range(20) for j in range(i + 1, 20))


@settings(max_examples=15, deadline=None)
@given(seed=seeds, preset=presets)
def test_every_graph_round_trips_through_a_nir_file(seed, preset, tmp_path_factory):
    graph = random_graph(seed, PRESETS[preset])
    path = tmp_path_factory.mktemp("nir") / "g.nir"
    spikec.save_nir(graph, path)
    again = spikec.load_nir(path)
    assert again.same_as(graph)
    assert again.metadata["dt_s"] == graph.metadata["dt_s"]
    for name, node in graph.items():
        if isinstance(node, SPIKING):
            flags = ("reset", "reset_delay", "reset_recheck")
            assert [getattr(again.nodes[name], f) for f in flags] == [getattr(node, f) for f in flags]


@quick
@given(seed=seeds, preset=presets)
def test_the_float_reference_runs_every_graph(seed, preset):
    graph = random_graph(seed, PRESETS[preset])
    x = random_input(graph, seed, steps=10, batch=2)
    out = spikec.simulate(graph, x)
    assert set(out) == set(graph.outputs)
    for name, rec in out.items():
        assert rec.shape == (10, 2, *graph.nodes[name].shape)
        assert np.isfinite(rec).all()


def test_the_reproducer_is_one_line_that_rebuilds_the_graph():
    spec = GraphSpec.small()
    graph = random_graph(1234, spec)
    line = graph.metadata["spikec.random.reproducer"]
    assert line == reproducer(1234, spec) == "spikec.verification.random_graphs.random_graph(seed=1234, spec=GraphSpec.small())"
    assert eval(line, {"spikec": spikec, "GraphSpec": GraphSpec}).same_as(graph)


def test_a_custom_spec_prints_as_its_constructor_and_replays():
    spec = GraphSpec.tiny().with_(p_recurrent=1.0, resets=("subtract",))
    line = reproducer(7, spec)
    assert "GraphSpec(" in line and "p_recurrent=1.0" in line
    assert eval(line, {"spikec": spikec, "GraphSpec": GraphSpec}).same_as(random_graph(7, spec))
    assert reproducer(7, GraphSpec.large(256)).endswith("spec=GraphSpec.large(256))")


# --- activity ------------------------------------------------------------------------


@pytest.mark.parametrize("preset, seeds_, at_least", [("small", 60, 0.85), ("tiny", 60, 0.8), ("loihi", 40, 0.85)])
def test_most_graphs_spike_on_their_recommended_input(preset, seeds_, at_least):
    live = sum(readout_is_live(random_graph(seed, PRESETS[preset]), seed) for seed in range(seeds_))
    assert live >= at_least * seeds_, f"only {live}/{seeds_} graphs reach their read-out with spikes"


def test_activity_ranges_from_sparse_to_saturated():
    rates = []
    for seed in range(40):
        graph = random_graph(seed)
        out = spikec.simulate(with_probes(graph), random_input(graph, seed, batch=2))
        rates += [float(v.mean()) for k, v in out.items() if k.startswith("probe__")]
    rates = np.array(rates)
    assert (rates > 0).mean() > 0.9
    assert ((rates > 0) & (rates < 0.05)).any() and (rates > 0.5).any()


# --- what the spec controls ------------------------------------------------------


def features(graph: Graph) -> set[str]:
    found = {node.kind for node in graph.nodes.values()}
    found |= {f"reset={n.reset}" for n in graph.nodes.values() if isinstance(n, SPIKING)}
    found |= {"reset_delay" for n in graph.nodes.values() if isinstance(n, SPIKING) and n.reset_delay}
    found |= {"reset_recheck" for n in graph.nodes.values() if isinstance(n, SPIKING) and n.reset_recheck}
    _, back = graph.execution_order()
    found |= {"recurrent"} if back else set()
    found |= {"skip"} if any(name.startswith("skip") for name in graph.nodes) else set()
    found |= {"several outputs"} if len(graph.outputs) > 1 else set()
    return found


def test_small_graphs_cover_every_feature_within_100_seeds():
    seen = set().union(*(features(random_graph(seed)) for seed in range(100)))
    wanted = {
        "Input", "Output", "Affine", "Linear", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Delay",
        "LIF", "CubaLIF", "IF", "LI", "reset=zero", "reset=subtract", "reset_delay", "reset_recheck", "recurrent",
        "skip", "several outputs", "DelayLinear",
    }
    assert wanted <= seen, wanted - seen


def test_integrator_read_out_when_asked():
    graph = random_graph(3, GraphSpec.tiny().with_(readout_types=("Integrator",)))
    assert graph.nodes[graph.predecessors("output")[0]].kind == "Integrator"


def neuron_params(graph: Graph, field: str) -> list[np.ndarray]:
    return [getattr(n, field) for n in graph.nodes.values() if hasattr(n, field)]


def test_loihi_friendly_graphs_have_delays_but_no_reset_recheck():
    nodes = [n for seed in range(30) for n in random_graph(seed, GraphSpec.loihi_friendly()).nodes.values()]
    assert not any(getattr(n, "reset_recheck", False) for n in nodes)
    assert any(isinstance(n, Delay) for n in nodes) and any(isinstance(n, DelayLinear) for n in nodes)


def test_time_constants_and_thresholds_are_uniform_per_layer_by_default():
    for seed in range(30):
        graph = random_graph(seed, GraphSpec.loihi_friendly())
        for field in ("tau", "tau_mem", "tau_syn", "v_threshold", "v_leak", "v_reset", "r", "w_in"):
            for values in neuron_params(graph, field):
                assert np.ptp(values) == 0, (seed, field)


def test_per_neuron_flags_give_per_neuron_time_constants_and_thresholds():
    spec = GraphSpec.small().with_(per_neuron_tau=True, per_neuron_threshold=True, hidden_size=(8, 8))
    graphs = [random_graph(seed, spec) for seed in range(10)]
    assert any(np.ptp(v) > 0 for g in graphs for f in ("tau", "tau_mem") for v in neuron_params(g, f))
    assert any(np.ptp(v) > 0 for g in graphs for v in neuron_params(g, "v_threshold"))


@pytest.mark.parametrize("per_element", [False, True])
def test_delays_are_whole_steps_within_the_limit(per_element):
    spec = GraphSpec.small().with_(p_delay=1.0, max_delay_steps=3, per_element_delay=per_element, hidden_size=(6, 8))
    uneven = 0
    for seed in range(10):
        graph = random_graph(seed, spec)
        delays = [n.delay for n in graph.nodes.values() if isinstance(n, Delay)]
        assert delays
        for d in delays:
            steps = d / graph.metadata["dt_s"]
            np.testing.assert_allclose(steps, np.rint(steps), atol=1e-9)
            assert 1 <= np.rint(steps).min() and np.rint(steps).max() <= 3
            uneven += np.ptp(np.rint(steps)) > 0
    assert bool(uneven) == per_element


def test_weight_scales_span_tiny_to_huge():
    magnitudes = [
        float(np.abs(n.weight).max())
        for seed in range(30) for n in random_graph(seed).nodes.values() if hasattr(n, "weight")
    ]
    assert min(magnitudes) < 0.1 and max(magnitudes) > 100


def test_large_graphs_have_the_requested_size():
    graph = random_graph(0, GraphSpec.large(256))
    widths = [n.v_threshold.size for n in graph.nodes.values() if isinstance(n, SPIKING)]
    assert all(w >= 128 for w in widths[:-1]) and max(widths) <= 256
    spikec.validate(graph)


def test_disabling_features_removes_them():
    spec = GraphSpec.small().with_(p_conv=0.0, p_delay=0.0, p_delay_linear=0.0, p_skip=0.0, p_recurrent=0.0, p_bias=0.0,
                                   neuron_types=("LIF",), readout_types=("LI",), resets=("subtract",), p_reset_delay=0.0)
    kinds = collections.Counter(n.kind for seed in range(20) for n in random_graph(seed, spec).nodes.values())
    assert set(kinds) == {"Input", "Output", "Linear", "LIF", "LI"}
    assert all(n.reset == "subtract" and not n.reset_delay
               for seed in range(5) for n in random_graph(seed, spec).nodes.values() if isinstance(n, LIF))
    assert not any(random_graph(seed, spec).execution_order()[1] for seed in range(20))


@pytest.mark.parametrize("bad", [
    dict(p_skip=1.5), dict(hidden_size=(4, 2)), dict(neuron_types=("LI",)), dict(readout_types=()),
    dict(beta=(0.5, 1.0)), dict(dt_s=(0.0,)), dict(resets=("none",)), dict(input_size=(0, 3)),
])
def test_spec_rejects_impossible_knobs(bad):
    with pytest.raises(SpikecError):
        GraphSpec(**bad)


# --- inputs --------------------------------------------------------------------------


def test_random_input_is_seeded_time_first_spikes_at_the_recommended_rate():
    graph = random_graph(5, GraphSpec.small().with_(p_conv=1.0))
    x = random_input(graph, seed=9, batch=3)
    steps, rate = graph.metadata["spikec.random.steps"], graph.metadata["spikec.random.input_rate"]
    assert x.shape == (steps, 3, *graph.nodes["input"].shape)
    assert set(np.unique(x)) <= {0.0, 1.0}
    np.testing.assert_array_equal(x, random_input(graph, seed=9, batch=3))
    assert not np.array_equal(x, random_input(graph, seed=10, batch=3))
    dense = random_input(graph, seed=1, steps=400, batch=4, rate=0.25)
    assert abs(dense.mean() - 0.25) < 0.02


def test_random_input_rejects_bad_arguments():
    with pytest.raises(SpikecError):
        random_input(random_graph(0), seed=0, rate=1.5)
