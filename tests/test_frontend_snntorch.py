"""snnTorch frontend fidelity: spikec's float reference equals snnTorch step for step.

Each network is built here with seeded random weights, run by snnTorch one
frame per step on random input spikes, and run by ``spikec.simulate`` on the
same input; the output spikes must be equal at every step, also after a trip
through a ``.nir`` file. Measured on these networks: 0 mismatching entries for
every configuration tested for equality (float32 in snnTorch vs float64 in
spikec flipped no spike), so the comparisons are exact.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

import spikec  # noqa: E402
from framework_runs import step_snntorch as run_snntorch  # noqa: E402
from spikec.frontends import from_snntorch  # noqa: E402
from spikec.ir.errors import GraphError  # noqa: E402
from spikec.ir.nodes import LIF, CubaLIF, IF  # noqa: E402

T, B = 120, 4


def random_spikes(shape: tuple[int, ...], p: float = 0.3, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((T, B, *shape)) < p).astype(np.float32)


def simulate_output(graph, x: np.ndarray) -> np.ndarray:
    out = spikec.simulate(graph, x)
    (spikes,) = out.values()
    return spikes


def linear(n_in: int, n_out: int, gain: float = 1.0) -> torch.nn.Linear:
    """Weights mostly excitatory (uniform in [-0.5, 1] * gain / sqrt(n_in)), so the layers spike."""
    layer = torch.nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.uniform_(-0.5 * gain / n_in**0.5, gain / n_in**0.5)
    return layer


def neuron(kind: str, n: int, reset: str, delay: bool, output: bool = False) -> torch.nn.Module:
    kw = dict(init_hidden=True, reset_mechanism=reset, reset_delay=delay, output=output)
    if kind == "Leaky":
        return snn.Leaky(beta=0.9, **kw)
    if kind == "Synaptic":
        return snn.Synaptic(alpha=0.7, beta=0.85, **kw)
    if kind == "RLeaky":
        return snn.RLeaky(beta=0.9, linear_features=n, **kw)
    return snn.RSynaptic(alpha=0.7, beta=0.85, linear_features=n, **kw)


def two_layer(kind: str, reset: str, delay: bool, seed: int = 1) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        linear(10, 24, 2.0), neuron(kind, 24, reset, delay),
        linear(24, 6, 2.0), neuron(kind, 6, reset, delay, output=True),
    )


# (kind, reset, reset_delay) that snnTorch 1.0.0 computes as spikec does.
EXACT = [
    (kind, reset, delay)
    for kind in ("Leaky", "Synaptic", "RLeaky", "RSynaptic")
    for reset in ("subtract", "zero")
    for delay in (True, False)
    # subtract without delay: snnTorch's "avoid double reset" shifts the threshold (see below)
    # RSynaptic(reset_delay=False) raises inside snnTorch's own forward with init_hidden=True
    if not (reset == "subtract" and not delay) and not (kind == "RSynaptic" and not delay)
]


@pytest.mark.parametrize("kind,reset,delay", EXACT)
def test_snntorch_spikes_equal_spikec_step_for_step(kind: str, reset: str, delay: bool, tmp_path) -> None:
    net = two_layer(kind, reset, delay)
    x = random_spikes((10,))
    expected = run_snntorch(net, x)
    assert expected.sum() > 0.02 * expected.size, "test network too quiet to prove anything"
    graph = from_snntorch(net, torch.zeros(10))
    np.testing.assert_array_equal(simulate_output(graph, x), expected)
    spikec.save_nir(graph, tmp_path / "net.nir")
    reloaded = spikec.load_nir(tmp_path / "net.nir")
    np.testing.assert_array_equal(spikec.simulate(reloaded, x, 1e-4)["output"], expected)


@pytest.mark.parametrize("kind", ["Leaky", "Synaptic", "RLeaky"])
def test_snntorch_subtract_without_delay_matches(kind: str) -> None:
    net = two_layer(kind, "subtract", False)
    x = random_spikes((10,))
    np.testing.assert_array_equal(simulate_output(from_snntorch(net, torch.zeros(10)), x), run_snntorch(net, x))


def test_flipping_the_reset_mode_breaks_equality() -> None:
    """The comparison can fail: the same graph with the other reset mode differs clearly."""
    net = two_layer("Synaptic", "subtract", True)
    x = random_spikes((10,))
    expected = run_snntorch(net, x)
    graph = from_snntorch(net, torch.zeros(10))
    flipped = graph.replace_nodes({
        name: node.replace(reset="zero") for name, node in graph.items() if isinstance(node, (LIF, CubaLIF))
    })
    mismatch = np.mean(simulate_output(flipped, x) != expected)
    assert mismatch > 0.02, f"only {mismatch:.2%} of entries differ"


def test_dropping_reset_delay_breaks_equality() -> None:
    net = two_layer("Synaptic", "zero", True)
    x = random_spikes((10,))
    graph = from_snntorch(net, torch.zeros(10))
    undelayed = graph.replace_nodes({n: v.replace(reset_delay=False) for n, v in graph.items() if isinstance(v, CubaLIF)})
    assert np.mean(simulate_output(undelayed, x) != run_snntorch(net, x)) > 0.02


def test_conv_pool_flatten_network_matches() -> None:
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(3.0)
    net = torch.nn.Sequential(
        conv, snn.Leaky(beta=0.8, init_hidden=True, reset_mechanism="zero"),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), linear(4 * 4 * 4, 5, 3.0),
        snn.Synaptic(alpha=0.6, beta=0.9, init_hidden=True, output=True),
    )
    x = random_spikes((2, 8, 8), p=0.4)
    expected = run_snntorch(net, x)
    assert expected.sum() > 0.02 * expected.size
    np.testing.assert_array_equal(simulate_output(from_snntorch(net, torch.zeros(2, 8, 8)), x), expected)


@pytest.mark.parametrize("recurrence", ["one_to_one_vector", "one_to_one_scalar", "conv2d"])
def test_other_recurrent_connections_match(recurrence: str) -> None:
    torch.manual_seed(4)
    if recurrence == "conv2d":
        conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        with torch.no_grad():
            conv.weight.mul_(3.0)
        net = torch.nn.Sequential(
            conv, snn.RLeaky(beta=0.85, conv2d_channels=3, kernel_size=3, init_hidden=True),
            torch.nn.Flatten(), linear(3 * 6 * 6, 4, 3.0), snn.Leaky(beta=0.9, init_hidden=True, output=True),
        )
        shape = (2, 6, 6)
    else:
        v = torch.rand(16) - 0.3 if recurrence == "one_to_one_vector" else 0.4
        net = torch.nn.Sequential(
            linear(8, 16, 2.0), snn.RLeaky(beta=0.85, V=v, all_to_all=False, init_hidden=True, reset_mechanism="zero"),
            linear(16, 4, 2.0), snn.Leaky(beta=0.9, init_hidden=True, output=True),
        )
        shape = (8,)
    x = random_spikes(shape, p=0.3)
    expected = run_snntorch(net, x)
    assert expected.sum() > 0.02 * expected.size
    np.testing.assert_array_equal(simulate_output(from_snntorch(net, torch.zeros(*shape)), x), expected)


def test_recurrent_bias_counts_from_step_zero() -> None:
    """snnTorch adds recurrent(0) = bias at step 0; the frontend moves it onto the input synapse."""
    torch.manual_seed(5)
    net = torch.nn.Sequential(
        linear(6, 12, 1.0), snn.RLeaky(beta=0.9, linear_features=12, init_hidden=True, reset_mechanism="zero"),
        linear(12, 3, 2.0), snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    with torch.no_grad():
        net[1].recurrent.bias.fill_(0.8)  # alone drives the neurons above threshold at step 0
    x = np.zeros((T, B, 6), dtype=np.float32)
    expected = run_snntorch(net, x)
    assert expected[:3].sum() > 0
    np.testing.assert_array_equal(simulate_output(from_snntorch(net, torch.zeros(6)), x), expected)


def test_parameters_follow_the_exporter_convention() -> None:
    """tau = dt/(1-beta), r = tau/dt, tau_syn = dt/(1-alpha), w_in = tau_syn/dt: snnTorch's exporter's values."""
    from snntorch.export_nir import _extract_snntorch_module

    beta, alpha = torch.tensor([0.5, 0.9, 0.95]), torch.tensor([0.2, 0.6, 0.7])
    syn = snn.Synaptic(alpha=alpha, beta=beta, threshold=torch.tensor([1.0, 1.5, 2.0]), init_hidden=True)
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), syn)
    node = from_snntorch(net, torch.zeros(2)).nodes["1"]
    theirs = _extract_snntorch_module(syn)
    for field in ("tau_syn", "tau_mem", "r", "w_in", "v_threshold", "v_leak", "v_reset"):
        np.testing.assert_allclose(getattr(node, field), np.asarray(getattr(theirs, field), dtype=np.float64), rtol=1e-6, err_msg=field)  # theirs in float32
    assert (node.reset, node.reset_delay) == ("subtract", True)


def test_scalar_parameters_are_broadcast_and_reset_recorded() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 7), snn.Leaky(beta=0.8, reset_mechanism="subtract", reset_delay=False, init_hidden=True))
    node = from_snntorch(net, torch.zeros(3)).nodes["1"]
    assert isinstance(node, LIF) and node.tau.shape == (7,) and node.v_threshold.shape == (7,)
    assert (node.reset, node.reset_delay) == ("subtract", False)
    np.testing.assert_allclose(node.tau, 1e-4 / 0.2)


def test_leaky_zero_reset_with_delay_becomes_an_immediate_reset() -> None:
    """Leaky zeroes mem_{t-1} before adding the input: its spikes are those of an immediate zero reset."""
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), snn.Leaky(beta=0.8, reset_mechanism="zero", init_hidden=True))
    node = from_snntorch(net, torch.zeros(3)).nodes["1"]
    assert (node.reset, node.reset_delay) == ("zero", False)


def test_dt_only_scales_time_constants() -> None:
    net = two_layer("Synaptic", "zero", True)
    x = random_spikes((10,))
    graph = from_snntorch(net, torch.zeros(10), dt_s=1e-3)
    assert graph.metadata["dt_s"] == 1e-3
    np.testing.assert_allclose(graph.nodes["1"].tau_mem, 1e-3 / 0.15, rtol=1e-6)  # beta is float32
    np.testing.assert_array_equal(simulate_output(graph, x), run_snntorch(net, x))


def test_the_users_module_is_left_untouched() -> None:
    net = two_layer("RSynaptic", "subtract", True)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net[1].mem = torch.full((1, 24), 0.5)
    from_snntorch(net, torch.zeros(10))
    assert torch.equal(net[1].mem, torch.full((1, 24), 0.5))
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_beta_one_is_rejected_with_the_node_named() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), snn.Leaky(beta=1.0, init_hidden=True))
    with pytest.raises(GraphError, match="node '1'.*beta"):
        from_snntorch(net, torch.zeros(3))


@pytest.mark.parametrize("make,match", [
    (lambda: snn.Leaky(beta=0.9, init_hidden=True, inhibition=True), "inhibition"),
    (lambda: torch.nn.ReLU(), "ReLU"),
])
def test_unsupported_layers_raise_graph_error(make, match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = torch.nn.Sequential(torch.nn.Linear(3, 4), make())
    with pytest.raises(GraphError, match=match):
        from_snntorch(net, torch.zeros(3))


def test_same_module_gives_the_same_graph() -> None:
    net = two_layer("RLeaky", "zero", True)
    a, b = from_snntorch(net, torch.zeros(10)), from_snntorch(net, torch.zeros(10))
    assert a.same_as(b) and a.edges == b.edges


class HandWrittenForward(torch.nn.Module):
    """Not a Sequential: named layers called in forward (nirtorch traces the calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = linear(10, 20, 2.0), snn.Synaptic(alpha=0.6, beta=0.9, init_hidden=True)
        self.fc2, self.lif2 = linear(20, 4, 2.0), snn.Leaky(beta=0.9, init_hidden=True, output=True)

    def forward(self, x: torch.Tensor):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


def test_a_module_with_its_own_forward_is_traced_by_layer_name() -> None:
    torch.manual_seed(6)
    net = HandWrittenForward()
    x = random_spikes((10,))
    expected = run_snntorch(net, x)
    assert expected.sum() > 0.02 * expected.size
    graph = from_snntorch(net, torch.zeros(10))
    assert {"fc1", "lif1", "fc2", "lif2"} <= set(graph.nodes)
    np.testing.assert_array_equal(simulate_output(graph, x), expected)
