"""A Norse model (LIFCell -> LICell read-out, biases) compiles for Loihi 2 through the frontend.

LICell becomes LI -> LI, fused into one non-spiking population with u and v.
Measured (300 steps x 2, rate 0.2, seed 0): LIF layer count agreement 0.994,
train agreement 0.991; read-out v relative RMS error 0.068 (it follows the
LIF layer's few mismatched spikes; the fused read-out alone, fed identical
spikes, is within 0.01: tests/test_compile_neurons.py).
"""
import pytest

torch = pytest.importorskip("torch")
norse_torch = pytest.importorskip("norse.torch")

import spikec  # noqa: E402


def test_norse_lif_li_model_compiles_and_agrees():
    torch.manual_seed(0)
    net = norse_torch.SequentialState(torch.nn.Linear(20, 30), norse_torch.LIFCell(), torch.nn.Linear(30, 5), norse_torch.LICell())
    program = spikec.compile(spikec.from_norse(net, torch.zeros(20)), "loihi2", fidelity_steps=300)
    fused = program.report["quantise-loihi"]["fused_li_chains"]
    assert len(fused) == 1
    (readout,) = fused
    layers = program.fidelity["layers"]
    spiking = [n for n in layers if n != readout]
    for name in spiking:
        assert layers[name]["count_agreement"] >= 0.97 and layers[name]["train_agreement"] >= 0.97, layers[name]
    assert layers[readout]["v_rel_rms_error"] < 0.1
