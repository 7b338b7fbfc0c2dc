"""Norse frontend fidelity: spikec's float reference equals Norse step for step.

Networks built here in ``norse.torch.SequentialState`` with seeded random
weights, stepped by Norse one frame at a time on random input spikes, and by
``spikec.simulate`` on the same input. Spikes must be equal at every step
(measured: 0 mismatching entries on every network below); leaky-integrator
read-outs are voltages, compared to float32 precision (measured max relative
error about 1e-6).
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
from framework_runs import step_norse as run_norse  # noqa: E402
from spikec.frontends import from_norse  # noqa: E402
from spikec.ir.errors import GraphError  # noqa: E402
from spikec.ir.lint import lint  # noqa: E402
from spikec.ir.nodes import LI, LIF, CubaLIF  # noqa: E402

T, B = 150, 4


def random_spikes(shape: tuple[int, ...], p: float = 0.3, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((T, B, *shape)) < p).astype(np.float32)


def simulate_output(graph, x: np.ndarray) -> np.ndarray:
    (y,) = spikec.simulate(graph, x).values()
    return y


def linear(n_in: int, n_out: int, low: float, high: float) -> torch.nn.Linear:
    layer = torch.nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.uniform_(low, high)
    return layer


def lif_box_net(reset: str) -> torch.nn.Module:
    from norse.torch.functional.reset import reset_subtract, reset_value

    torch.manual_seed(0)
    p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(150.0), reset_method=reset_subtract if reset == "subtract" else reset_value)
    return nt.SequentialState(linear(10, 20, -1, 2), nt.LIFBoxCell(p), linear(20, 5, -1, 2), nt.LIFBoxCell(p))


def lif_net() -> torch.nn.Module:
    torch.manual_seed(1)
    return nt.SequentialState(linear(10, 20, -0.2, 0.6), nt.LIFCell(), linear(20, 5, -0.2, 0.6), nt.LIFCell())


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_lif_box_spikes_equal_norse(reset: str, tmp_path) -> None:
    net = lif_box_net(reset)
    x = random_spikes((10,))
    expected = run_norse(net, x)
    assert expected.sum() > 0.05 * expected.size
    graph = from_norse(net, torch.zeros(10))
    assert graph.nodes["1"].reset == reset
    np.testing.assert_array_equal(simulate_output(graph, x), expected)
    spikec.save_nir(graph, tmp_path / "net.nir")
    np.testing.assert_array_equal(spikec.simulate(spikec.load_nir(tmp_path / "net.nir"), x, 1e-3)["output"], expected)


def test_lif_cell_spikes_equal_norse(tmp_path) -> None:
    net = lif_net()
    x = random_spikes((10,))
    expected = run_norse(net, x)
    assert expected.sum() > 0.05 * expected.size
    graph = from_norse(net, torch.zeros(10))
    assert isinstance(graph.nodes["1"], CubaLIF)
    np.testing.assert_array_equal(simulate_output(graph, x), expected)
    spikec.save_nir(graph, tmp_path / "net.nir")
    np.testing.assert_array_equal(spikec.simulate(spikec.load_nir(tmp_path / "net.nir"), x, 1e-3)["output"], expected)


@pytest.mark.parametrize("readout", ["LICell", "LIBoxCell"])
def test_leaky_integrator_readout_matches(readout: str) -> None:
    torch.manual_seed(2)
    cell = nt.LICell() if readout == "LICell" else nt.LIBoxCell()
    net = nt.SequentialState(linear(10, 20, -0.2, 0.6), nt.LIFCell(), linear(20, 5, -1.0, 1.0), cell)
    x = random_spikes((10,))
    expected = run_norse(net, x)
    got = simulate_output(from_norse(net, torch.zeros(10)), x)
    assert np.abs(expected).max() > 0.5
    # voltages: float32 (Norse) vs float64 (spikec); measured max relative error ~1e-6
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_array_equal(got.argmax(-1), expected.argmax(-1))


def test_conv_pool_flatten_network_matches() -> None:
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(2, 4, 3)
    with torch.no_grad():
        conv.weight.uniform_(-0.2, 0.6)
    net = nt.SequentialState(
        conv, nt.LIFCell(), torch.nn.AvgPool2d(2), torch.nn.Flatten(), linear(4 * 3 * 3, 5, -1.0, 3.0), nt.LIFCell(),
    )
    x = random_spikes((2, 8, 8))
    expected = run_norse(net, x)
    assert expected.sum() > 0.05 * expected.size
    np.testing.assert_array_equal(simulate_output(from_norse(net, torch.zeros(2, 8, 8)), x), expected)


def test_norse_exporters_time_constant_is_fixed_and_linted() -> None:
    """Norse 1.1 writes tau = dt/tau_mem_inv (Norse #411); we write 1/tau_mem_inv, and lint flags theirs."""
    net = lif_box_net("zero")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = spikec.load_nir(nt.to_nir(net, torch.zeros(10)))
    ours = from_norse(net, torch.zeros(10))
    np.testing.assert_allclose(ours.nodes["1"].tau, 1 / 150.0, rtol=1e-6)
    np.testing.assert_allclose(theirs.nodes["1"].tau, 1e-3 / 150.0, rtol=1e-6)
    assert any(w.node == "1" and w.parameter == "tau" for w in lint(theirs, 1e-3))
    assert not [w for w in lint(ours) if w.parameter == "tau"]
    x = random_spikes((10,))
    # the uncorrected graph really computes something else
    assert np.mean(spikec.simulate(theirs, x, 1e-3)["output"] != run_norse(net, x)) > 0.05


def test_lif_cell_current_jumps_by_its_input() -> None:
    """w_in = tau_syn/dt: one input of 1 raises I by exactly 1 in that step, as Norse's i += x."""
    graph = from_norse(lif_net(), torch.zeros(10))
    node = graph.nodes["1"]
    np.testing.assert_allclose(1e-3 / node.tau_syn * node.w_in, 1.0, rtol=1e-12)
    np.testing.assert_allclose(node.r, 1.0)


def test_wrong_reset_mode_breaks_equality() -> None:
    net = lif_box_net("subtract")
    x = random_spikes((10,))
    graph = from_norse(net, torch.zeros(10))
    flipped = graph.replace_nodes({n: v.replace(reset="zero") for n, v in graph.items() if isinstance(v, LIF)})
    assert np.mean(simulate_output(flipped, x) != run_norse(net, x)) > 0.02


def test_a_cell_with_its_own_dt_is_exact_at_the_graph_dt() -> None:
    torch.manual_seed(4)
    p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(150.0))
    net = nt.SequentialState(linear(10, 6, -1, 3), nt.LIFBoxCell(p, dt=5e-4))
    graph = from_norse(net, torch.zeros(10), dt_s=1e-3)
    np.testing.assert_allclose(graph.nodes["1"].tau, 1e-3 / (5e-4 * 150.0))
    x = random_spikes((10,))
    np.testing.assert_array_equal(simulate_output(graph, x), run_norse(net, x))


