"""Loihi outputs after a stateless chain (a read-out): Linear, Affine, Scale, Flatten, SumPool, Conv, Delay,
sums of paths, LI traces, split layers. The host applies the chain to the recorded source layers in chip
time (compiler/loihi/readout.py): the fast and stepwise reference paths and Lava must agree exactly, the
program must carry the read-out through save/load, and in the float model's time the read-out equals
``spikec.simulate`` exactly where the spikes are exact (tau = 4 dt, r = 3, dyadic weights), within a
stated bound for an LI trace."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_spinnaker_readouts import DT, GRAPHS, dyadic, lif  # noqa: E402  (the 7 SpiNNaker read-out shapes)

import spikec
from spikec.backends.reference.event_sums import compiled_kernels
from spikec.backends.reference.loihi_executor import prepare_spikes, run_loihi_stepwise
from spikec.backends.reference.loihi_schedule import run_schedule
from spikec.compiler.loihi.nodes import LoihiOutput, LoihiReadout, layer_parts
from spikec.verification.report import run_in_float_time
from spikec.ir.graph import Graph
from spikec.ir.nodes import LI, LIF, Conv2d, Delay, Flatten, Input, Linear, Output

TARGET = "loihi2"
FMT = spikec.load_target(TARGET).numeric
PATHS = [False] + ([True] if compiled_kernels() is not None else [])


def extra_graphs() -> dict[str, Graph]:
    rng = np.random.default_rng(5)
    out = {}
    out["delay after lif"] = Graph({  # the delay used to be dropped: the Output recorded h undelayed
        "in": Input(shape=(4,)), "w": Linear(weight=dyadic(rng, (4, 4), 0, 8)), "h": lif(4),
        "d": Delay(delay=np.array([3.0, 0.0, 1.0, 7.0]) * DT), "out": Output(shape=(4,))},
        (("in", "w"), ("w", "h"), ("h", "d"), ("d", "out")))
    out["cnn head: conv lif, flatten, linear"] = Graph({
        "in": Input(shape=(1, 5, 5)),
        "c": Conv2d(input_shape=(1, 5, 5), weight=dyadic(rng, (2, 1, 3, 3), 0, 8), stride=(1, 1), padding=(1, 1),
                    dilation=(1, 1), groups=1, bias=np.zeros(2)),
        "h": lif((2, 5, 5)), "f": Flatten(input_shape=(2, 5, 5), start_dim=0, end_dim=-1),
        "fc": Linear(weight=dyadic(rng, (3, 50))), "out": Output(shape=(3,))},
        (("in", "c"), ("c", "h"), ("h", "f"), ("f", "fc"), ("fc", "out")))
    out["conv read-out of a lif layer"] = Graph({
        "in": Input(shape=(1, 4, 4)),
        "c1": Conv2d(input_shape=(1, 4, 4), weight=dyadic(rng, (2, 1, 1, 1), 2, 8), stride=(1, 1), padding=(0, 0),
                     dilation=(1, 1), groups=1, bias=np.zeros(2)),
        "h": lif((2, 4, 4)),
        "c2": Conv2d(input_shape=(2, 4, 4), weight=dyadic(rng, (1, 2, 2, 2)), stride=(2, 2), padding=(0, 0),
                     dilation=(1, 1), groups=1, bias=np.array([0.25])),
        "out": Output(shape=(1, 2, 2))},
        (("in", "c1"), ("c1", "h"), ("h", "c2"), ("c2", "out")))
    return out


ALL = GRAPHS | extra_graphs()


def split_graphs() -> dict[str, Graph]:
    """A layer of per-neuron time constants (snnTorch learn_beta, Norse per-neuron taus) feeding a read-out."""
    rng = np.random.default_rng(7)
    n = 8
    taus = np.array([2, 4, 2, 8, 4, 16, 2, 8]) * DT
    out = {}
    out["split lif layer, skip read-out"] = Graph({
        "in": Input(shape=(5,)), "w1": Linear(weight=dyadic(rng, (n, 5), 0, 8)),
        "h": LIF(tau=taus, r=np.full(n, 3.0), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n)),
        "ro": Linear(weight=dyadic(rng, (3, n))), "skip": Linear(weight=dyadic(rng, (3, 5))), "out": Output(shape=(3,))},
        (("in", "w1"), ("w1", "h"), ("h", "ro"), ("ro", "out"), ("in", "skip"), ("skip", "out")))
    out["split li trace read-out"] = Graph({
        "in": Input(shape=(5,)), "w1": Linear(weight=dyadic(rng, (6, 5), 0, 8)),
        "li": LI(tau=np.array([2, 5, 2, 10, 5, 20]) * DT, r=np.ones(6), v_leak=np.zeros(6)),
        "ro": Linear(weight=dyadic(rng, (2, 6))), "out": Output(shape=(2,))},
        (("in", "w1"), ("w1", "li"), ("li", "ro"), ("ro", "out")))
    return out


SPLIT = split_graphs()


def inputs(graph: Graph, steps: int = 40, batch: int = 2, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, *graph.nodes["in"].shape)) < 0.3).astype(float)


def compile_loihi(graph: Graph, target: str = TARGET):
    return spikec.compile(graph, target, dt_s=DT, fidelity_steps=0)


def assert_paths_agree(program, x) -> np.ndarray:
    """Reference fast path (numpy and numba) == stepwise definition; returns the read-out."""
    want = run_loihi_stepwise(program.graph, FMT, x)["out"]
    spikes_in, _, steps = prepare_spikes(program.graph, x)
    for compiled in PATHS:
        got = run_schedule(program.graph, FMT, spikes_in, steps, x.shape[1], (), compiled=compiled)["out"]
        np.testing.assert_array_equal(got.reshape(want.shape), want)
    np.testing.assert_array_equal(spikec.run(program, x)["out"], want)
    return want


@pytest.mark.parametrize("name", list(ALL))
def test_a_loihi_output_after_a_stateless_chain_is_recorded_and_every_reference_path_agrees(name, tmp_path):
    graph = ALL[name]
    program = compile_loihi(graph)
    node = program.graph.nodes["out"]
    # an Output that is one layer's recording, unchanged (here: a Flatten), stays a LoihiOutput
    assert isinstance(node, LoihiOutput if name == "flatten after conv lif" else LoihiReadout)
    x = inputs(graph)
    want = assert_paths_agree(program, x)
    assert want.shape == (40, 2, *graph.nodes["out"].shape) and np.abs(want).sum() > 0
    loaded = spikec.load_program(program.save(tmp_path / "p.zip"))  # the read-out survives saving
    assert loaded.graph.nodes["out"].same_as(node) and loaded.same_as(program)
    np.testing.assert_array_equal(spikec.run(loaded, x)["out"], want)


@pytest.mark.parametrize("target", ["loihi1", "loihi2"])
@pytest.mark.parametrize("name", [n for n in ALL if n != "read-out of an LI trace"])
def test_a_read_out_of_exact_spikes_equals_the_float_model_in_its_time(name, target):
    """tau = 4 dt, r = 3, dyadic weights: the integer LIF spikes are the float model's, so after the
    read-out's latency (padded by run_in_float_time) its values are the float model's, bit for bit."""
    graph = ALL[name]
    x = inputs(graph, seed=2)
    got = run_in_float_time(compile_loihi(graph, target), x)["out"]
    np.testing.assert_array_equal(got, spikec.simulate(graph, x, dt_s=DT)["out"])


def test_read_out_latency_is_its_source_layers_and_zero_after_an_input():
    program = compile_loihi(ALL["affine after lif"])
    assert program.graph.nodes["out"].latency_steps == program.graph.nodes["h"].latency_steps == 1
    assert compile_loihi(ALL["linear after input"]).graph.nodes["out"].latency_steps == 0
    skip = compile_loihi(ALL["delayed read-out and a skip path"]).graph.nodes["out"]
    # y lags the float output by 1 (h's latency); h's terms keep their delays 0, 1, 2, 5, the input's path waits 1
    assert skip.latency_steps == 1 and sorted(zip(skip.sources, skip.lags)) == [("h", 0), ("h", 1), ("h", 2), ("h", 5), ("in", 1)]
    assert program.report["quantise-loihi"]["readouts"]["out"] == {"sources": ["h"], "terms": 1, "latency_steps": 1}


def test_an_li_trace_read_out_is_within_its_quantisation_bound_of_the_float_model():
    """LI v in integers (quantised dv and weights) through the read-out's 1 / v_scale: measured 0.17 % RMS."""
    graph = ALL["read-out of an LI trace"]
    x = inputs(graph, steps=100, seed=2)
    got = run_in_float_time(compile_loihi(graph), x)["out"]
    want = spikec.simulate(graph, x, dt_s=DT)["out"]
    rel = np.sqrt(np.mean((got - want) ** 2)) / np.sqrt(np.mean(want ** 2))
    assert 0 < rel < 0.01


