"""The pass pipeline: explains itself, stops after a named pass, names the failing pass,
and the feasibility check lists every broken limit at once."""
from pathlib import Path

import numpy as np
import pytest

from spikec.api import compile as compile_graph, explain
from spikec.compiler.target import load_target
from spikec.ir.errors import CompileError, ConfigError
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, CubaLIF, Input, Linear, Output


def chain(n=6, n_in=4, tau=2e-3, **neuron):
    rng = np.random.default_rng(0)
    lif = LIF(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 0.5), v_reset=np.zeros(n), **neuron)
    nodes = {"in": Input(shape=(n_in,)), "fc": Linear(weight=rng.standard_normal((n, n_in))), "lif": lif, "out": Output(shape=(n,))}
    return Graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")])


def test_explain_lists_every_pass_in_order():
    text = explain("loihi2")
    names = ["lower-max-pools", "commute-lis", "normalise", "discretise", "feasibility", "quantise-loihi"]
    positions = [text.index(n) for n in names]
    assert positions == sorted(positions) and "loihi2" in text


def test_stop_after_a_pass_returns_the_graph_as_it_stood():
    program = compile_graph(chain(), "loihi2", dt_s=1e-4, dump_after="discretise")
    assert program.family == "float" and program.graph.metadata["dt_s"] == 1e-4
    assert [r.name for r in program.pass_log] == ["lower-max-pools", "commute-lis", "normalise", "discretise"]
    with pytest.raises(ConfigError, match="no pass named 'quantise'.*quantise-loihi"):
        compile_graph(chain(), "loihi2", dt_s=1e-4, dump_after="quantise")


def test_failure_names_the_pass_and_the_passes_before_it():
    with pytest.raises(CompileError, match=r"pass 'discretise' failed \(after: lower-max-pools, commute-lis, normalise\).*node 'lif'.*lower dt"):
        compile_graph(chain(tau=1e-5), "loihi2", dt_s=1e-4)


def test_per_neuron_time_constants_become_one_population_per_decay():
    graph = chain()
    graph = graph.replace_nodes({"lif": graph.nodes["lif"].replace(tau=np.linspace(1e-3, 5e-3, 6))})
    program = compile_graph(graph, "loihi2", dt_s=1e-4)
    assert program.report["split-populations"]["layers"]["lif"]["populations"] == 6
    assert "split-populations" in explain("loihi2")


def test_too_many_decays_with_clustering_off_name_the_layer_the_count_and_the_limit(tmp_path):
    text = Path(load_target("loihi2").source_path).read_text()
    text = text.replace("decay_configs_per_core = 32", "decay_configs_per_core = 4").replace("decay_clustering = true", "decay_clustering = false")
    (tmp_path / "t.toml").write_text(text)
    graph = chain()
    graph = graph.replace_nodes({"lif": graph.nodes["lif"].replace(tau=np.linspace(1e-3, 5e-3, 6))})
    with pytest.raises(CompileError, match=r"node 'lif': distinct \(du, dv\) decay profiles after quantisation = 6, limit 4; fix: set decay_clustering"):
        compile_graph(graph, tmp_path / "t.toml", dt_s=1e-4)


def test_per_neuron_thresholds_share_one_vth_through_per_neuron_scales():
    graph = chain()
    graph = graph.replace_nodes({"lif": graph.nodes["lif"].replace(v_threshold=np.linspace(0.2, 2.0, 6))})
    program = compile_graph(graph, "loihi2", dt_s=1e-4, fidelity_steps=200)
    pop = program.graph.nodes["lif"]
    np.testing.assert_allclose(pop.vth * 64 / pop.v_scale, np.linspace(0.2, 2.0, 6))
    assert program.fidelity["layers"]["lif"]["count_agreement"] > 0.9


def test_feasibility_lists_every_broken_limit_at_once(tmp_path):
    text = Path(load_target("loihi2").source_path).read_text()
    for old, new in (("cores_per_chip = 128", "cores_per_chip = 1"), ("neurons_per_core = 8192", "neurons_per_core = 2"),
                     ("max_fan_in = 4096", "max_fan_in = 3"), ("max_fan_out = 4096", "max_fan_out = 5")):
        text = text.replace(old, new)
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(text)
    with pytest.raises(CompileError) as err:
        compile_graph(chain(n=6, n_in=4), tiny, dt_s=1e-4)
    message = str(err.value)
    assert "pass 'feasibility' failed" in message and "3 hardware limits" in message
    assert "cores needed" in message and "limit 1" in message and "raise [limits] chips" in message
    assert "node 'lif': fan-in" in message and "limit 3" in message
    assert "node 'in': fan-out" in message and "limit 5" in message


def test_unknown_backend_is_a_clear_error():
    from spikec.api import run

    program = compile_graph(chain(), "loihi2", dt_s=1e-4, fidelity_steps=0)
    with pytest.raises(CompileError, match="unknown backend 'nosuch'"):
        run(program, np.zeros((3, 4)), backend="nosuch")


def test_weights_too_large_for_any_integer_threshold_are_a_feasibility_error():
    graph = chain()
    graph = graph.replace_nodes({"fc": Linear(weight=np.full((6, 4), 1e9))})
    with pytest.raises(CompileError, match=r"pass 'feasibility'.*node 'lif': largest integer threshold.*limit 1.*lower the weights"):
        compile_graph(graph, "loihi2", dt_s=1e-4)


def test_report_states_worst_case_use_of_each_bit_width():
    program = compile_graph(chain(), "loihi2", dt_s=1e-4, fidelity_steps=0)
    layer = program.report["quantise-loihi"]["layers"]["lif"]
    assert set(layer["worst_case_use"]) == {"activation", "u", "v"}
    assert max(layer["worst_case_use"].values()) <= 1.0 and layer["saturation_risk"] is False
    assert max(layer["worst_case_use"].values()) > 0.5  # the scale uses the bits it has
