"""snnTorch membrane read-outs: a reset-free neuron's membrane is a leaky integrator (nir.LI).

``_, mem = lif(cur)`` of a Leaky / Lapicque with ``reset_mechanism='none'`` (and Synaptic's current, or
its reset-free membrane) is traced to LI nodes; spikec's simulation must equal snnTorch frame by frame
(float32 in snnTorch: to float32 rounding). A resetting membrane, or spikes and membrane of one neuron
together, are refused naming the layer.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from framework_runs import step_snntorch  # noqa: E402
from test_frontend_snntorch import linear, random_spikes, simulate_output  # noqa: E402

from spikec.frontends import from_snntorch  # noqa: E402
from spikec.ir.errors import GraphError  # noqa: E402
from spikec.ir.nodes import LI  # noqa: E402


class ReadsItem(torch.nn.Module):
    """fc1 -> lif1 (spikes) -> fc2 -> neuron; returns item ``item`` of the neuron's output tuple."""

    def __init__(self, neuron: torch.nn.Module, item: int = 1) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.fc1, self.lif1 = linear(8, 12, 2.0), snn.Leaky(beta=0.9, init_hidden=True)
        self.fc2, self.out, self.item = linear(12, 4, 2.0), neuron, item

    def forward(self, x):
        return self.out(self.fc2(self.lif1(self.fc1(x))))[self.item]


class Unpacks(ReadsItem):
    """The tutorial's form: ``_spk, mem = lif(cur)``; return mem."""

    def forward(self, x):
        _spk, mem = self.out(self.fc2(self.lif1(self.fc1(x))))
        return mem


def reset_free(kind: str) -> torch.nn.Module:
    kw = dict(init_hidden=True, output=True, reset_mechanism="none")
    if kind == "Leaky":
        return snn.Leaky(beta=torch.linspace(0.5, 0.95, 4), **kw)
    if kind == "Lapicque":
        return snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, **kw)
    return snn.Synaptic(alpha=0.7, beta=0.85, **kw)


@pytest.mark.parametrize("kind, item, net", [
    ("Leaky", 1, Unpacks), ("Leaky", 1, ReadsItem), ("Lapicque", 1, ReadsItem),
    ("Synaptic", 1, ReadsItem), ("Synaptic", 2, ReadsItem),
])
def test_a_reset_free_membrane_equals_snntorch_frame_by_frame(kind: str, item: int, net: type) -> None:
    model = net(reset_free(kind), item)
    graph = from_snntorch(model, torch.zeros(8))
    lis = [n for n in graph.nodes.values() if isinstance(n, LI)]
    assert len(lis) == (2 if (kind, item) == ("Synaptic", 2) else 1)
    x = random_spikes((8,), p=0.4)
    want = step_snntorch(model, x)
    assert np.count_nonzero(want) > want.size // 2
    np.testing.assert_allclose(simulate_output(graph, x), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_synaptic_current_is_read_even_when_the_membrane_resets() -> None:
    """Synaptic resets only its membrane: its current (item 1) is an LI whatever the reset."""
    model = ReadsItem(snn.Synaptic(alpha=0.7, beta=0.85, init_hidden=True, output=True), 1)
    graph = from_snntorch(model, torch.zeros(8))
    x = random_spikes((8,), p=0.4)
    want = step_snntorch(model, x)
    np.testing.assert_allclose(simulate_output(graph, x), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_the_spikes_of_an_output_true_neuron_are_still_item_0() -> None:
    model = ReadsItem(reset_free("Leaky"), 0)
    graph = from_snntorch(model, torch.zeros(8))
    assert not any(isinstance(n, LI) for n in graph.nodes.values())
    x = random_spikes((8,), p=0.4)
    want = step_snntorch(model, x)
    assert 0 < np.count_nonzero(want) < want.size
    np.testing.assert_array_equal(simulate_output(graph, x), want)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_the_membrane_of_a_resetting_neuron_is_refused_naming_it(reset: str) -> None:
    model = Unpacks(snn.Leaky(beta=0.9, init_hidden=True, output=True, reset_mechanism=reset))
    with pytest.raises(GraphError, match=rf"node 'out'.*membrane of Leaky 'out' \(reset_mechanism='{reset}'\).*"
                                         r"depends on the neuron's spikes.*reset_mechanism='none'"):
        from_snntorch(model, torch.zeros(8))


def test_spikes_and_membrane_of_one_neuron_together_are_refused() -> None:
    class Both(ReadsItem):
        def forward(self, x):
            spk, mem = self.out(self.fc2(self.lif1(self.fc1(x))))
            return spk + mem

    with pytest.raises(GraphError, match=r"node 'out'.*items \[0, 1\] of out's output tuple"):
        from_snntorch(Both(reset_free("Leaky")), torch.zeros(8))


def test_a_recurrent_neurons_membrane_is_refused() -> None:
    model = Unpacks(snn.RLeaky(beta=0.9, linear_features=4, init_hidden=True, output=True, reset_mechanism="none"))
    with pytest.raises(GraphError, match=r"node 'out'.*item 1 of RLeaky 'out'"):
        from_snntorch(model, torch.zeros(8))