@pytest.mark.parametrize("name", list(SPLIT))
def test_a_split_layer_is_a_read_out_source_gathered_in_layer_order(name):
    graph = SPLIT[name]
    program = compile_loihi(graph)
    layer = "h" if "lif" in name else "li"
    parts = layer_parts(program.graph)[layer]
    assert len(parts) == 4 and layer in program.graph.nodes["out"].sources
    assert set(program.graph.predecessors("out")) >= set(parts)
    x = inputs(graph, steps=60, seed=3)
    want = assert_paths_agree(program, x)
    unsplit = spikec.compile(graph, TARGET, dt_s=DT, fidelity_steps=0, dump_after="quantise-loihi").graph
    np.testing.assert_array_equal(run_loihi_stepwise(unsplit, FMT, x)["out"], want)  # the split changes nothing
    floats = spikec.simulate(graph, x, dt_s=DT)["out"]
    got = run_in_float_time(program, x)["out"]
    if layer == "h":  # taus of 2^k dt quantise exactly: the spikes, hence the read-out, are the float model's
        np.testing.assert_array_equal(got, floats)
    else:
        assert np.sqrt(np.mean((got - floats) ** 2)) / np.sqrt(np.mean(floats ** 2)) < 0.01  # measured 0.15 %


def _lava_python():
    from spikec.backends.lava.env import ensure_lava_env
    from spikec.ir.errors import SpikecError

    try:
        return ensure_lava_env(create=False)
    except SpikecError:  # pragma: no cover - depends on the machine
        return None


