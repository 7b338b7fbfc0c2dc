"""NIR -> spikec -> NIR round trips, on the real graphs of the NIR paper."""
from __future__ import annotations

import nir
import numpy as np
import pytest

import spikec
from spikec.ir import GraphError, from_nir, infer_shapes, to_nir
from spikec.ir.nodes import CubaLIF, LIF

from conftest import NIR_PAPER

FILES = sorted(p.name for p in NIR_PAPER.glob("*.nir"))


def nir_nodes_equal(a, b) -> bool:
    if type(a) is not type(b):
        return False
    for key, value in vars(a).items():
        if key in ("metadata",):
            continue
        other = vars(b)[key]
        if isinstance(value, dict):  # input_type / output_type
            if value.keys() != other.keys() or not all(np.array_equal(value[k], other[k]) for k in value):
                return False
        elif isinstance(value, np.ndarray) or isinstance(other, np.ndarray):
            if not np.array_equal(np.asarray(value), np.asarray(other)):
                return False
        elif value != other:
            return False
    return True


def test_fixture_folder_has_the_paper_graphs():
    assert {"braille_noDelay_bias_zero.nir", "cnn_sinabs.nir", "lif_norse.nir"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_nir_to_spikec_to_nir_is_equal(name):
    original = nir.read(str(NIR_PAPER / name))
    back = to_nir(from_nir(original))
    assert set(back.nodes) == set(original.nodes)
    assert sorted(back.edges) == sorted(original.edges)
    for key, node in original.nodes.items():
        assert nir_nodes_equal(node, back.nodes[key]), key


@pytest.mark.parametrize("name", FILES)
def test_file_round_trip_keeps_graph_and_reset_mode(name, tmp_path):
    graph = spikec.load_nir(NIR_PAPER / name, reset="subtract")
    path = tmp_path / "g.nir"
    spikec.save_nir(graph, path)
    again = spikec.load_nir(path)  # default reset "zero": the file's metadata must win
    assert graph.same_as(again)
    for node in again.nodes.values():
        if isinstance(node, (LIF, CubaLIF)):
            assert node.reset == "subtract"


def test_from_nir_does_not_touch_its_argument():
    original = nir.read(str(NIR_PAPER / "lif_norse.nir"))
    before = {k: id(v) for k, v in original.nodes.items()}
    graph = from_nir(original)
    graph_node = graph.nodes["1"]
    assert {k: id(v) for k, v in original.nodes.items()} == before
    assert not graph_node.tau.flags.writeable


def test_nested_subgraphs_are_flattened_with_stable_names():
    w = np.eye(3)
    inner = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([3])),
            "lin": nir.Linear(weight=w),
            "lif": nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3), v_reset=np.zeros(3)),
            "output": nir.Output(np.array([3])),
        },
        edges=[("input", "lin"), ("lin", "lif"), ("lif", "output")],
    )
    outer = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([3])), "block": inner, "out": nir.Output(np.array([3]))},
        edges=[("in", "block"), ("block", "out")],
    )
    graph = from_nir(outer)
    assert set(graph.nodes) == {"in", "block.lin", "block.lif", "out"}
    assert sorted(graph.edges) == sorted([("in", "block.lin"), ("block.lin", "block.lif"), ("block.lif", "out")])
    assert infer_shapes(graph)["block.lif"] == ((3,), (3,))


def test_unreadable_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(GraphError, match="cannot read .*bad.nir as NIR"):
        spikec.load_nir(bad)
