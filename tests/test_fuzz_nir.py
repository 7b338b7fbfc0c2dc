"""Hostile .nir files: every one loads or gives one clear SpikecError; the CLI exits 2 with one line.

A short pass runs in CI; ``SPIKEC_FUZZ_EXAMPLES=20000`` runs a long one by
hand (see docs/hostile-input.md). The seed corpus is tests/fuzz_corpus/
(``make_corpus.py``), each file with the error fragment it must produce.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spikec
from spikec.cli.main import cli
from spikec.ir import Graph, GraphError, SpikecError, normalise, read_nir
from spikec.ir.nodes import LIF, MAX_NODE_ELEMENTS, Conv2d, Flatten, Input, Linear, Output

from conftest import NIR_PAPER
from fuzz import nir_mutations as M
from fuzz.harness import DERANDOMIZE, check_cli_result, check_nir_file, examples, run_cli

CORPUS = Path(__file__).parent / "fuzz_corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
NIR_CORPUS = sorted(name for name in EXPECTED if name.endswith(".nir"))
FIXTURES = sorted(p.name for p in NIR_PAPER.glob("*.nir"))
SMALL_FIXTURES = [f for f in FIXTURES if not f.startswith("cnn")]  # the CNN is 270 kB: byte damage elsewhere is enough
_TREES: dict[str, dict] = {}


def _tree(name: str) -> dict:
    if name not in _TREES:
        _TREES[name] = M.read_tree(NIR_PAPER / name)
    return copy.deepcopy(_TREES[name])


FUZZ = settings(deadline=None, database=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def test_corpus_is_small_and_complete():
    files = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".nir", ".toml"))
    assert files == sorted(EXPECTED), "run tests/fuzz_corpus/make_corpus.py"
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 1_000_000


FOUND = sorted((CORPUS / "found").glob("atheris_vlen_heap_*.nir"))  # inputs the fuzzers found, kept as they were


@pytest.mark.parametrize("path", FOUND, ids=[p.name for p in FOUND])
def test_found_damaged_heap_is_refused_without_allocating_gigabytes(path):
    """A flipped vlen-string heap reference made libhdf5 allocate 2-4 GB before failing."""
    code = ("import sys, spikec\n"
            "try:\n    spikec.load_nir(sys.argv[1])\nexcept spikec.SpikecError as e:\n    print('ERR', e)\n"
            "print('HWM', open('/proc/self/status').read().split('VmHWM:')[1].split()[0])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120).stdout
    assert "ERR" in out and "damaged HDF5" in out, out
    peak_kb = int(out.split("HWM")[1].split()[0])
    assert peak_kb < 1_000_000, f"peak resident memory {peak_kb} kB"


@pytest.mark.parametrize("name", NIR_CORPUS)
def test_corpus_file_is_rejected_with_a_clear_error(name):
    with pytest.raises(SpikecError) as info:
        spikec.load_nir(CORPUS / name)
    message = str(info.value)
    assert EXPECTED[name] in message, message
    assert "\n" not in message
    check_nir_file(CORPUS / name)


@settings(FUZZ, max_examples=examples(120))
@given(data=st.data())
def test_mutated_graphs_load_or_give_one_clear_error(data, tmp_path_factory):
    name = data.draw(st.sampled_from(FIXTURES), label="fixture")
    tree = _tree(name)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        M.mutate(tree, data)
    path = tmp_path_factory.mktemp("nir") / "mutated.nir"
    try:
        M.write_tree(tree, path)
    except (ValueError, TypeError, KeyError, RuntimeError):  # h5py cannot store this mutation: nothing to read
        return
    check_nir_file(path)


@settings(FUZZ, max_examples=examples(60))
@given(data=st.data())
def test_damaged_files_give_one_clear_error(data, tmp_path_factory):
    name = data.draw(st.sampled_from(SMALL_FIXTURES), label="fixture")
    raw = (NIR_PAPER / name).read_bytes()
    if data.draw(st.booleans(), label="truncate"):
        raw = M.truncate(raw, data.draw(st.integers(0, len(raw)), label="length"))
    else:
        k = data.draw(st.integers(1, 16), label="flips")
        offsets = data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=k, max_size=k), label="offsets")
        bits = data.draw(st.lists(st.integers(0, 7), min_size=k, max_size=k), label="bits")
        raw = M.flip_bytes(raw, offsets, bits)
    path = tmp_path_factory.mktemp("nir") / "damaged.nir"
    path.write_bytes(raw)
    check_nir_file(path, probe=True)


# --- the command line --------------------------------------------------------------


def _cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback the user would have seen
    return result.exit_code, result.stderr


@pytest.mark.parametrize("name", NIR_CORPUS)
def test_cli_rejects_corpus_file_with_one_line_and_no_output(name, tmp_path):
    model = str(CORPUS / name)
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    y, prog = tmp_path / "y.npz", tmp_path / "prog.zip"
    for args, outputs in (
        (["inspect", model], []),
        (["inspect", model, "--json"], []),
        (["run", model, "--input", str(tmp_path / "x.npy"), "--output", str(y), "--dt", "1e-4"], [y]),
        (["compile", model, "--target", "loihi2", "-o", str(prog)], [prog]),
    ):
        status, stderr = _cli(args)
        assert status == 2, f"{args[0]} {name}: exit {status}"
        check_cli_result(status, stderr, outputs, what=f"{args[0]} {name}")
        assert EXPECTED[name] in stderr


@pytest.mark.parametrize("name", ["huge_input_shape.nir", "huge_declared_weight.nir", "huge_flatten.nir", "recursive_subgraph.nir"])
def test_cli_in_a_subprocess_under_a_memory_limit(name, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    y = tmp_path / "y.npz"
    status, _, stderr = run_cli(["run", str(CORPUS / name), "--input", str(tmp_path / "x.npy"), "--output", str(y)])
    assert status == 2, stderr
    check_cli_result(status, stderr, [y], what=name)
    assert EXPECTED[name] in stderr


def test_cli_damaged_file_leaves_no_program(tmp_path):
    raw = (NIR_PAPER / "lif_norse.nir").read_bytes()
    (tmp_path / "cut.nir").write_bytes(raw[: len(raw) // 2])
    out = tmp_path / "out.loihi2"
    status, stderr = _cli(["compile", str(tmp_path / "cut.nir"), "--target", "loihi2", "-o", str(out)])
    check_cli_result(status, stderr, [out], what="truncated file")
    assert status == 2 and "cannot read" in stderr


def test_cli_survives_a_file_that_crashes_libhdf5(tmp_path):
    """atheris: reading this damaged file segfaults libhdf5 itself (plain h5py too); the CLI probes it in a child."""
    model = str(CORPUS / "found" / "atheris_segfault.nir")
    np.save(tmp_path / "x.npy", np.zeros((3, 3)))
    y = tmp_path / "y.npz"
    for args, outputs in ((["inspect", model], []), (["run", model, "--input", str(tmp_path / "x.npy"), "--output", str(y)], [y])):
        status, _, stderr = run_cli(args)
        check_cli_result(status, stderr, outputs, what=args[0])
        assert status == 2 and "crashed" in stderr


# --- the Python API: the same limits without a file ----------------------------------


def _graph(*nodes: tuple[str, object], edges=None) -> Graph:
    names = [n for n, _ in nodes]
    return Graph(dict(nodes), edges or tuple(zip(names[:-1], names[1:])))


def test_huge_input_shape_is_refused_before_allocation():
    lif = LIF(tau=1e-2, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    g = _graph(("in", Input(shape=(10**9, 10**9))), ("lif", lif), ("out", Output(shape=(10**9, 10**9))))
    with pytest.raises(GraphError, match=f"limit is {MAX_NODE_ELEMENTS}") as info:
        spikec.simulate(g, np.zeros((1, 2)), dt_s=1e-4)
    assert info.value.node == "in" and info.value.limit == MAX_NODE_ELEMENTS


def test_huge_conv_and_flatten_are_refused_before_allocation():
    conv = Conv2d(input_shape=(10**6, 10**6), weight=np.ones((1, 1, 3, 3)), stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(1))
    g = _graph(("in", Input(shape=(1, 10**6, 10**6))), ("c", conv), ("out", Output(shape=())))
    with pytest.raises(GraphError, match="limit is"):
        normalise(g)
    flat = Flatten(input_shape=(10**7, 10**7, 10**7))
    g = _graph(("in", Input(shape=(2,))), ("f", flat), ("out", Output(shape=())))
    with pytest.raises(GraphError, match="limit is") as info:
        normalise(g)
    assert info.value.node == "f"


def test_flatten_element_count_does_not_overflow():
    """np.prod of (2**40, 2**40) wraps to 0 in int64; the limit check must see the true count."""
    g = _graph(("in", Input(shape=(2**40, 2**40))), ("f", Flatten(input_shape=None)), ("out", Output(shape=())))
    with pytest.raises(GraphError, match=str(2**80)):
        normalise(g)


@pytest.mark.parametrize("value, match", [
    ("weights", "real numbers"), (np.eye(2) * 1j, "real numbers"), ([[1.0, 2.0], [3.0]], "not a numeric array"),
    (np.zeros((2,) * 9), "dimensions"),
])
def test_node_arrays_of_wrong_type_raise_graph_error(value, match):
    with pytest.raises(GraphError, match=match) as info:
        Linear(weight=value)
    assert info.value.parameter == "weight"


def test_recursive_nir_graph_object_is_refused():
    inner = nir.NIRGraph(nodes={}, edges=[], type_check=False)
    inner.nodes["self"] = inner
    with pytest.raises(GraphError, match="nested"):
        spikec.load_nir(inner)


def test_subgraph_names_that_collide_are_refused(tmp_path):
    tree = _tree("lif_norse.nir")
    nodes = tree["node"]["nodes"]
    sub = {"type": b"NIRGraph", "nodes": {"x": {"type": b"Scale", "scale": np.ones(1)}}, "edges": np.zeros((0, 2), dtype=object)}
    nodes["a"], nodes["a.x"] = sub, {"type": b"Scale", "scale": np.ones(1)}
    M.write_tree(tree, tmp_path / "clash.nir")
    with pytest.raises(GraphError, match="two nodes get this name") as info:
        read_nir(tmp_path / "clash.nir")
    assert info.value.node == "a.x"


def test_stateless_self_loop_beside_a_neuron_is_refused():
    """A self-loop on a Linear inside a recurrent loop: its component holds a LIF, the loop itself does not."""
    lif = LIF(tau=1e-2, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    g = Graph({"in": Input(shape=(2,)), "w": Linear(weight=np.eye(2)), "lif": lif, "out": Output(shape=(2,))},
              (("in", "w"), ("w", "lif"), ("lif", "w"), ("w", "w"), ("lif", "out")))
    with pytest.raises(GraphError, match="cycle w has no stateful node") as info:
        normalise(g)
    assert info.value.node == "w"


def test_a_delay_longer_than_the_run_allocates_nothing_and_delivers_nothing():
    """A 1e6 s delay at dt = 1e-4 is 10**10 steps: the ring buffer is bounded by the run's length."""
    from spikec.ir.nodes import Delay

    g = Graph({"in": Input(shape=(2,)), "d": Delay(delay=np.array([1e6, 2e-4])), "out": Output(shape=(2,))},
              (("in", "d"), ("d", "out")))
    out = spikec.simulate(g, np.ones((3, 2)), dt_s=1e-4)["out"]
    np.testing.assert_array_equal(out, [[0, 0], [0, 0], [0, 1]])