@pytest.mark.skipif(_lava_python() is None, reason="no Lava environment (run `python -m spikec.backends.lava.env`)")
@pytest.mark.parametrize("name", ["delayed read-out and a skip path", "read-out of an LI trace", "split lif layer, skip read-out"])
def test_lava_records_the_read_out_sources_and_equals_the_reference(name, tmp_path):
    """Lava records the source layers (every part of a split one) and the host applies the same read-out;
    the one with an input path and delays runs from a saved and reloaded program."""
    graph = (ALL | SPLIT)[name]
    program = compile_loihi(graph)
    if name.startswith("delayed"):
        program = spikec.load_program(program.save(tmp_path / "p"))
    x = inputs(graph, steps=30, seed=4)
    want = spikec.run(program, x, record=("s",))
    got = spikec.run(program, x, backend="lava", record=("s",))
    assert set(got) == set(want) and np.abs(want["out"]).sum() > 0
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_an_snntorch_model_ending_in_a_linear_layer_reads_out_that_layer_of_the_chip_spikes():
    """``Sequential(Linear, Leaky, Linear)``, the snnTorch head that returns weighted spikes: the float
    model equals snnTorch's forward, and the Loihi read-out (chip time, latency of the Leaky) is exactly
    the last Affine applied to the Leaky's own integer spikes (the layer's spikes differ from the float
    model's where quantisation moves them: that is the layer's fidelity, not the read-out's)."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 16), snn.Leaky(beta=0.9, init_hidden=True), torch.nn.Linear(16, 4))
    graph = spikec.from_snntorch(net, torch.zeros(10))
    x = (np.random.default_rng(0).random((60, 10)) < 0.3).astype(np.float32)
    with torch.no_grad():
        expected = np.stack([net(torch.from_numpy(x[t])).numpy() for t in range(len(x))])
    (out,) = graph.outputs
    np.testing.assert_allclose(spikec.simulate(graph, x)[out], expected, rtol=0, atol=1e-5)
    program = spikec.compile(graph, TARGET, fidelity_steps=0)
    readout = program.graph.nodes[out]
    assert isinstance(readout, LoihiReadout) and readout.sources == ("1",) and readout.latency_steps == 1
    got = spikec.run(program, x, record=("s",))
    head = graph.nodes[graph.predecessors(out)[0]]
    spikes_1 = got["1.s"].astype(np.float64)  # chip time: the read-out of step t uses the spikes of step t
    np.testing.assert_array_equal(got[out][1:], (spikes_1 @ head.weight.T + head.bias)[1:])
    np.testing.assert_array_equal(got[out][0], np.zeros(4))  # before the latency: nothing, not even the bias


def test_a_malformed_read_out_is_refused_with_the_field_and_the_expected_value():
    from spikec.ir.errors import GraphError

    good = dict(shape=(2,), sources=("h",), reads=("s",), lags=(0,), widths=(3,), matrix=np.ones((2, 3)))
    assert LoihiReadout(**good).readout().terms[0].matrix.shape == (2, 3)
    for bad, match in ((dict(widths=(4,)), r"matrix of shape \(2, 3\), expected \(2, 4\)"), (dict(reads=("u",)), "'s' or 'v'"),
                       (dict(lags=(-1,)), "lags must be >= 0"), (dict(lags=(0, 1)), "one read, lag and width per source"),
                       (dict(constant_lags=(0,), constants=np.ones((1, 3))), r"constants of shape \(1, 3\), expected \(1, 2\)")):
        with pytest.raises(GraphError, match=match):
            LoihiReadout(**(good | bad))
