"""A torch model with learnable per-synapse delays: its eval forward equals spikec.simulate (issue 8)."""
from __future__ import annotations

import numpy as np
import pytest
import snntorch as snn
import snntorch.utils
import torch

import spikec
from spikec.frontends.delay_layers import SynapticDelayLinear, delay_linear_node
from spikec.ir.nodes import DelayLinear


class DelayNet(torch.nn.Module):
    def __init__(self, max_delay: int = 20) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 8)
        self.lif1 = snn.Leaky(beta=0.9, init_hidden=True)
        self.dl = SynapticDelayLinear(8, 4, max_delay, seed=1)
        self.lif2 = snn.Leaky(beta=0.8, init_hidden=True, output=True)
        with torch.no_grad():
            self.dl.weight *= 4

    def forward(self, x: torch.Tensor):
        return self.lif2(self.dl(self.lif1(self.fc1(x))))


def run_torch(net: DelayNet, x: torch.Tensor) -> np.ndarray:
    snntorch.utils.reset(net)
    net.dl.reset()
    with torch.no_grad():
        return torch.stack([net(x[t])[0] for t in range(x.shape[0])]).numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_delay_layer_forward_equals_simulate_on_the_converted_graph(seed):
    torch.manual_seed(seed)
    net = DelayNet().eval()
    graph = spikec.from_snntorch(net, torch.zeros(6))
    node = graph.nodes["dl"]
    assert isinstance(node, DelayLinear)
    np.testing.assert_allclose(node.delay / 1e-4, net.dl.delay_steps().detach().double().numpy(), rtol=1e-12)
    x = (torch.rand(80, 3, 6) < 0.3).float()
    expected = run_torch(net, x)
    out = spikec.simulate(graph, x.numpy())["output"]
    np.testing.assert_array_equal(out, expected)
    assert expected.sum() > 20


def test_delays_are_learnable_through_the_interpolation_kernel():
    torch.manual_seed(0)
    layer = SynapticDelayLinear(3, 2, 10).train()
    x = torch.rand(15, 1, 3)
    loss = sum(layer(x[t]).pow(2).sum() for t in range(15))
    loss.backward()
    assert layer.delay_logit.grad is not None and layer.delay_logit.grad.abs().sum() > 0
    assert layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("target", ["loihi2", "spinnaker1", "rram-512"])
def test_a_trained_delay_model_compiles_for_every_target_with_its_timing_error(target):
    torch.manual_seed(0)
    net = DelayNet(max_delay=100).eval()
    graph = spikec.from_snntorch(net, torch.zeros(6), dt_s=1e-3)
    kw = {"fidelity_steps": 0} if target == "loihi2" else {}
    report = spikec.compile(graph, target, dt_s=1e-3, **kw).report["delays"]["layers"]["dl"]
    steps = net.dl.delay_steps().detach().double().numpy()
    assert report["max_steps"] == int(np.rint(steps).max()) > 31
    assert report["mean_error_steps"] == pytest.approx(np.abs(np.rint(steps) - steps).mean(), abs=1e-9)
    x = np.asarray(torch.rand(150, 6) < 0.3, dtype=float)
    assert spikec.run(spikec.compile(graph, target, dt_s=1e-3, **kw), x)["output"].shape[0] == 150


def test_delay_linear_node_is_in_seconds():
    layer = SynapticDelayLinear(2, 2, 8)
    node = delay_linear_node(layer, 1e-3)
    np.testing.assert_allclose(node.delay, layer.delay_steps().detach().double().numpy() * 1e-3)
