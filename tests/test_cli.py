"""The spikec command: shapes of output, exit codes, atomic writes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import spikec
from spikec.cli.main import cli

from conftest import NIR_PAPER

EXAMPLE = Path(spikec.__file__).parent / "examples" / "braille_subtract.nir"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version_and_help_on_every_command(runner):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and spikec.__version__ in result.output
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.output, f"spikec {name} --help shows no example"


def test_inspect_lists_nodes_counts_and_recurrence(runner):
    result = runner.invoke(cli, ["inspect", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "CubaLIF" in result.output and "lif1.lif" in result.output
    assert "neurons: 47" in result.output  # 40 hidden + 7 output
    assert "recurrent: lif1.w_rec -> lif1.lif" in result.output


def test_inspect_json_is_machine_readable(runner):
    result = runner.invoke(cli, ["inspect", str(NIR_PAPER / "cnn_sinabs.nir"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    by_name = {n["name"]: n for n in data["nodes"]}
    assert by_name["0"]["output_shape"] == [16, 16, 16]
    assert data["neurons"] == 16 * 16 * 16 * 2 + 8 * 8 * 8 + 256 + 10
    assert isinstance(data["warnings"], list)


def test_run_writes_one_array_per_output_named_by_the_output_node(runner, tmp_path, rng):
    x = (rng.random((30, 2, 12)) < 0.3).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = runner.invoke(cli, ["run", str(EXAMPLE), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npz"), "--dt", "1e-4", "--record", "v"])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "y.npz") as y:
        assert y["output"].shape == (30, 2, 7)
        np.testing.assert_array_equal(y["output"], spikec.simulate(spikec.load_nir(EXAMPLE), x, 1e-4)["output"])
        assert y["lif2.v"].shape == (30, 2, 7)


def test_bad_nir_file_gives_one_line_and_exit_2(runner, tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_text("garbage")
    result = runner.invoke(cli, ["inspect", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "cannot read" in result.output


def test_bad_input_shape_exits_2_and_writes_nothing(runner, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 5)))
    out = tmp_path / "y.npz"
    result = runner.invoke(cli, ["run", str(EXAMPLE), "--input", str(tmp_path / "x.npy"), "--output", str(out), "--dt", "1e-4"])
    assert result.exit_code == 2
    assert "input array of shape (10, 5)" in result.output
    assert list(tmp_path.iterdir()) == [tmp_path / "x.npy"]


def test_console_script_exit_status_from_a_real_process(tmp_path):
    exe = shutil.which("spikec", path=str(Path(sys.executable).parent))
    assert exe, "console script 'spikec' is not installed beside this interpreter"
    ok = subprocess.run([exe, "inspect", str(EXAMPLE)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run([exe, "inspect", str(tmp_path / "none.nir")], capture_output=True, text=True)
    assert missing.returncode == 2 and "no such model file" in missing.stderr


def test_compile_inspect_and_run_a_program(runner, tmp_path, rng):
    program = tmp_path / "braille.loihi2"
    result = runner.invoke(cli, ["compile", str(EXAMPLE), "--target", "loihi2", "-o", str(program), "--fidelity-steps", "20"])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(cli, ["inspect", str(program)])
    assert shown.exit_code == 0, shown.output
    assert "program: loihi for loihi2" in shown.output and "quantise-loihi" in shown.output
    as_json = json.loads(runner.invoke(cli, ["inspect", str(program), "--json"]).output)
    assert as_json["target"] == "loihi2" and as_json["source"]["neurons"] == 47
    x = (rng.random((25, 12)) < 0.3).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ran = runner.invoke(cli, ["run", str(program), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npz"), "--record", "v"])
    assert ran.exit_code == 0, ran.output
    with np.load(tmp_path / "y.npz") as y:
        np.testing.assert_array_equal(y["output"], spikec.run(spikec.load_program(program), x)["output"])
    wrong = runner.invoke(cli, ["run", str(program), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "z.npz"), "--dt", "1e-3"])
    assert wrong.exit_code == 2 and not (tmp_path / "z.npz").exists()


def test_failed_compile_leaves_nothing_behind(runner, tmp_path):
    out = tmp_path / "never"
    result = runner.invoke(cli, ["compile", str(EXAMPLE), "--target", "no-such-target", "-o", str(out)])
    assert result.exit_code == 2 and "no-such-target" in result.output
    assert list(tmp_path.iterdir()) == []


def test_compile_report_shows_core_placement_and_emit_lava_writes_a_runnable_folder(runner, tmp_path):
    result = runner.invoke(cli, ["compile", str(EXAMPLE), "--target", "loihi2", "-o", str(tmp_path / "p"),
                                 "--report", "--fidelity-steps", "10", "--emit-lava", str(tmp_path / "lava")])
    assert result.exit_code == 0, result.output
    assert "placement: 2 of 128 cores, 47 neurons" in result.output
    assert {"run_lava.py", "runner.py", "lava_processes.py", "network.json", "arrays.npz"} <= {p.name for p in (tmp_path / "lava").iterdir()}
    compile_src = (tmp_path / "lava" / "run_lava.py").read_text()
    compile(compile_src, "run_lava.py", "exec")  # valid Python (Lava itself runs it in tests/test_lava_backend.py)
    wrong = runner.invoke(cli, ["compile", str(EXAMPLE), "--target", "spinnaker1", "-o", str(tmp_path / "q"), "--emit-lava", str(tmp_path / "x")])
    assert wrong.exit_code == 2 and "--emit-lava needs a Loihi target" in wrong.output
