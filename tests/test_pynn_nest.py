"""The emitted PyNN script (``--emit-pynn``) on NEST against spikec's SpiNNaker reference.

NEST is an oracle spikec did not write: its ``iaf_psc_delta`` runs the same
tick as spikec's SpiNNaker LIF in float64. IF neurons (decay 1.0) round
nothing, so their spikes must be equal; LIF neurons differ by spikec's floor of
``v * decay`` (at most one LSB per tick), and the docs state the bound this test
asserts (``docs/toolchains.md``).
"""
from __future__ import annotations

import json
import py_compile

import numpy as np
import pytest
from click.testing import CliRunner

import spikec
from spikec.backends import toolenvs
from spikec.backends.pynn.emit import DATA_NAME, SCRIPT_NAME, network_arrays, write_pynn_script
from spikec.backends.pynn.runner import run_pynn
from spikec.verification.pynn_agreement import agreement, reference_rasters
from spikec.backends.reference.spinnaker_executor import network_of
from spikec.cli.compile_cmd import compile_command
from spikec.verification.random_graphs import GraphSpec, random_graph, random_input
from spikec.ir.errors import CompileError
from spikec.ir.graph import Graph
from spikec.ir.nodes import IF, LI, LIF, Affine, CubaLIF, Input, Linear, Output

DT = 1e-3
#: LIF on NEST vs spikec (docs/toolchains.md): at least this fraction of spikes at the same step
LIF_MATCHED_FRACTION = 0.98
#: LI read-outs: |v_nest - v_spikec| at most this fraction of the trace's largest |v|
LI_RELATIVE_V = 1e-3

needs_nest = pytest.mark.skipif(not toolenvs.works(toolenvs.ENVS["nest"]),
                                reason="NEST not installed: run `python -m spikec.backends.pynn --setup`")


def network(seed: int, kinds: tuple[str, ...], sizes: tuple[int, ...], bias: bool = False, recurrent: bool = False,
            reset: str = "zero") -> Graph:
    rng = np.random.default_rng(seed)
    nodes = {"in": Input(shape=(sizes[0],))}
    edges, prev = [], "in"
    for i, (kind, n) in enumerate(zip(kinds, sizes[1:])):
        w = rng.normal(0.3, 1.0, (n, sizes[i])) * (8 / np.sqrt(sizes[i])) * (rng.random((n, sizes[i])) < 0.5)
        nodes[f"w{i}"] = Affine(weight=w, bias=rng.normal(0, 0.05, n)) if bias else Linear(weight=w)
        if kind == "IF":
            nodes[f"l{i}"] = IF(r=np.ones(n), v_threshold=np.full(n, 2.0), v_reset=np.zeros(n), reset=reset)
        elif kind == "LIF":
            nodes[f"l{i}"] = LIF(tau=rng.uniform(5e-3, 20e-3, n), r=np.ones(n), v_leak=np.zeros(n),
                                 v_threshold=np.ones(n), v_reset=np.zeros(n), reset=reset)
        elif kind == "CubaLIF":
            nodes[f"l{i}"] = CubaLIF(tau_syn=np.full(n, 5e-3), tau_mem=np.full(n, 1e-2), r=np.ones(n), v_leak=np.zeros(n),
                                     v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.ones(n))
        else:
            nodes[f"l{i}"] = LI(tau=np.full(n, 1e-2), r=np.ones(n), v_leak=np.zeros(n))
        edges += [(prev, f"w{i}"), (f"w{i}", f"l{i}")]
        if recurrent and i == 0:
            nodes["rec"] = Linear(weight=rng.normal(0, 0.5, (n, n)))
            edges += [(f"l{i}", "rec"), ("rec", f"l{i}")]
        prev = f"l{i}"
    nodes["out"] = Output(shape=(sizes[-1],))
    edges.append((prev, "out"))
    return Graph(nodes, tuple(edges), {"dt_s": DT})


def spikes(seed: int, steps: int, n: int, batch: int = 1, rate: float = 0.2) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, n)) < rate).astype(np.float64)


def test_emitted_network_holds_the_programs_integers(tmp_path):
    program = spikec.compile(network(0, ("IF", "LIF"), (12, 9, 5), bias=True, recurrent=True), "spinnaker1")
    folder = write_pynn_script(program, tmp_path / "pynn")
    py_compile.compile(str(folder / SCRIPT_NAME), doraise=True)
    data = np.load(folder / DATA_NAME)
    meta = json.loads(str(data["meta"]))
    net = network_of(program)
    assert meta["dt_ms"] == pytest.approx(1.0)
    assert [p["name"] for p in meta["populations"]] == [p.name for p in net.populations]
    for spec, proj in zip(meta["projections"], net.projections):  # weight in mV = +-raw << shift / scale
        post = net.population(proj.post).params
        shift = np.where(proj.synapse_type == 0, post.shift[0], post.shift[1])
        raw = np.rint(np.abs(data[f"{spec['key']}.weight"]) * post.scale / np.exp2(shift)).astype(np.int64)
        np.testing.assert_array_equal(raw, proj.weight)
        np.testing.assert_array_equal(data[f"{spec['key']}.weight"] < 0, proj.synapse_type == 1)
        assert spec["delay_ticks"] == proj.delay
    l0 = net.population("l0").params
    np.testing.assert_array_equal(data["v_thresh.l0"] * l0.scale, l0.v_thresh)
    assert meta["biases"] and all(b["first_tick"] >= 1 for b in meta["biases"])
    assert data["input.in"].shape == (100, 12) and set(np.unique(data["input.in"])) <= {0, 1}


