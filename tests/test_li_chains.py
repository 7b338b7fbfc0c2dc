"""LI chains: an LI of one tau commutes with the bias-free matrix behind it (``compiler/li_chains.py``).

Rockpool's ``ExpSyn -> Linear -> ExpSyn`` (tests/models, rockpool-test-expsyn) becomes ``Linear -> LI -> LI``,
a pair Loihi and SpiNNaker fuse. The rewrite must be exact in float and must leave every other shape alone.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import spikec
from spikec.compiler.li_chains import commute_uniform_lis, li_chain_pairs
from spikec.ir.graph import Graph
from spikec.ir.nodes import LI, Affine, Input, Linear, Output


def expsyn_chain(seed: int, n_in: int = 3, n_a: int = 6, n_b: int = 4, tau_a=None, bias=None, sparse: bool = False,
                 extra_edges: tuple = ()) -> Graph:
    rng = np.random.default_rng(seed)
    w1, w2 = rng.normal(0, 1, (n_a, n_in)), rng.normal(0, 1, (n_b, n_a)) * (rng.random((n_b, n_a)) < 0.6)
    w2_node = Linear(weight=sp.csr_array(w2) if sparse else w2) if bias is None else Affine(weight=w2, bias=bias)
    nodes = {"in": Input(shape=(n_in,)), "w1": Linear(weight=w1),
             "a": LI(tau=np.full(n_a, 0.02) if tau_a is None else tau_a, r=rng.uniform(0.5, 2.0, n_a), v_leak=rng.normal(0, 0.3, n_a)),
             "w2": w2_node, "b": LI(tau=rng.uniform(0.005, 0.03, n_b), r=rng.uniform(0.5, 2.0, n_b), v_leak=rng.normal(0, 0.3, n_b)),
             "out": Output(shape=(n_b,))}
    for name, node in dict(extra_edges and {"out2": Output(shape=(n_a,))}).items():
        nodes[name] = node
    edges = (("in", "w1"), ("w1", "a"), ("a", "w2"), ("w2", "b"), ("b", "out")) + tuple(extra_edges)
    return Graph(nodes, edges, {"dt_s": 1e-3})


def spikes(n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((80, n)) < 0.4).astype(np.float64)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("form", ["linear", "affine-zero-bias", "csr"])
def test_the_commuted_chain_is_the_same_in_float_and_makes_a_pair(seed: int, form: str) -> None:
    graph = expsyn_chain(seed, bias=np.zeros(4) if form == "affine-zero-bias" else None, sparse=form == "csr")
    moved = commute_uniform_lis(graph)
    assert sorted(e for e in moved.edges if "w2" in e) == [("w1", "w2"), ("w2", "a")] and ("a", "b") in moved.edges
    assert moved.nodes["a"].metadata["spikec.commuted_past"] == "w2" and li_chain_pairs(moved) == {"b": "a"}
    x = spikes(3, seed)
    want, got = spikec.simulate(graph, x, 1e-3)["out"], spikec.simulate(moved, x, 1e-3)["out"]
    assert np.abs(want).max() > 0.1
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("case", ["two taus", "a bias", "a is read out"])
def test_an_inexact_or_shared_chain_is_left_alone(case: str) -> None:
    graph = {"two taus": lambda: expsyn_chain(0, tau_a=np.linspace(0.01, 0.02, 6)),
             "a bias": lambda: expsyn_chain(0, bias=np.full(4, 0.1)),  # W v + b starts at b, an LI at 0
             "a is read out": lambda: expsyn_chain(0, extra_edges=(("a", "out2"),))}[case]()
    assert commute_uniform_lis(graph) is graph


@pytest.mark.parametrize("target", ["loihi2", "spinnaker1"])
def test_the_commuted_chain_compiles_where_the_voltage_was_refused(target: str) -> None:
    graph = expsyn_chain(1)
    if target == "loihi2":  # Loihi has no bias into u: a first LI's leak is its steady state in v (docs/loihi.md)
        graph = graph.replace_nodes({n: graph.nodes[n].replace(v_leak=np.zeros_like(graph.nodes[n].v_leak)) for n in ("a", "b")})
    program = spikec.compile(graph, target, fidelity_steps=0)
    assert ("commute-lis", "LI 'a' past 'w2'") in [(r.name, r.summary) for r in program.pass_log]
    x = spikes(3, 2)
    (ref,) = spikec.run(program, x, backend="reference").values()
    if target == "spinnaker1":  # the event machine runs the fused cuba_li population exactly as the reference
        (got,) = spikec.run(program, x, backend="spinnaker").values()
        np.testing.assert_array_equal(got, ref)
    want = spikec.simulate(graph, x, 1e-3)["out"]
    scale = np.sum(ref * want, axis=0) / np.sum(want * want, axis=0)  # Loihi reports raw v, per neuron's scale
    bound = 1e-3 if target == "spinnaker1" else 0.06  # measured 1e-4 and 2-5 % (8-bit weights)
    assert np.all(np.abs(ref / scale - want).max(axis=0) < bound * np.abs(want).max(axis=0))


def test_loihi_warns_where_a_fused_current_leaks() -> None:
    leaky, quiet = expsyn_chain(1), expsyn_chain(1)
    quiet = quiet.replace_nodes({"a": quiet.nodes["a"].replace(v_leak=np.zeros(6))})
    warnings = lambda g: spikec.compile(g, "loihi2", fidelity_steps=0).report["quantise-loihi"]["warnings"]  # noqa: E731
    assert any("the leak of 'a' (its current) enters v's bias at its steady state" in w for w in warnings(leaky))
    assert not any("the leak of" in w for w in warnings(quiet))
