"""MaxPool2d: exact in float (torch's -inf padding), an OR over spikes on hardware, refused over currents.

The float executor is compared with ``torch.nn.functional.max_pool2d`` on
random values; snnTorch CNNs with MaxPool2d (after the neuron, and the tutorial
form before it) are compared with snnTorch stepped frame by frame.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from test_frontend_snntorch import linear, random_spikes, run_snntorch, simulate_output  # noqa: E402

import spikec  # noqa: E402
from spikec.backends.reference import float_ops  # noqa: E402
from spikec.compiler.lower_maxpool import lower_max_pools  # noqa: E402
from spikec.frontends import from_snntorch  # noqa: E402
from spikec.ir.errors import CompileError, GraphError  # noqa: E402
from spikec.ir.nodes import IF, MaxPool2d, SumPool2d  # noqa: E402

TARGETS = ["loihi2", "spinnaker1", "rram-512"]


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), ((3, 2), (1, 2), (1, 0)), (3, 1, 1)])
def test_float_max_pool_equals_torch_including_padding(kernel, stride, padding) -> None:
    x = np.random.default_rng(0).normal(size=(3, 4, 9, 8)) - 2.0  # mostly negative: -inf padding matters
    expected = torch.nn.functional.max_pool2d(torch.as_tensor(x), kernel, stride, padding).numpy()
    k, s, p = (tuple(np.broadcast_to(v, 2).tolist()) for v in (kernel, stride, padding))
    np.testing.assert_array_equal(float_ops.max_pool2d(x, k, s, p), expected)


def conv(c_in: int, c_out: int, seed: int) -> torch.nn.Conv2d:
    torch.manual_seed(seed)
    layer = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
    with torch.no_grad():
        layer.weight.mul_(3.0)
    return layer


def pool_after_neuron(padding: int = 0) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        conv(2, 4, 1), snn.Leaky(beta=0.8, init_hidden=True), torch.nn.MaxPool2d(2 + padding, 2, padding),
        torch.nn.Flatten(), linear(4 * 16, 5, 1.0), snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )


def tutorial_cnn() -> torch.nn.Sequential:
    """snnTorch tutorial 6's form (snntorch/docs/tutorials/tutorial_6.rst): Conv2d -> MaxPool2d -> Leaky."""
    return torch.nn.Sequential(
        conv(2, 4, 2), torch.nn.MaxPool2d(2), snn.Leaky(beta=0.8, init_hidden=True),
        torch.nn.Flatten(), linear(4 * 16, 5, 3.0), snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )


@pytest.mark.parametrize("make", [pool_after_neuron, lambda: pool_after_neuron(1), tutorial_cnn])
def test_snntorch_cnn_with_max_pool_matches_snntorch(make) -> None:
    net = make()
    x = random_spikes((2, 8, 8), p=0.4)
    expected = run_snntorch(net, x)
    assert expected.sum() > 0.02 * expected.size
    graph = from_snntorch(net, torch.zeros(2, 8, 8))
    assert isinstance(graph.nodes["2" if isinstance(net[2], torch.nn.MaxPool2d) else "1"], MaxPool2d)
    np.testing.assert_array_equal(simulate_output(graph, x), expected)


@pytest.mark.parametrize("padding", [0, 1])
def test_max_over_spikes_lowers_to_an_exact_or(padding: int) -> None:
    net = pool_after_neuron(padding)
    graph = from_snntorch(net, torch.zeros(2, 8, 8))
    lowered = lower_max_pools(graph)
    assert isinstance(lowered.nodes["2"], SumPool2d) and isinstance(lowered.nodes["2.or"], IF)
    assert not any(isinstance(n, MaxPool2d) for n in lowered.nodes.values())
    x = random_spikes((2, 8, 8), p=0.4)
    np.testing.assert_array_equal(simulate_output(lowered, x), simulate_output(graph, x))
    # the OR unit carries the signal: an AND-like threshold instead changes the output
    broken = lowered.replace_nodes({"2.or": lowered.nodes["2.or"].replace(v_threshold=np.full((4, 4, 4), 1.5))})
    assert np.mean(simulate_output(broken, x) != simulate_output(graph, x)) > 0.002


@pytest.mark.parametrize("target", TARGETS)
def test_every_pipeline_starts_with_the_max_pool_lowering_and_can_stop_after_it(target: str) -> None:
    graph = from_snntorch(pool_after_neuron(), torch.zeros(2, 8, 8))
    program = spikec.compile(graph, target, dump_after="lower-max-pools", fidelity_steps=0)
    assert [(r.name, r.summary) for r in program.pass_log] == [("lower-max-pools", "1 max-pool as sum-pool -> IF")]
    assert program.graph.same_as(lower_max_pools(graph))