def test_cli_emit_pynn_writes_the_folder(tmp_path):
    model = tmp_path / "m.nir"
    spikec.save_nir(network(1, ("LIF",), (6, 4)), model)
    result = CliRunner().invoke(compile_command, [str(model), "--target", "spinnaker1", "--emit-pynn", str(tmp_path / "out"), "--fidelity-steps", "0"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / SCRIPT_NAME).exists() and (tmp_path / "out" / DATA_NAME).exists()
    refused = CliRunner().invoke(compile_command, [str(model), "--target", "loihi2", "--emit-pynn", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "needs a SpiNNaker target" in refused.output


@pytest.mark.parametrize("kind, reset, parameter", [("CubaLIF", "zero", "model"), ("LIF", "subtract", "reset")])
def test_cells_pynn_cannot_express_are_refused_by_name(kind, reset, parameter):
    program = spikec.compile(network(2, (kind,), (5, 3), reset=reset), "spinnaker1")
    with pytest.raises(CompileError) as err:
        network_arrays(network_of(program))
    assert err.value.node == "l0" and err.value.parameter == parameter



def test_a_fused_li_chain_is_refused_by_name_like_cuba_lif():
    """cuba_li (Norse's LICell: current then membrane in one tick) has CubaLIF's arithmetic, which no PyNN cell has."""
    n = 4
    li = LI(tau=np.full(n, 5e-3), r=np.ones(n), v_leak=np.zeros(n))
    graph = Graph({"in": Input(shape=(n,)), "w": Linear(weight=np.eye(n)), "syn": li, "mem": li, "out": Output(shape=(n,))},
                  (("in", "w"), ("w", "syn"), ("syn", "mem"), ("mem", "out")), {"dt_s": DT})
    with pytest.raises(CompileError, match="fused LI -> LI chain") as err:
        network_arrays(network_of(spikec.compile(graph, "spinnaker1")))
    assert err.value.node == "mem" and err.value.parameter == "model"

@needs_nest
def test_nest_spikes_equal_spikec_on_if_networks_with_bias_and_recurrence():
    program = spikec.compile(network(3, ("IF", "IF", "IF"), (16, 24, 20, 8), bias=True, recurrent=True), "spinnaker1")
    x = spikes(3, 60, 16)
    nest, ref = run_pynn(program, x), reference_rasters(program, x)
    assert set(ref) <= set(nest)
    for pop in ref:
        np.testing.assert_array_equal(nest[pop], ref[pop])
    assert sum(int(r.sum()) for r in ref.values()) > 100, "a network that never spikes proves nothing"


@needs_nest
def test_nest_agrees_with_spikec_on_random_lif_graphs_within_the_stated_bound():
    spec = GraphSpec.small().with_(neuron_types=("LIF", "IF"), readout_types=("LI", "LIF", "IF"), resets=("zero",),
                                   p_reset_delay=0.0, p_reset_recheck=0.0, p_conv=0.0, dt_s=(1e-3,), steps=60)
    total = matched = 0
    for seed in (0, 1):
        graph = random_graph(seed, spec)
        program = spikec.compile(graph, "spinnaker1")
        x = random_input(graph, seed)
        nest, ref = run_pynn(program, x), reference_rasters(program, x)
        for pop, r in ref.items():
            if pop.startswith("v."):
                bound = LI_RELATIVE_V * max(float(np.abs(r).max()), 1e-9)
                assert float(np.abs(nest[pop] - r).max()) <= bound, pop
                continue
            a = agreement(r, nest[pop])
            total += max(a.spikes_a, a.spikes_b)
            matched += round(a.matched_fraction * max(a.spikes_a, a.spikes_b))
    assert total > 50
    assert matched / total >= LIF_MATCHED_FRACTION


def test_a_missing_tool_says_in_one_line_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEC_NEST_VENV", str(tmp_path / "nowhere"))
    monkeypatch.setattr(toolenvs, "_in_this_interpreter", lambda env: False)
    with pytest.raises(toolenvs.ToolEnvironmentError) as err:
        toolenvs.ensure("nest")
    message = str(err.value)
    assert "\n" not in message and "python -m spikec.backends.toolenvs nest" in message


@needs_nest
def test_nest_differs_exactly_where_spikec_floors_the_decay():
    """decay 0.5, bias b LSB per tick: spikec's floor settles at 2b - 1, NEST's float64 reaches 2b (after ~53 ticks)."""
    import dataclasses

    net = network_of(spikec.compile(network(5, ("LIF",), (2, 3)), "spinnaker1"))
    b = 1 << 20
    params = dataclasses.replace(net.population("l0").params, decay_v=np.full(3, 1 << 14), bias_start=(0,),
                                 bias_v=np.full((1, 3), b), bias_j=np.zeros((1, 3)),
                                 v_thresh=np.array([2 * b, 2 * b - 1, 2 * b + 1]))
    net = dataclasses.replace(net, populations=tuple(dataclasses.replace(p, params=params) if p.name == "l0" else p
                                                     for p in net.populations))
    x = np.zeros((120, 1, 2))
    nest, ref = run_pynn(net, x)["l0"][:, 0], reference_rasters(net, x)["l0"][:, 0]
    assert ref[:, 0].sum() == 0 and nest[:, 0].sum() >= 1  # threshold 2b: only float64 gets there
    np.testing.assert_array_equal(nest[:, 1:], ref[:, 1:])  # 2b - 1 (reached by both) and 2b + 1 (by neither)
    assert ref[:, 1].sum() >= 4 and ref[:, 2].sum() == 0
