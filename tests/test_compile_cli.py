"""``spikec compile`` and ``spikec targets`` (the click commands, called directly)."""
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from spikec.cli.compile_cmd import compile_command, targets_command
from spikec.compiler.program import load_program
from spikec.ir.graph import Graph
from spikec.ir.nir_io import write_nir
from spikec.ir.nodes import LIF, Input, Linear, Output


def model(tmp_path, tau=2e-3):
    n = 5
    nodes = {
        "in": Input(shape=(3,)), "fc": Linear(weight=np.random.default_rng(0).standard_normal((n, 3))),
        "lif": LIF(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 0.5), v_reset=np.zeros(n)),
        "out": Output(shape=(n,)),
    }
    path = tmp_path / "m.nir"
    write_nir(Graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")]), path)
    return str(path)


def test_compile_writes_a_program_and_reports(tmp_path):
    out = tmp_path / "prog"
    result = CliRunner().invoke(compile_command, [model(tmp_path), "--target", "loihi2", "-o", str(out), "--dt", "1e-4", "--report"])
    assert result.exit_code == 0, result.output
    assert "quantisation (per layer)" in result.output and "fidelity" in result.output and "wrote" in result.output
    program = load_program(out)
    assert program.family == "loihi" and program.target.name == "loihi2" and program.dt_s == 1e-4


def test_failed_compile_exits_2_with_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "prog"
    result = CliRunner().invoke(compile_command, [model(tmp_path, tau=1e-5), "--target", "loihi2", "-o", str(out), "--dt", "1e-4"])
    assert result.exit_code == 2
    assert "pass 'discretise' failed" in result.output and "node 'lif'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "m.nir"]


def test_explain_dump_after_and_config_file(tmp_path):
    runner = CliRunner()
    explained = runner.invoke(compile_command, ["--target", "loihi2", "--explain"])
    assert explained.exit_code == 0 and "quantise-loihi" in explained.output
    dumped = runner.invoke(compile_command, [model(tmp_path), "--target", "loihi2", "--dt", "1e-4", "--dump-after", "quantise-loihi"])
    assert dumped.exit_code == 0 and "LoihiNeurons(" in dumped.output and "Dense(weights=int32" in dumped.output
    config = tmp_path / "chip.toml"
    config.write_text(Path(__file__).resolve().parents[1].joinpath("hw_configs", "loihi1.toml").read_text().replace('name = "loihi1"', 'name = "mychip"'))
    result = runner.invoke(compile_command, [model(tmp_path), "--config", str(config), "-o", str(tmp_path / "p.zip"), "--dt", "1e-4"])
    assert result.exit_code == 0, result.output
    assert load_program(tmp_path / "p.zip").target.name == "mychip"
    missing = runner.invoke(compile_command, [model(tmp_path), "--target", "loihi2"])
    assert missing.exit_code == 2 and "-o/--output" in missing.output


def test_targets_lists_every_shipped_target_with_figures():
    result = CliRunner().invoke(targets_command)
    assert result.exit_code == 0
    for name in ("loihi1", "loihi2", "spinnaker1", "spinnaker2", "rram-512"):
        assert name in result.output
    assert "8192" in result.output and "1023" in result.output
