"""The layering holds: imports go down (cli -> root api -> verification -> backends -> compiler -> ir), never in circles."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "import_graph.py"


@pytest.fixture(scope="module")
def import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def test_no_cycles_no_upward_imports_no_backend_importing_another(import_graph):
    report = import_graph.check()
    assert report.edges, "no modules found"
    assert not report.cycles, report.cycles
    assert not report.upward, report.upward
    assert not report.sideways, report.sideways
    folders = {a for a, _ in report.folders} | {b for _, b in report.folders}
    assert {"compiler/loihi", "compiler/spinnaker", "compiler/rram", "verification", "backends/reference"} <= folders
    assert not any(a.startswith("compiler") and b.split("/")[0] in ("backends", "verification", "cli") for a, b in report.folders)


def test_the_checker_sees_function_level_imports_cycles_and_upward_imports(import_graph, tmp_path):
    # a tiny package with a lazy (function-level) cycle, an upward import and a backend importing another
    for folder in ("ir", "compiler", "backends", "backends/a", "backends/b", "verification"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "compiler" / "x.py").write_text("def f():\n    from . import y\n")
    (tmp_path / "compiler" / "y.py").write_text("from .x import f\nfrom ..verification import tool\n")
    (tmp_path / "verification" / "tool.py").write_text("from ..ir import base\n")
    (tmp_path / "ir" / "base.py").write_text("")
    (tmp_path / "backends" / "a" / "run.py").write_text("from ..b import run as other\n")
    (tmp_path / "backends" / "b" / "run.py").write_text("from ...compiler import x\n")
    report = import_graph.check(tmp_path)
    assert report.cycles == [["spikec.compiler.x", "spikec.compiler.y"]]
    assert report.upward == ["spikec.compiler.y (compiler) -> spikec.verification.tool (verification)"]
    assert report.sideways == ["backend spikec.backends.a.run -> backend spikec.backends.b.run"]
    assert not report.ok
