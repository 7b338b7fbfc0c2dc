"""An snnTorch model (Synaptic + Leaky, biases, snnTorch's default subtractive delayed reset)
compiles for Loihi 2 through the frontend and stays close to the float reference.

Measured (300 steps x 2, rate 0.2, seed 0): count agreement 0.992 / 0.990,
train agreement 0.961 / 0.955. Before the scale respected the bias encoding,
12 of 30 biases saturated and count agreement was 0.66.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

import spikec  # noqa: E402


def test_snntorch_synaptic_leaky_model_compiles_and_agrees():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(20, 30), snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True),
        torch.nn.Linear(30, 5), snn.Leaky(beta=0.85, init_hidden=True, output=True),
    )
    graph = spikec.from_snntorch(net, torch.zeros(20))
    program = spikec.compile(graph, "loihi2", fidelity_steps=300)
    layers = program.report["quantise-loihi"]["layers"]
    assert all(layer["bias_saturated"] == 0 for layer in layers.values())
    pops = [n for n in program.graph.nodes.values() if type(n).__name__ == "LoihiNeurons"]
    assert {(p.reset, p.reset_delay) for p in pops} == {("subtract", True)}
    for name, r in program.fidelity["layers"].items():
        assert r["count_agreement"] >= 0.95, (name, r)
        assert r["train_agreement"] >= 0.93, (name, r)
