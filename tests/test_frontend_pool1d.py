"""1-D pooling (F.max_pool1d / avg_pool1d, nn.MaxPool1d / AvgPool1d) over (L,) and (C, L) maps.

The frontend maps each to the 2-D pool node with kernel (1, k), which reads a rank-1 or rank-2 input as
(C, 1, L) (``ir/shapes.pool_map_shape``). Each model is stepped by snnTorch frame by frame on random
spikes; spikec's simulation must give the same spikes, also after a trip through a ``.nir`` file (a max
over spikes saved as the SumPool2d -> IF it is lowered to).
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
F = torch.nn.functional

from framework_runs import step_snntorch  # noqa: E402
from test_frontend_snntorch import linear, random_spikes, simulate_output  # noqa: E402

import spikec  # noqa: E402
from spikec.compiler.lower_maxpool import lower_max_pools  # noqa: E402
from spikec.frontends import from_snntorch  # noqa: E402
from spikec.ir.errors import CompileError, GraphError  # noqa: E402
from spikec.ir.nodes import AvgPool2d, MaxPool2d  # noqa: E402

POOLS = {
    "F.max_pool1d": lambda h: F.max_pool1d(h, 2),
    "F.avg_pool1d": lambda h: F.avg_pool1d(h, 2),
    "F.max_pool1d(3, stride 2, padding 1)": lambda h: F.max_pool1d(h, 3, stride=2, padding=1),
    "nn.MaxPool1d": torch.nn.MaxPool1d(2),
    "nn.AvgPool1d(stride 1)": torch.nn.AvgPool1d(2, stride=1),
}


class PoolSpikes(torch.nn.Module):
    """fc1 -> lif1 -> pool over the 16 features (L,) -> fc2 -> lif2."""

    def __init__(self, pool, currents: bool = False) -> None:
        super().__init__()
        torch.manual_seed(4)
        self.fc1, self.lif1, self.pool, self.currents = linear(6, 16, 3.0), snn.Leaky(beta=0.8, init_hidden=True), pool, currents
        n = self.pool(torch.zeros(1, 16)).shape[-1]
        self.fc2, self.lif2 = linear(n, 3, 1.5), snn.Leaky(beta=0.8, init_hidden=True)

    def forward(self, x):
        h = self.lif1(self.pool(self.fc1(x))) if self.currents else self.pool(self.lif1(self.fc1(x)))
        return self.lif2(self.fc2(h))


class PoolChannels(torch.nn.Module):
    """The (C, L) input spikes pooled per channel, flattened, fc -> lif."""

    def __init__(self, pool) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.pool = pool
        n = self.pool(torch.zeros(1, 2, 12)).numel()
        self.fc, self.lif = linear(n, 3, 3.0), snn.Leaky(beta=0.8, init_hidden=True)

    def forward(self, x):
        return self.lif(self.fc(self.pool(x).flatten(1)))


def check_equal(model: torch.nn.Module, frame: tuple[int, ...]) -> spikec.Graph:
    graph = from_snntorch(model, torch.zeros(*frame))
    x = random_spikes(frame, p=0.4)
    want = step_snntorch(model, x)
    assert 0 < np.count_nonzero(want) < 0.95 * want.size, "test network too quiet or saturated to prove anything"
    np.testing.assert_array_equal(simulate_output(graph, x), want)
    return graph


@pytest.mark.parametrize("pool", list(POOLS))
def test_a_1d_pool_of_spikes_equals_snntorch_and_survives_a_nir_file(pool: str, tmp_path) -> None:
    graph = check_equal(PoolSpikes(POOLS[pool]), (6,))
    (node,) = [n for n in graph.nodes.values() if isinstance(n, (MaxPool2d, AvgPool2d))]
    assert tuple(node.kernel_size)[0] == 1
    saved = lower_max_pools(graph)
    spikec.save_nir(saved, tmp_path / "net.nir")
    again = spikec.load_nir(tmp_path / "net.nir")
    assert saved.same_as(again)
    x = random_spikes((6,), p=0.4, seed=1)
    np.testing.assert_array_equal(simulate_output(again, x), simulate_output(graph, x))


@pytest.mark.parametrize("pool", list(POOLS))
def test_a_1d_pool_of_currents_is_exact_in_float(pool: str) -> None:
    check_equal(PoolSpikes(POOLS[pool], currents=True), (6,))


@pytest.mark.parametrize("pool", ["F.max_pool1d", "F.avg_pool1d", "nn.MaxPool1d"])
def test_a_1d_pool_over_channels_equals_snntorch(pool: str) -> None:
    check_equal(PoolChannels(POOLS[pool]), (2, 12))


def test_a_max_of_currents_is_refused_by_targets_naming_the_pool() -> None:
    graph = from_snntorch(PoolSpikes(POOLS["F.max_pool1d"], currents=True), torch.zeros(6))
    with pytest.raises(CompileError, match=r"node 'max_pool1d'.*MaxPool2d of currents \(from 'fc1'"):
        spikec.compile(graph, "spinnaker1", fidelity_steps=0)


@pytest.mark.parametrize("target", ["spinnaker1", "rram-512"])
@pytest.mark.parametrize("pool", ["nn.AvgPool1d(stride 1)", "nn.MaxPool1d"])
def test_a_1d_pool_of_spikes_compiles_and_the_backend_equals_the_reference(pool: str, target: str) -> None:
    graph = from_snntorch(PoolSpikes(POOLS[pool]), torch.zeros(6))
    backend_equals_reference(spikec.compile(graph, target, fidelity_steps=0), random_spikes((6,), p=0.4))


def backend_equals_reference(program: spikec.Program, x: np.ndarray) -> dict[str, np.ndarray]:
    """The SpiNNaker event machine or the noise-free RRAM simulator equals the program's reference run."""
    want = spikec.run(program, x, backend="reference")
    assert any(np.count_nonzero(v) for v in want.values())
    if program.family == "rram":
        from spikec.backends.rram import run as run_rram

        got = run_rram(program, x, ideal=True)
    else:
        got = spikec.run(program, x, backend="spinnaker")
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    return want


def test_an_adaptive_1d_pool_is_refused_naming_it() -> None:
    with pytest.raises(GraphError, match="functional op adaptive_max_pool1d"):
        from_snntorch(PoolSpikes(lambda h: F.adaptive_max_pool1d(h, 4)), torch.zeros(6))
