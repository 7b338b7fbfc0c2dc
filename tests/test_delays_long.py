"""Delays beyond one stage's reach: 1000+ ticks on SpiNNaker (chained delay-extension stages) and
5000+ steps on RRAM (chained digital delay buffers); the backend equals the reference and the float model."""
from __future__ import annotations

import numpy as np
import pytest

import spikec
from spikec.backends.reference.spinnaker_executor import run_network
from spikec.backends.rram import run as run_rram
from spikec.compiler.quantise_delays import delay_limits
from spikec.compiler.target import load_target, parse_target
from spikec.ir.errors import CompileError
from spikec.ir.graph import Graph
from spikec.ir.nodes import Delay, Input, Output

from test_delays import DT, coincidence_lif, delay_linear_net


def delay_net(steps: np.ndarray) -> Graph:
    n = len(steps)
    nodes = {"in": Input(shape=(n,)), "dl": Delay(delay=np.asarray(steps, float) * DT), "o": coincidence_lif(n), "out": Output(shape=(n,))}
    return Graph(nodes, [("in", "dl"), ("dl", "o"), ("o", "out")])


def spikes(steps: int, n: int, seed: int, rate: float = 0.01) -> np.ndarray:
    x = (np.random.default_rng(seed).random((steps, n)) < rate).astype(float)
    x[:5] = 1  # every element spikes early, so every delay shows
    return x


def test_spinnaker_chains_extension_stages_past_1000_ticks_and_the_machine_equals_the_reference():
    limits = delay_limits(load_target("spinnaker1"))
    assert limits.max_total == 31 * 33 and "max_delay_stages = 32" in limits.source
    graph = delay_linear_net(np.eye(4), np.diag([1000.0, 1023.0, 640.4, 31.0]))
    x = spikes(1100, 4, 0)
    program = spikec.compile(graph, "spinnaker1", dt_s=DT)
    stages = program.report["delays"]["stages"]
    assert max(s["stages"] for s in stages) == 32  # ceil((1023 - 31) / 31)
    compiled = program.artefacts["spinnaker"]
    ref = run_network(compiled.network, x)["out"]
    out = spikec.run(program, x, backend="spinnaker")["out"]
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(ref, spikec.simulate(graph, x, dt_s=DT)["out"])
    fired = np.flatnonzero(ref[:, 1])
    assert fired[0] == 1023 and ref[:1000, 0].sum() == 0 and ref[1000, 0] == 1


def test_rram_chains_delay_buffers_past_5000_steps_and_the_backend_equals_the_float_model():
    steps = np.array([5000.0, 9000.4, 4096.0, 3.0])
    graph = delay_net(steps)
    x = spikes(9100, 4, 1, rate=0.002)
    program = spikec.compile(graph, "rram-512", dt_s=DT)
    buffers = [n for n, node in program.graph.items() if isinstance(node, Delay)]
    assert len(buffers) == 3  # 9000 steps = 4096 + 4096 + 808
    for name in buffers:
        assert np.rint(program.graph.nodes[name].delay / DT).max() <= 4096
    assert program.report["delays"]["stages"][0]["stages"] == 2
    out = run_rram(program, x, ideal=True)["out"]
    ref = spikec.run(program, x)["out"]
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out, spikec.simulate(graph, x, dt_s=DT)["out"])
    assert out[:5000, 0].sum() == 0 and out[5000, 0] == 1 and out[9000, 1] == 1


def test_rram_delay_linear_taps_longer_than_a_buffer_are_chained_too():
    graph = delay_linear_net(np.array([[1.0, 1.0]]), np.array([[6000.0, 2.0]]))
    x = spikes(6100, 2, 2, rate=0.001)
    program = spikec.compile(graph, "rram-512", dt_s=DT)
    np.testing.assert_array_equal(run_rram(program, x, ideal=True)["out"], spikec.simulate(graph, x, dt_s=DT)["out"])


@pytest.mark.parametrize("target,steps", [("spinnaker1", 1024), ("rram-512", 65537)])
def test_one_step_past_the_chain_names_node_delay_limit_and_figure(target, steps):
    with pytest.raises(CompileError) as info:
        spikec.compile(delay_net(np.array([steps, 1.0])), target, dt_s=DT)
    err, text = info.value, str(info.value)
    assert err.value == steps and err.limit == steps - 1 and err.node == "dl"
    assert f"{steps} steps" in text and "max_delay_stages" in text and f"{target}.toml" in text


def test_the_chain_follows_the_config_figure():
    text = load_target("spinnaker1").source_text.replace("max_delay_stages = 32", "max_delay_stages = 2")
    target = parse_target(text, "short.toml")
    assert delay_limits(target).max_total == 93
    with pytest.raises(CompileError, match="max_delay_stages = 2"):
        spikec.compile(delay_net(np.array([94.0])), target, dt_s=DT)
    program = spikec.compile(delay_net(np.array([93.0])), target, dt_s=DT)
    x = spikes(120, 1, 3)
    np.testing.assert_array_equal(spikec.run(program, x, backend="spinnaker")["out"], spikec.simulate(delay_net(np.array([93.0])), x, dt_s=DT)["out"])
