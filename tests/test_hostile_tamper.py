"""Tampered programs whose manifest hashes were recomputed: they load, and ``verify PROGRAM`` finds the change.

Hashes only prove a program intact; comparing it with a fresh compile of its
own source graph proves it honest (``verification/program_check.py``). A tamperer
who also edits the source graph to match is found against the original model
(``--against``). docs/hostile-input.md, "tampered programs".
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spikec.cli.main import cli
from spikec.api import compile as compile_graph
from spikec.api import run
from spikec.compiler.program import Program, load_program, save_program
from spikec.verification.program_check import check_program
from spikec.ir.graph import Graph

from fuzz.hostile_files import program_entries, rehash
from test_hostile_program import as_zip, small_graph

WEIGHTS = "graph/in->lif/weights"


@pytest.fixture(scope="module")
def program():
    return compile_graph(small_graph(), "loihi2", dt_s=1e-4, fidelity_steps=0)


def tamper_arrays(program: Program, folder: Path, out: Path, change) -> Path:
    """``program`` saved, one array of its arrays.npz changed by ``change``, hashes and sizes recomputed."""
    files = program_entries(save_program(program, folder))
    with np.load(io.BytesIO(files["arrays.npz"])) as npz:
        arrays = {k: npz[k].copy() for k in npz.files}
    change(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return as_zip(out, rehash({**files, "arrays.npz": buf.getvalue()}))


def test_tampered_weight_with_recomputed_hashes_loads_and_verify_locates_it(program, tmp_path):
    stored = program.graph.nodes["in->lif"].weights
    def change(arrays):
        arrays[WEIGHTS][2, 1] += 9
    path = tamper_arrays(program, tmp_path / "p", tmp_path / "t.zip", change)
    tampered = load_program(path)  # internally consistent: it loads
    assert tampered.graph.nodes["in->lif"].weights[2, 1] == stored[2, 1] + 9
    result = CliRunner().invoke(cli, ["verify", str(path)])
    assert result.exit_code == 1, result.output
    assert (f"graph: node 'in->lif' weights: 1 of 12 entries differ; first at (2, 1): stored {stored[2, 1] + 9}, "
            f"expected {stored[2, 1]}") in result.output


def test_tampered_weights_change_the_run_and_the_check_counts_it(program, tmp_path):
    def change(arrays):
        arrays[WEIGHTS][:] = 127
    path = tamper_arrays(program, tmp_path / "p", tmp_path / "t.zip", change)
    check = check_program(load_program(path), steps=60, batch=3)
    assert not check.ok and check.differences[0].differing == 12
    x = (np.random.default_rng(0).random((60, 3, 4)) < 0.2).astype(np.float32)
    assert (run(load_program(path), x)["out"] != run(program, x)["out"]).any()  # the tamper matters
    assert check.run_mismatches > 0 and check.first_mismatch is not None


def test_untampered_program_verifies_clean_in_folder_and_zip(program, tmp_path):
    for path in (program.save(tmp_path / "p"), program.save(tmp_path / "p.zip")):
        result = CliRunner().invoke(cli, ["verify", str(path)])
        assert result.exit_code == 0 and "matches a fresh compile" in result.output and "identical outputs" in result.output


def test_source_edited_in_step_is_found_only_against_the_model(program, tmp_path):
    """The careful tamperer edits the source graph and recompiles it: only the original model tells."""
    graph = small_graph()
    weight = graph.nodes["fc"].weight.copy()
    weight[0, 0] = 2.0
    nodes = dict(graph.nodes)
    nodes["fc"] = type(nodes["fc"])(weight=weight, metadata=dict(nodes["fc"].metadata))
    forged = compile_graph(Graph(nodes, graph.edges, graph.metadata), "loihi2", dt_s=1e-4, fidelity_steps=0)
    path = forged.save(tmp_path / "forged.zip")
    model = tmp_path / "model.nir"
    from spikec import save_nir

    save_nir(small_graph(), model)
    assert CliRunner().invoke(cli, ["verify", str(path)]).exit_code == 0  # consistent with its own source
    result = CliRunner().invoke(cli, ["verify", str(path), "--against", str(model)])
    assert result.exit_code == 1 and "source: node 'fc' weight: 1 of 12 entries differ; first at (0, 0): stored 2.0" in result.output, result.output
