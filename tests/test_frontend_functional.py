"""Custom snnTorch modules with functional ops: residual sums, branches, view/flatten, F.max_pool2d.

nirtorch's hook tracer sees only module calls (``a + b`` left fc3 dangling);
the torch.fx trace (``frontends/fx_trace.py``) turns a sum into edges meeting at
one node, as NIR means. Each model is stepped by snnTorch frame by frame on
random spikes; spikec's simulation must give the same spikes.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
F = torch.nn.functional

from test_frontend_snntorch import linear, random_spikes, run_snntorch, simulate_output  # noqa: E402

import spikec  # noqa: E402
from spikec.frontends import from_snntorch  # noqa: E402
from spikec.ir.errors import GraphError  # noqa: E402


def leaky(**kw) -> torch.nn.Module:
    return snn.Leaky(beta=0.9, init_hidden=True, **kw)


class SpikeResidual(torch.nn.Module):
    """A skip connection of spikes: fc3 sees lif2's spikes plus lif1's (values 0, 1, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = linear(10, 20, 2.0), leaky()
        self.fc2, self.lif2 = linear(20, 20, 2.0), leaky()
        self.fc3, self.lif3 = linear(20, 5, 2.0), leaky(output=True)

    def forward(self, x):
        h = self.lif1(self.fc1(x))
        y = self.lif2(self.fc2(h)) + h
        spk, _mem = self.lif3(self.fc3(y))
        return spk


class CurrentResidual(torch.nn.Module):
    """ResNet-style: the skip adds a projection of the input to the block's current."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.skip, self.lif1 = linear(10, 16, 1.5), linear(10, 16, 1.5), leaky()
        self.fc2, self.lif2 = linear(16, 4, 2.0), leaky()

    def forward(self, x):
        cur = self.fc1(x)
        cur += self.skip(x)
        return self.lif2(self.fc2(self.lif1(cur)))


class TwoBranches(torch.nn.Module):
    """Split at the input, merge before the output neuron (torch.add)."""

    def __init__(self) -> None:
        super().__init__()
        self.fa, self.la = linear(10, 12, 2.0), snn.Synaptic(alpha=0.6, beta=0.9, init_hidden=True)
        self.fb, self.lb = linear(10, 8, 2.0), leaky()
        self.fa2, self.fb2 = linear(12, 5, 2.0), linear(8, 5, 2.0)
        self.out = leaky()

    def forward(self, x):
        a = self.fa2(self.la(self.fa(x)))
        b = self.fb2(self.lb(self.fb(x)))
        return self.out(torch.add(a, b))


class FunctionalCnn(torch.nn.Module):
    """Functional pooling and reshapes: F.max_pool2d, x.view(x.size(0), -1), torch.flatten."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(11)
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.mul_(3.0)
        self.lif1 = leaky()
        self.fc, self.lif2 = linear(4 * 16, 5, 1.5), leaky()

    def forward(self, x):
        spk = F.max_pool2d(self.lif1(self.conv(x)), 2)
        flat = torch.flatten(spk.view(spk.size(0), 4, -1), 1)
        return self.lif2(self.fc(flat))


@pytest.mark.parametrize("make", [SpikeResidual, CurrentResidual, TwoBranches, FunctionalCnn])
def test_functional_models_equal_snntorch_step_for_step(make) -> None:
    torch.manual_seed(5)
    net = make()
    shape = (2, 8, 8) if make is FunctionalCnn else (10,)
    x = random_spikes(shape, p=0.4)
    expected = run_snntorch(net, x)
    assert expected.sum() > 0.02 * expected.size, "test network too quiet to prove anything"
    graph = from_snntorch(net, torch.zeros(shape))
    np.testing.assert_array_equal(simulate_output(graph, x), expected)


def test_a_residual_sum_is_two_edges_into_one_node() -> None:
    graph = from_snntorch(SpikeResidual(), torch.zeros(10))
    assert sorted(graph.predecessors("fc3")) == ["lif1", "lif2"]
    assert sorted(from_snntorch(CurrentResidual(), torch.zeros(10)).predecessors("lif1")) == ["fc1", "skip"]


def test_dropping_the_skip_edge_breaks_equality() -> None:
    """The comparison can fail: without the skip the spikes differ clearly."""
    torch.manual_seed(5)
    net = SpikeResidual()
    x = random_spikes((10,), p=0.4)
    graph = from_snntorch(net, torch.zeros(10))
    cut = spikec.Graph(graph.nodes, tuple(e for e in graph.edges if e != ("lif1", "fc3")), graph.metadata)
    assert np.mean(simulate_output(cut, x) != run_snntorch(net, x)) > 0.02


class Uses(torch.nn.Module):
    def __init__(self, combine) -> None:
        super().__init__()
        self.fa, self.fb, self.lif = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3), leaky()
        self.combine = combine

    def forward(self, x):
        return self.lif(self.combine(self.fa(x), self.fb(x)))


