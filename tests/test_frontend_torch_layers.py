"""Torch layers users put between snnTorch neurons: Dropout, Identity, BatchNorm (eval).

Each network is built here with seeded random weights (and random BatchNorm
running statistics), stepped by snnTorch one frame at a time on random input
spikes, and simulated by spikec on the same input: spikes must be equal.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from test_frontend_snntorch import linear, random_spikes, run_snntorch, simulate_output  # noqa: E402

from spikec.frontends import from_snntorch  # noqa: E402
from spikec.ir.errors import GraphError  # noqa: E402
from spikec.ir.nodes import Affine, Conv2d  # noqa: E402


def leaky(output: bool = False) -> torch.nn.Module:
    return snn.Leaky(beta=0.9, init_hidden=True, output=output)


def randomise_stats(bn: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Running statistics and affine parameters as training would leave them (not the identity defaults)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        bn.running_mean.copy_(torch.rand(bn.num_features, generator=g) * 0.4 - 0.2)
        bn.running_var.copy_(torch.rand(bn.num_features, generator=g) * 1.5 + 0.5)
        if bn.affine:
            bn.weight.copy_(torch.rand(bn.num_features, generator=g) * 1.5 + 0.5)
            bn.bias.copy_(torch.rand(bn.num_features, generator=g) * 0.4 - 0.1)
    return bn


def assert_exact(net: torch.nn.Module, shape: tuple[int, ...], seed: int = 0):
    x = random_spikes(shape, p=0.4, seed=seed)
    net.eval()
    expected = run_snntorch(net, x)
    assert expected.sum() > 0.02 * expected.size, "test network too quiet to prove anything"
    graph = from_snntorch(net, torch.zeros(shape))
    np.testing.assert_array_equal(simulate_output(graph, x), expected)
    return graph


@pytest.mark.parametrize("layer", [
    lambda: torch.nn.Dropout(0.5), lambda: torch.nn.Dropout1d(0.3), lambda: torch.nn.Identity(),
])
def test_dropout_and_identity_vanish_from_the_graph(layer) -> None:
    torch.manual_seed(1)
    net = torch.nn.Sequential(linear(10, 24, 2.0), layer(), leaky(), layer(), linear(24, 6, 2.0), leaky(True))
    graph = assert_exact(net, (10,))
    assert set(graph.nodes) == {"input", "0", "2", "4", "5", "output"}


def test_dropout2d_between_conv_layers_vanishes() -> None:
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(3.0)
    net = torch.nn.Sequential(conv, torch.nn.Dropout2d(0.2), leaky(), torch.nn.Flatten(), linear(4 * 36, 5, 3.0), leaky(True))
    graph = assert_exact(net, (2, 6, 6))
    assert "1" not in graph.nodes


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm1d_after_linear_folds_into_it(affine: bool) -> None:
    torch.manual_seed(3)
    net = torch.nn.Sequential(
        linear(10, 24, 2.0), randomise_stats(torch.nn.BatchNorm1d(24, affine=affine), 5), leaky(),
        linear(24, 6, 2.0), leaky(True),
    )
    graph = assert_exact(net, (10,))
    assert "1" not in graph.nodes and isinstance(graph.nodes["0"], Affine)


def test_batchnorm1d_after_a_neuron_is_a_diagonal_affine_named_after_it() -> None:
    torch.manual_seed(4)
    net = torch.nn.Sequential(
        linear(10, 24, 2.0), leaky(), randomise_stats(torch.nn.BatchNorm1d(24), 6),
        linear(24, 6, 2.0), leaky(True),
    )
    graph = assert_exact(net, (10,))
    bn = graph.nodes["2"]
    assert isinstance(bn, Affine) and np.count_nonzero(bn.weight - np.diag(np.diag(bn.weight))) == 0


@pytest.mark.parametrize("after", ["conv", "neuron"])
def test_batchnorm2d_folds_into_conv_or_becomes_a_depthwise_conv(after: str) -> None:
    torch.manual_seed(5)
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(3.0)
    bn = randomise_stats(torch.nn.BatchNorm2d(4), 7)
    if after == "conv":
        layers = [conv, bn, leaky()]
    else:
        layers = [conv, leaky(), bn]
    net = torch.nn.Sequential(*layers, torch.nn.Flatten(), linear(4 * 36, 5, 3.0), leaky(True))
    graph = assert_exact(net, (2, 6, 6))
    if after == "conv":
        assert "1" not in graph.nodes and isinstance(graph.nodes["0"], Conv2d)
    else:
        node = graph.nodes["2"]
        assert isinstance(node, Conv2d) and node.groups == 4 and node.weight.shape == (4, 1, 1, 1)


def test_batchnorm_in_training_mode_is_traced_with_its_running_statistics() -> None:
    torch.manual_seed(6)
    net = torch.nn.Sequential(linear(10, 24, 2.0), randomise_stats(torch.nn.BatchNorm1d(24), 8), leaky(), linear(24, 6, 2.0), leaky(True))
    net.train()
    graph = from_snntorch(net, torch.zeros(10))
    assert net.training, "the frontend must not switch the user's module to eval"
    x = random_spikes((10,))
    np.testing.assert_array_equal(simulate_output(graph, x), run_snntorch(net.eval(), x))


def test_batchnorm_without_running_statistics_is_refused() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, track_running_stats=False), leaky())
    with pytest.raises(GraphError, match="node '1'.*track_running_stats"):
        from_snntorch(net, torch.zeros(3))


def test_norse_sequential_state_with_batchnorm_and_dropout_matches() -> None:
    """Norse traces through module hooks: identity layers are swapped for copies there, BatchNorm folds the same way."""
    nt = pytest.importorskip("norse.torch")
    from test_frontend_norse import linear as norse_linear, run_norse

    torch.manual_seed(7)
    p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(150.0))
    net = nt.SequentialState(
        norse_linear(10, 20, -1, 2), randomise_stats(torch.nn.BatchNorm1d(20), 9), torch.nn.Dropout(0.5), nt.LIFBoxCell(p),
        torch.nn.Identity(), norse_linear(20, 5, -1, 2), nt.LIFBoxCell(p),
    )
    net.eval()
    x = random_spikes((10,))
    expected = run_norse(net, x)
    assert expected.sum() > 0.02 * expected.size
    from spikec.frontends import from_norse

    graph = from_norse(net, torch.zeros(10))
    assert not {"1", "2", "4"} & set(graph.nodes)
    np.testing.assert_array_equal(simulate_output(graph, x), expected)
