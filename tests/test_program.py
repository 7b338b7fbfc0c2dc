"""Program files: saved atomically, loaded back identically, versioned and hashed."""
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spikec.api import compile as compile_graph
from spikec.compiler.program import Program, load_program, register_artefact
from spikec.ir.errors import CompileError, InputError, OutputError
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Input, Linear, Output


def small_graph():
    rng = np.random.default_rng(0)
    n = 6
    nodes = {
        "in": Input(shape=(4,)), "fc": Linear(weight=rng.standard_normal((n, 4))),
        "lif": LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 0.5),
                   v_reset=np.zeros(n), reset="subtract", metadata={"note": "kept"}),
        "out": Output(shape=(n,)),
    }
    return Graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")], {"origin": "test"})


@pytest.fixture(scope="module")
def program():
    return compile_graph(small_graph(), "loihi2", dt_s=1e-4, fidelity_steps=50)


@register_artefact
class Blob:
    """A stand-in for a target-specific artefact (routing table, crossbar tiles)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def to_bytes(self) -> bytes:
        return self.data

    @classmethod
    def from_bytes(cls, data: bytes) -> "Blob":
        return cls(data)


@pytest.mark.parametrize("name", ["prog", "prog.zip"])
def test_save_load_round_trip_is_identical(tmp_path, program, name):
    path = program.save(tmp_path / name)
    loaded = load_program(path)
    assert loaded.same_as(program)
    assert loaded.graph.same_as(program.graph) and loaded.source.same_as(program.source)
    assert loaded.source.nodes["lif"].metadata == {"note": "kept"}
    assert loaded.target.to_dict() == program.target.to_dict()
    assert loaded.report == program.report
    assert [(r.name, r.summary) for r in loaded.pass_log] == [(r.name, r.summary) for r in program.pass_log]
    for a, b in ((loaded.graph.nodes["in->lif"].weights, program.graph.nodes["in->lif"].weights),):
        assert a.dtype == b.dtype == np.int32
        np.testing.assert_array_equal(a, b)
    x = (np.random.default_rng(1).random((40, 4)) < 0.4).astype(np.int8)
    from spikec.api import run

    np.testing.assert_array_equal(run(loaded, x)["out"], run(program, x)["out"])


def test_compiling_and_saving_twice_gives_the_same_bytes(tmp_path, program):
    program.save(tmp_path / "a.zip")
    compile_graph(small_graph(), "loihi2", dt_s=1e-4, fidelity_steps=50).save(tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_manifest_has_versions_and_hashes(tmp_path, program):
    path = program.save(tmp_path / "p")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == "spikec-program" and manifest["format_version"] == 1
    assert set(manifest["files"]) == {"arrays.npz", "target.toml"}
    assert manifest["family"] == "loihi" and manifest["target"] == "loihi2"


def test_artefacts_round_trip_and_unsaveable_ones_leave_nothing(tmp_path, program):
    with_blob = Program(**{**program.__dict__, "artefacts": {"table": Blob(b"\x00\x01routes"), "raw": b"abc"}})
    loaded = load_program(with_blob.save(tmp_path / "p"))
    assert loaded.artefacts["table"].data == b"\x00\x01routes" and loaded.artefacts["raw"] == b"abc"
    bad = Program(**{**program.__dict__, "artefacts": {"thing": object()}})
    with pytest.raises(CompileError, match="artefact 'thing'"):
        bad.save(tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_overwriting_replaces_the_old_program_but_not_a_users_folder(tmp_path, program):
    program.save(tmp_path / "p")
    (tmp_path / "p" / "stale").write_text("old")
    program.save(tmp_path / "p")
    assert not (tmp_path / "p" / "stale").exists() and load_program(tmp_path / "p").same_as(program)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputError, match="not a spikec program; refusing to replace it"):
        program.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"


def test_tampered_or_foreign_files_are_refused(tmp_path, program):
    path = program.save(tmp_path / "p")
    (path / "target.toml").write_text((path / "target.toml").read_text() + "\n# edited\n")
    with pytest.raises(InputError, match="target.toml"):
        load_program(path)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a compiled program"):
        load_program(tmp_path / "junk.zip")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "spikec-program", "format_version": 99}))
    with pytest.raises(InputError, match="version 99"):
        load_program(other)