def test_plain_sequential_is_rejected() -> None:
    with pytest.raises(GraphError, match="SequentialState"):
        from_norse(torch.nn.Sequential(torch.nn.Linear(2, 2), nt.LIFBoxCell()), torch.zeros(2))


def test_unsupported_cell_is_rejected() -> None:
    net = nt.SequentialState(torch.nn.Linear(2, 2), torch.nn.LPPool1d(2, 1))
    with pytest.raises(GraphError, match="LPPool1d"):
        from_norse(net, torch.zeros(2))


class _TwoSequentials(torch.nn.Module):
    """norse/task/cifar10.py's LIFConvNet step: ``features`` then ``classification``, each a SequentialState."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.features = nt.SequentialState(linear(10, 20, -0.2, 0.6), nt.LIFCell(), linear(20, 12, -0.2, 0.6), nt.LIFCell())
        self.classification = nt.SequentialState(linear(12, 5, -0.2, 0.8), nt.LIFCell())

    def forward(self, x: torch.Tensor, state=None):
        sf, sc = state if state is not None else (None, None)
        z, sf = self.features(x, sf)
        y, sc = self.classification(z, sc)
        return y, (sf, sc)


class _EncoderSNNDecoder(torch.nn.Module):
    """A torch encoder, a SequentialState, a skip around it summed into a Norse read-out cell."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(8)
        self.encoder = linear(10, 16, -0.3, 0.8)
        self.snn = nt.SequentialState(nt.LIFBoxCell(), linear(16, 16, -0.3, 0.8), nt.LIFBoxCell())
        self.decoder, self.skip = linear(16, 4, -1.0, 1.0), linear(10, 4, -1.0, 1.0)
        self.readout = nt.LIBoxCell()

    def forward(self, x: torch.Tensor, state=None):
        s_snn, s_out = state if state is not None else (None, None)
        z, s_snn = self.snn(self.encoder(x), s_snn)
        v, s_out = self.readout(self.decoder(z) + self.skip(x), s_out)
        return v, (s_snn, s_out)


def test_a_module_holding_two_sequential_states_equals_norse() -> None:
    net = _TwoSequentials()
    graph = from_norse(net, torch.zeros(10))
    assert {"features.1", "features.3", "classification.1"} <= set(graph.nodes)
    x = random_spikes((10,))
    want = run_norse(net, x)
    assert 0 < want.mean() < 0.95
    np.testing.assert_array_equal(simulate_output(graph, x), want)


def test_encoder_sequential_state_decoder_with_a_skip_equals_norse() -> None:
    net = _EncoderSNNDecoder()
    graph = from_norse(net, torch.zeros(10))
    assert sorted(graph.predecessors("readout")) == ["decoder", "skip"]
    x = random_spikes((10,))
    want = run_norse(net, x)
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(simulate_output(graph, x), want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


def test_a_custom_module_without_a_state_argument_is_refused() -> None:
    class NoState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nt.SequentialState(torch.nn.Linear(2, 2), nt.LIFBoxCell())

        def forward(self, x):
            return self.net(x)[0]

    with pytest.raises(GraphError, match=r"forward\(x, state=None\)"):
        from_norse(NoState(), torch.zeros(2))


def test_a_functional_op_in_a_custom_module_is_refused_by_name() -> None:
    class Cat(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nt.SequentialState(torch.nn.Linear(2, 2), nt.LIFBoxCell()), nt.LIFBoxCell()

        def forward(self, x, state=None):
            za, _ = self.a(x)
            zb, _ = self.b(x)
            return torch.cat((za, zb), -1), None

    with pytest.raises(GraphError, match="cat"):
        from_norse(Cat(), torch.zeros(2))


def test_a_recurrent_cell_first_feeds_only_its_spikes_on() -> None:
    """norse/task/memory.py's MemoryNet: LIFRecurrentCell straight on the input, then a read-out. nirtorch's
    hook trace wired the cell's w_rec to the next layer too (values, not spikes, 40 of 40 entries wrong)."""
    torch.manual_seed(50)
    net = nt.SequentialState(nt.LIFRecurrentCell(20, 20), linear(20, 4, -1.0, 1.0), nt.LIBoxCell())
    with torch.no_grad():
        net[0].input_weights.mul_(3.0)
    graph = from_norse(net, torch.zeros(20))
    assert list(graph.predecessors("1")) == ["0.lif"]
    x = random_spikes((20,))
    want = run_norse(net, x)
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(simulate_output(graph, x), want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
