"""Norse's other neurons (issue 15): LIFRecurrentCell, the sequence modules, IAF, LILinearCell; refusals.

Each accepted module is built in Norse inside ``Linear -> neuron -> Linear -> neuron`` (a
``SequentialState``) with seeded random weights, run by Norse on random spikes (100 steps,
batch 3; cells one frame at a time, sequence modules on the whole sequence), and compared
with ``spikec.simulate`` entry for entry; then compiled for loihi2, spinnaker1 and rram-512
with the backend equal to the reference (SpiNNaker machine, ideal RRAM; Loihi's reference).
Measured: 0 mismatching entries in every equality below.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    nt = pytest.importorskip("norse.torch")

import spikec  # noqa: E402
from framework_runs import step_norse as run_cells  # noqa: E402
import spikec.backends.rram  # noqa: E402
from spikec.ir.errors import GraphError  # noqa: E402
from spikec.ir.nodes import IF, CubaLIF, Linear  # noqa: E402

T, B, N_IN, N_HID, N_OUT = 100, 3, 8, 16, 5


def run_sequence(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        y, _ = net(torch.as_tensor(x))
    return y.numpy().astype(np.float64)


def linear(n_in: int, n_out: int, low: float, high: float) -> torch.nn.Linear:
    layer = torch.nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.uniform_(low, high)
    return layer


def spikes(seed: int = 0, p: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).random((T, B, N_IN)) < p).astype(np.float32)


def recurrent_net(sequence: bool, autapses: bool) -> torch.nn.Module:
    """Linear -> LIFRecurrent(Cell) -> Linear -> LIFCell/LIF, weights scaled so that both layers spike."""
    torch.manual_seed(2)
    cls = nt.LIFRecurrent if sequence else nt.LIFRecurrentCell
    rec = cls(N_HID, N_HID, autapses=autapses)
    with torch.no_grad():
        rec.input_weights.uniform_(-0.5, 1.5)
        rec.recurrent_weights.uniform_(-1.0, 1.0)
        if not autapses:
            rec.recurrent_weights.fill_diagonal_(0.0)
    out = nt.LIF() if sequence else nt.LIFCell()
    return nt.SequentialState(linear(N_IN, N_HID, -0.2, 0.6), rec, linear(N_HID, N_OUT, -0.3, 0.3), out)


def iaf_net(sequence: bool) -> torch.nn.Module:
    torch.manual_seed(3)
    cls = nt.IAF if sequence else nt.IAFCell
    p = nt.IAFParameters(v_th=torch.tensor(1.5), v_reset=torch.tensor(0.0))
    return nt.SequentialState(linear(N_IN, N_HID, -0.3, 0.6), cls(p), linear(N_HID, N_OUT, -0.3, 0.6), cls(p))


def li_linear_net() -> torch.nn.Module:
    torch.manual_seed(4)
    return nt.SequentialState(linear(N_IN, N_HID, -0.2, 0.6), nt.LIFCell(), nt.LILinearCell(N_HID, N_OUT))


CASES = {
    "lif_recurrent_cell": (lambda: recurrent_net(False, False), run_cells),
    "lif_recurrent_cell_autapses": (lambda: recurrent_net(False, True), run_cells),
    "lif_recurrent_sequence": (lambda: recurrent_net(True, False), run_sequence),
    "iaf_cell": (lambda: iaf_net(False), run_cells),
    "iaf_sequence": (lambda: iaf_net(True), run_sequence),
}


@pytest.mark.parametrize("case", list(CASES))
def test_norse_neuron_spikes_equal_norse(case: str) -> None:
    make, run = CASES[case]
    net = make()
    x = spikes()
    expected = run(net, x)
    density = np.mean(expected != 0)
    assert 0.02 < density < 0.7, f"output spike density {density:.3f}: the test network proves too little"
    graph = spikec.from_norse(net, torch.zeros(N_IN))
    np.testing.assert_array_equal(spikec.simulate(graph, x)["output"], expected)


def test_lif_recurrent_cell_is_input_weights_lif_and_a_recurrent_back_edge() -> None:
    net = recurrent_net(False, False)
    graph = spikec.from_norse(net, torch.zeros(N_IN))
    w_in, lif, w_rec = graph.nodes["1.w_in"], graph.nodes["1.lif"], graph.nodes["1.w_rec"]
    assert isinstance(w_in, Linear) and isinstance(lif, CubaLIF) and isinstance(w_rec, Linear)
    np.testing.assert_array_equal(w_rec.weight, net[1].recurrent_weights.detach().double().numpy())
    assert np.all(np.diag(w_rec.weight) == 0)  # autapses=False
    _, back = graph.execution_order()
    assert ("1.w_rec", "1.lif") in back
    # the recurrence matters: without it the spikes differ
    x = spikes()
    cut = graph.replace_nodes({"1.w_rec": w_rec.replace(weight=np.zeros_like(w_rec.weight))})
    assert np.mean(spikec.simulate(cut, x)["output"] != run_cells(net, x)) > 0.02


def test_iaf_is_if_with_unit_gain() -> None:
    node = spikec.from_norse(iaf_net(False), torch.zeros(N_IN)).nodes["1"]
    assert isinstance(node, IF) and node.reset == "zero" and np.all(node.r == 1) and np.all(node.v_threshold == 1.5)


def test_li_linear_readout_matches_to_float32_precision() -> None:
    net = li_linear_net()
    x = spikes()
    expected = run_cells(net, x)
    got = spikec.simulate(spikec.from_norse(net, torch.zeros(N_IN)), x)["output"]
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("target", ["loihi2", "spinnaker1", "rram-512"])
@pytest.mark.parametrize("case", ["lif_recurrent_cell", "iaf_cell"])
def test_norse_neuron_compiles_and_the_backend_equals_the_reference(case: str, target: str) -> None:
    graph = spikec.from_norse(CASES[case][0](), torch.zeros(N_IN))
    program = spikec.compile(graph, target, **({"fidelity_steps": 0} if target == "loihi2" else {}))
    x = spikes(seed=1)
    reference = spikec.run(program, x)["output"]
    assert reference.shape == (T, B, N_OUT) and np.any(reference)
    if target == "spinnaker1":
        np.testing.assert_array_equal(spikec.run(program, x, backend="spinnaker")["output"], reference)
    elif target == "rram-512":
        np.testing.assert_array_equal(spikec.backends.rram.run(program, x, ideal=True)["output"], reference)


@pytest.mark.parametrize("make,why,rewrite", [
    (lambda: nt.LSNNRecurrentCell(6, 6), "no NIR primitive has an adaptive threshold", "LIFRecurrentCell"),
    (lambda: nt.LSNNCell(), "no NIR primitive has an adaptive threshold", "LIFCell"),
    (lambda: nt.LIFAdExCell(), "exponential term", "LIFCell"),
    (lambda: nt.LIFAdExRecurrentCell(6, 6), "exponential term", "LIFRecurrentCell"),
    (lambda: nt.IzhikevichCell(nt.IzhikevichSpikingBehavior(
        p=nt.IzhikevichParameters(a=0.02, b=0.2, c=-65, d=8),
        s=nt.IzhikevichState(v=torch.tensor(-65.0), u=torch.tensor(-13.0)))), "quadratic in v", "LIFCell"),
    (lambda: nt.LIFRefracCell(), "no refractory state", "LIFCell"),
    (lambda: nt.LIFExCell(), "exponential term", "LIFCell"),
])
def test_refused_norse_neurons_name_the_layer_the_reason_and_a_rewrite(make, why: str, rewrite: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = nt.SequentialState(torch.nn.Linear(6, 6), make())
    with pytest.raises(GraphError) as err:
        spikec.from_norse(net, torch.zeros(6))
    message = str(err.value)
    assert message.startswith("node '1': Norse ") and why in message and f"nearest exact rewrite: {rewrite}" in message
