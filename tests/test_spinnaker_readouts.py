"""SpiNNaker outputs after a stateless chain (a read-out): Linear, Affine, Scale, Flatten, SumPool, Conv,
Delay, and sums of paths. The host applies the chain to the recorded source populations; the reference
executor and the event machine must agree exactly, and where no quantisation is involved (spikes in,
dyadic weights) both equal the float model."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_spinnaker_machine import assert_machine_matches_reference  # noqa: E402

import spikec
from spikec.compiler.spinnaker.compile import SpiNNakerProgram
from spikec.ir.errors import CompileError
from spikec.ir.graph import Graph
from spikec.ir.nodes import LI, LIF, Affine, Conv2d, Delay, Flatten, Input, Linear, Output, Scale, SumPool2d

DT = 1e-3


def lif(shape) -> LIF:
    return LIF(tau=np.full(shape, 4 * DT), r=np.full(shape, 3.0), v_leak=np.zeros(shape), v_threshold=np.ones(shape),
               v_reset=np.zeros(shape))


def dyadic(rng, shape, lo=-8, hi=8) -> np.ndarray:
    return rng.integers(lo, hi + 1, shape) / 4.0  # exact in float64: sums of spikes times these are exact


def graphs():
    rng = np.random.default_rng(0)
    out = {}
    out["linear after input"] = Graph({"in": Input(shape=(6,)), "w": Linear(weight=dyadic(rng, (3, 6))), "out": Output(shape=(3,))},
                                      (("in", "w"), ("w", "out")))
    out["affine after lif"] = Graph({"in": Input(shape=(6,)), "w1": Linear(weight=dyadic(rng, (8, 6), 0, 8)), "h": lif(8),
                                     "ro": Affine(weight=dyadic(rng, (4, 8)), bias=np.array([0.5, -1.0, 0.0, 2.25])),
                                     "out": Output(shape=(4,))},
                                    (("in", "w1"), ("w1", "h"), ("h", "ro"), ("ro", "out")))
    out["scale (graded spikes)"] = Graph({"in": Input(shape=(5,)), "w1": Linear(weight=dyadic(rng, (5, 5), 0, 8)), "h": lif(5),
                                          "g": Scale(scale=np.array([0.5, 1.0, 2.0, -1.0, 3.0])), "out": Output(shape=(5,))},
                                         (("in", "w1"), ("w1", "h"), ("h", "g"), ("g", "out")))
    out["flatten after conv lif"] = Graph({
        "in": Input(shape=(1, 6, 6)),
        "c": Conv2d(input_shape=(1, 6, 6), weight=dyadic(rng, (2, 1, 3, 3), 0, 8), stride=(1, 1), padding=(0, 0),
                    dilation=(1, 1), groups=1, bias=np.zeros(2)),
        "h": lif((2, 4, 4)), "f": Flatten(input_shape=(2, 4, 4), start_dim=0, end_dim=-1), "out": Output(shape=(32,))},
        (("in", "c"), ("c", "h"), ("h", "f"), ("f", "out")))
    out["sumpool after lif"] = Graph({
        "in": Input(shape=(1, 4, 4)),
        "c": Conv2d(input_shape=(1, 4, 4), weight=dyadic(rng, (2, 1, 1, 1), 2, 8), stride=(1, 1), padding=(0, 0),
                    dilation=(1, 1), groups=1, bias=np.zeros(2)),
        "h": lif((2, 4, 4)), "p": SumPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)), "out": Output(shape=(2, 2, 2))},
        (("in", "c"), ("c", "h"), ("h", "p"), ("p", "out")))
    out["delayed read-out and a skip path"] = Graph({
        "in": Input(shape=(4,)), "w1": Linear(weight=dyadic(rng, (4, 4), 0, 8)), "h": lif(4),
        "d": Delay(delay=np.array([0.0, 2.0, 5.0, 1.0]) * DT), "ro": Linear(weight=dyadic(rng, (3, 4))),
        "skip": Linear(weight=dyadic(rng, (3, 4))), "out": Output(shape=(3,))},
        (("in", "w1"), ("w1", "h"), ("h", "d"), ("d", "ro"), ("ro", "out"), ("in", "skip"), ("skip", "out")))
    out["read-out of an LI trace"] = Graph({
        "in": Input(shape=(4,)), "w1": Linear(weight=dyadic(rng, (3, 4), 0, 8)),
        "li": LI(tau=np.full(3, 5 * DT), r=np.ones(3), v_leak=np.zeros(3)), "ro": Linear(weight=dyadic(rng, (2, 3))),
        "out": Output(shape=(2,))},
        (("in", "w1"), ("w1", "li"), ("li", "ro"), ("ro", "out")))
    return out


GRAPHS = graphs()


@pytest.mark.parametrize("name", list(GRAPHS))
def test_an_output_after_a_stateless_chain_is_recorded_and_the_machine_equals_the_reference(name):
    graph = GRAPHS[name]
    program = spikec.compile(graph, "spinnaker1", dt_s=DT)
    compiled = program.artefacts["spinnaker"]
    assert "out" in compiled.network.readouts
    shape = graph.nodes["in"].shape
    x = (np.random.default_rng(1).random((40, 2, *shape)) < 0.3).astype(float)
    ref, _ = assert_machine_matches_reference(compiled, x)
    assert ref["out"].shape == (40, 2, *graph.nodes["out"].shape) and np.abs(ref["out"]).sum() > 0
    loaded = SpiNNakerProgram.from_bytes(compiled.to_bytes())  # the read-out survives saving
    np.testing.assert_array_equal(spikec.run(program, x)["out"], ref["out"])
    np.testing.assert_array_equal(assert_machine_matches_reference(loaded, x)[0]["out"], ref["out"])


@pytest.mark.parametrize("name", ["linear after input", "delayed read-out and a skip path", "scale (graded spikes)"])
def test_a_read_out_of_exact_spikes_equals_the_float_model(name):
    """tau = 4 dt, r = 3 and dyadic weights: the LIF spikes are the float model's, so the read-out is too."""
    graph = GRAPHS[name]
    shape = graph.nodes["in"].shape
    x = (np.random.default_rng(2).random((40, *shape)) < 0.3).astype(float)
    program = spikec.compile(graph, "spinnaker1", dt_s=DT)
    np.testing.assert_array_equal(spikec.run(program, x, backend="spinnaker")["out"], spikec.simulate(graph, x, dt_s=DT)["out"])