@pytest.mark.parametrize("combine,op", [
    (lambda a, b: torch.cat([a, b], dim=1)[:, :3], "cat"),
    (lambda a, b: a * b, "mul"),
    (lambda a, b: a + 1.0, "add"),
    (lambda a, b: torch.relu(a) + b, "relu"),
])
def test_unsupported_functional_ops_are_refused_naming_the_op(combine, op: str) -> None:
    with pytest.raises(GraphError, match=f"functional op {op}"):
        from_snntorch(Uses(combine), torch.zeros(4))


def test_the_membrane_output_of_a_neuron_is_refused() -> None:
    class UsesMem(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.lif, self.fc2 = torch.nn.Linear(4, 3), leaky(output=True), torch.nn.Linear(3, 2)

        def forward(self, x):
            _spk, mem = self.lif(self.fc(x))
            return self.fc2(mem)

    with pytest.raises(GraphError, match=r"membrane of Leaky 'lif' \(reset_mechanism='subtract'\) is read"):
        from_snntorch(UsesMem(), torch.zeros(4))


def test_a_forward_torch_fx_cannot_trace_says_why_when_the_hook_trace_fails() -> None:
    class Branchy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fa, self.fb, self.lif = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3), leaky()

        def forward(self, x):
            y = self.fa(x) + self.fb(x) if x.sum() > 0 else self.fa(x)
            return self.lif(y)

    with pytest.raises(GraphError, match="torch.fx could not trace the forward"):
        from_snntorch(Branchy(), torch.ones(4))


class FunctionalAvgPool(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(12)
        self.conv, self.lif1 = torch.nn.Conv2d(2, 4, 3, padding=1), leaky()
        with torch.no_grad():
            self.conv.weight.mul_(3.0)
        self.fc, self.lif2 = linear(4 * 16, 5, 3.0), leaky()

    def forward(self, x):
        return self.lif2(self.fc(F.avg_pool2d(self.lif1(self.conv(x)), 2).reshape(x.shape[0], -1)))


def test_functional_avg_pool_and_reshape_match() -> None:
    net = FunctionalAvgPool()
    x = random_spikes((2, 8, 8), p=0.4)
    expected = run_snntorch(net, x)
    assert expected.sum() > 0.02 * expected.size
    graph = from_snntorch(net, torch.zeros(2, 8, 8))
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"AvgPool2d", "Flatten"}
    np.testing.assert_array_equal(simulate_output(graph, x), expected)


class ReturnsNeuronOfASum(torch.nn.Module):
    """NIR's test_residual as users write it: ``return self.lif_f(fc_e(spk_d) + skip(spk_b))``, lif_f with
    ``output=True`` (its (spk, mem) tuple is the forward's result). Once traced without lif_f (fc_e and skip
    fed the Output directly)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(67)
        self.fc_a, self.lif_b = linear(8, 16, 2.0), leaky()
        self.fc_c, self.lif_d = linear(16, 16, 2.0), leaky()
        self.fc_e, self.skip = linear(16, 4, 0.6), linear(16, 4, 0.6)
        self.lif_f = leaky(output=True)

    def forward(self, x):
        spk_b = self.lif_b(self.fc_a(x))
        spk_d = self.lif_d(self.fc_c(spk_b))
        return self.lif_f(self.fc_e(spk_d) + self.skip(spk_b))


def test_a_neuron_returned_on_a_sum_is_kept() -> None:
    net = ReturnsNeuronOfASum()
    graph = from_snntorch(net, torch.zeros(8))
    assert "lif_f" in graph.nodes
    assert sorted(graph.predecessors("lif_f")) == ["fc_e", "skip"]
    assert list(graph.predecessors(graph.outputs[0])) == ["lif_f"]
    x = random_spikes((8,), p=0.4)
    expected = run_snntorch(net, x)
    assert 0.02 < expected.mean() < 0.95
    np.testing.assert_array_equal(simulate_output(graph, x), expected)
