"""nn.Conv1d in the snnTorch frontend: 1-D convolutional SNNs over (C, L) frames (audio, sensor series).

The layer is NIR's Conv1d (the frontend fills its input shape from the trace). Each model is stepped by
snnTorch frame by frame on random spikes; spikec's simulation must give the same spikes, also after a
``.nir`` round trip, and each target's backend must equal its reference on the compiled program.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from test_frontend_pool1d import backend_equals_reference, check_equal  # noqa: E402
from test_frontend_snntorch import random_spikes, simulate_output  # noqa: E402

import spikec  # noqa: E402
from spikec.compiler.lower_maxpool import lower_max_pools  # noqa: E402
from spikec.frontends import from_snntorch  # noqa: E402
from spikec.ir.errors import GraphError  # noqa: E402
from spikec.ir.nodes import Conv1d  # noqa: E402

FRAME = (2, 12)


def conv1d_snn(stride: int = 1, dilation: int = 1, groups: int = 1, pool: bool = True) -> torch.nn.Module:
    """Conv1d -> Leaky [-> MaxPool1d over its spikes] -> Flatten -> Linear -> Leaky, seeded and scaled to spike."""
    torch.manual_seed(7)
    conv = torch.nn.Conv1d(2, 4, 3, stride=stride, padding=1, dilation=dilation, groups=groups)
    with torch.no_grad():
        conv.weight.mul_(4.0)
    channels, length = conv(torch.zeros(1, *FRAME)).shape[1:]
    n = channels * (length // 2 if pool else length)
    layers = [conv, snn.Leaky(beta=0.8, init_hidden=True)] + ([torch.nn.MaxPool1d(2)] if pool else []) + [torch.nn.Flatten()]
    fc = torch.nn.Linear(n, 3)
    with torch.no_grad():
        fc.weight.mul_(10.0)
    return torch.nn.Sequential(*layers, fc, snn.Leaky(beta=0.8, init_hidden=True))


@pytest.mark.parametrize("options", [{}, {"stride": 2}, {"dilation": 2}, {"groups": 2}, {"pool": False}], ids=str)
def test_a_conv1d_snn_equals_snntorch_and_survives_a_nir_file(options, tmp_path) -> None:
    graph = check_equal(conv1d_snn(**options), FRAME)
    (conv,) = [n for n in graph.nodes.values() if isinstance(n, Conv1d)]
    assert tuple(conv.input_shape) == (12,) and np.shape(conv.weight) == (4, 2 // options.get("groups", 1), 3)
    saved = lower_max_pools(graph)
    spikec.save_nir(saved, tmp_path / "net.nir")
    again = spikec.load_nir(tmp_path / "net.nir")
    assert saved.same_as(again)
    x = random_spikes(FRAME, p=0.4, seed=1)
    np.testing.assert_array_equal(simulate_output(again, x), simulate_output(graph, x))


@pytest.mark.parametrize("target", ["spinnaker1", "rram-512"])
def test_a_conv1d_snn_compiles_and_the_backend_equals_the_reference(target: str) -> None:
    program = spikec.compile(from_snntorch(conv1d_snn(), torch.zeros(*FRAME)), target, fidelity_steps=0)
    backend_equals_reference(program, random_spikes(FRAME, p=0.4)[:40])


def test_a_conv1d_snn_on_loihi_keeps_the_float_spike_counts() -> None:
    """Lava's bit-for-bit run is tests/test_lava_backend.py's; here the fixed-point reference against float:
    8-bit weights move single spikes by a step or two, so per-neuron counts are compared (as the fidelity report does)."""
    graph = from_snntorch(conv1d_snn(), torch.zeros(*FRAME))
    program = spikec.compile(graph, "loihi2", fidelity_steps=0)
    x = random_spikes(FRAME, p=0.4)[:40]
    (spikes,) = spikec.run(program, x, backend="reference").values()
    (float_spikes,) = spikec.simulate(graph, x, program.dt_s).values()
    counts, float_counts = spikes.sum(axis=0), float_spikes.sum(axis=0)
    assert float_counts.sum() > 0.1 * float_spikes.size
    assert np.abs(counts - float_counts).max() <= 2, (counts, float_counts)


def test_a_circular_padding_conv1d_is_refused_naming_it() -> None:
    net = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3, padding=1, padding_mode="circular"), snn.Leaky(beta=0.8, init_hidden=True))
    with pytest.raises(GraphError, match="Conv1d padding_mode 'circular' is not supported") as err:
        from_snntorch(net, torch.zeros(*FRAME))
    assert err.value.node == "0"