def test_max_over_input_spikes_through_flatten_free_path_lowers() -> None:
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.MaxPool2d(2), torch.nn.Flatten(), linear(2 * 16, 6, 3.0), snn.Leaky(beta=0.9, init_hidden=True))
    graph = from_snntorch(net, torch.zeros(2, 8, 8))
    x = random_spikes((2, 8, 8), p=0.2)
    np.testing.assert_array_equal(simulate_output(lower_max_pools(graph), x), run_snntorch(net, x))


@pytest.mark.parametrize("target", TARGETS)
def test_max_over_spikes_compiles_for_every_target_and_its_backend_equals_its_reference(target: str) -> None:
    program = spikec.compile(from_snntorch(pool_after_neuron(), torch.zeros(2, 8, 8)), target, fidelity_steps=0)
    x = random_spikes((2, 8, 8), p=0.4)[:40, :2]
    (reference,) = spikec.run(program, x, backend="reference").values()
    assert reference.sum() > 0
    # Lava runs in its own slow process (tests/test_lava_backend.py); the RRAM backend is analog (device noise)
    if target == "spinnaker1":
        (native,) = spikec.run(program, x, backend="spinnaker").values()
        np.testing.assert_array_equal(native, reference)


@pytest.mark.parametrize("target", TARGETS)
def test_max_over_currents_is_refused_on_every_target_with_the_rewrite(target: str) -> None:
    graph = from_snntorch(tutorial_cnn(), torch.zeros(2, 8, 8))
    with pytest.raises(CompileError) as err:
        spikec.compile(graph, target, fidelity_steps=0)
    message = str(err.value)
    assert message.startswith("pass 'lower-max-pools' failed (after: none): node '1': MaxPool2d of currents (from '0', a Conv2d) "
                              "has no exact form on " + target)
    assert "pool after the neuron" in message and "AvgPool2d" in message


@pytest.mark.parametrize("module,parameter", [
    (torch.nn.MaxPool2d(2, dilation=2), "dilation"), (torch.nn.MaxPool2d(2, ceil_mode=True), "ceil_mode"),
])
def test_unsupported_max_pool_options_are_refused_naming_the_layer(module, parameter: str) -> None:
    net = torch.nn.Sequential(snn.Leaky(beta=0.9, init_hidden=True), module)
    with pytest.raises(GraphError, match=f"node '1': MaxPool2d {parameter}"):
        from_snntorch(net, torch.zeros(2, 8, 8))


def test_save_nir_refuses_a_max_pool_and_saves_its_lowered_form(tmp_path) -> None:
    graph = from_snntorch(pool_after_neuron(), torch.zeros(2, 8, 8))
    with pytest.raises(GraphError, match="node '2': MaxPool2d has no NIR 1.0.8 primitive.*lower_max_pools"):
        spikec.save_nir(graph, tmp_path / "net.nir")
    lowered = lower_max_pools(graph)
    spikec.save_nir(lowered, tmp_path / "net.nir")
    x = random_spikes((2, 8, 8), p=0.4)
    np.testing.assert_array_equal(simulate_output(spikec.load_nir(tmp_path / "net.nir"), x), simulate_output(graph, x))


def test_a_max_over_delayed_input_spikes_lowers_exactly() -> None:
    from spikec.ir.nodes import LIF, Delay, Flatten, Input, Linear, Output

    w = np.random.default_rng(1).uniform(-0.5, 1.5, size=(3, 8))
    graph = spikec.normalise(spikec.Graph({
        "input": Input(shape=(2, 4, 4)), "delay": Delay(delay=np.array(2e-3)),
        "pool": MaxPool2d(kernel_size=(2,), stride=(2,), padding=(0,)), "flat": Flatten(input_shape=None),
        "fc": Linear(weight=w), "lif": LIF(tau=np.array(5e-3), r=np.array(5.0), v_leak=np.array(0.0),
                                          v_threshold=np.array(1.0), v_reset=np.array(0.0)),
        "output": Output(),
    }, (("input", "delay"), ("delay", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "output"))))
    x = random_spikes((2, 4, 4), p=0.3)
    expected = spikec.simulate(graph, x, 1e-3)["output"]
    assert expected.sum() > 0.02 * expected.size
    np.testing.assert_array_equal(spikec.simulate(lower_max_pools(graph), x, 1e-3)["output"], expected)


def test_a_backend_called_without_the_lowering_names_it() -> None:
    from spikec.compiler.spinnaker.compile import compile_spinnaker

    graph = from_snntorch(pool_after_neuron(), torch.zeros(2, 8, 8))
    with pytest.raises(CompileError, match="node '2': MaxPool2d has no synaptic matrix.*lower_maxpool"):
        compile_spinnaker(graph, "spinnaker1")