@pytest.mark.parametrize("name", list(GRAPHS))
def test_rram_records_the_same_read_outs(name):
    """RRAM runs the lowered graph node by node: an Output after a crossbar is its (ideal) analog sum,
    equal to the reference on the lowered graph up to float64 rounding (docs/rram.md: within 1e-9)."""
    from spikec.backends.rram import run as run_rram

    graph = GRAPHS[name]
    x = (np.random.default_rng(3).random((40, *graph.nodes["in"].shape)) < 0.3).astype(float)
    program = spikec.compile(graph, "rram-512", dt_s=DT)
    ref = spikec.run(program, x)["out"]
    np.testing.assert_allclose(run_rram(program, x, ideal=True)["out"], ref, rtol=0, atol=1e-9)
    assert ref.shape == (40, *graph.nodes["out"].shape) and np.abs(ref).sum() > 0


def li(n: int) -> LI:
    return LI(tau=np.full(n, 4 * DT), r=np.full(n, 3.0), v_leak=np.zeros(n))


@pytest.mark.parametrize("through", ["linear, two taus", "identity, also read", "a third LI"])
def test_an_li_voltage_feeding_a_population_is_refused_naming_it(through):
    """Populations send spikes only: an LI whose voltage feeds another neuron through a Linear used to compile
    to a silent edge; it must be refused by name. Only an LI -> LI pair whose current feeds nothing else fuses
    (cuba_li), and an LI moves past a Linear only with one tau (commute-lis, tests/test_li_chains.py): an LI of
    two taus through a Linear, a current also read out, or a third LI after the fused membrane, is still a
    voltage between populations."""
    rng = np.random.default_rng(3)
    nodes = {"in": Input(shape=(4,)), "w": Linear(weight=dyadic(rng, (4, 4), 0, 8)), "a": li(4), "b": li(4), "out": Output(shape=(4,))}
    edges = [("in", "w"), ("w", "a"), ("b", "out")]
    source, sink = "a", "b"
    if through == "linear, two taus":
        nodes["a"] = nodes["a"].replace(tau=np.array([4, 4, 8, 8]) * DT)
        nodes["w2"] = Linear(weight=dyadic(rng, (4, 4), 0, 8))
        edges += [("a", "w2"), ("w2", "b")]
    elif through == "identity, also read":
        nodes["out_a"] = Output(shape=(4,))
        edges += [("a", "b"), ("a", "out_a")]
    else:  # in -> a -> b (fused) -> c: b's voltage feeds c
        nodes["c"] = li(4)
        edges = [("in", "w"), ("w", "a"), ("a", "b"), ("b", "c"), ("c", "out")]
        source, sink = "b", "c"
    graph = Graph(nodes, tuple(edges), {"dt_s": DT})
    with pytest.raises(CompileError, match=rf"LI '{source}' outputs a voltage, not spikes, and feeds '{sink}': "
                                           "SpiNNaker populations send only spikes") as err:
        spikec.compile(graph, "spinnaker1", fidelity_steps=0)
    assert err.value.node == sink
    # the same LI read on the host (an Output after it) still compiles: a voltage may feed an Output
    readout = Graph({k: v for k, v in nodes.items() if k in ("in", "w", "a")} | {"out": Output(shape=(4,))},
                    (("in", "w"), ("w", "a"), ("a", "out")), {"dt_s": DT})
    program = spikec.compile(readout, "spinnaker1", fidelity_steps=0)
    x = (np.random.default_rng(4).random((30, 1, 4)) < 0.4).astype(np.float32)
    assert np.abs(spikec.run(program, x)["out"]).max() > 0
