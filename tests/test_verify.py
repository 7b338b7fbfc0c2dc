"""spikec verify: agreement, a planted mismatch found and bisected, exit codes, JUnit."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import spikec
from spikec.cli.main import cli
from spikec.verification import verify as verify_mod

EXAMPLE = Path(spikec.__file__).parent / "examples" / "braille_subtract.nir"


def test_first_difference_is_the_earliest_step_then_graph_order():
    a = {"x": np.zeros((5, 2, 3)), "y": np.zeros((5, 2, 3))}
    b = {"x": a["x"].copy(), "y": a["y"].copy()}
    b["y"][2, 1, 0] = 1
    b["x"][3, 0, 2] = 1
    m = verify_mod.first_difference(a, b, ["x", "y"])
    assert (m.step, m.node, m.neuron, m.reference, m.backend) == (2, "y", (1, 0), 0.0, 1.0)
    assert verify_mod.first_difference(a, a, ["x", "y"]) is None


def test_spinnaker_target_agrees_on_the_example():
    report = verify_mod.verify(spikec.load_nir(EXAMPLE), ["spinnaker1"], steps=60, batch=2, fidelity_steps=0)
    (result,) = report.results
    assert result.error is None, result.error
    assert report.ok and result.entries_compared == 60 * 2 * 7 and result.spikes_compared > 0


def test_a_planted_fault_is_found_and_bisected_to_its_layer(monkeypatch):
    """Flip one hidden-layer spike in the 'native' run: verify must report the output mismatch
    and trace it back to the hidden layer at the step of the fault."""
    from spikec.api import run as api_run

    def faulty_run(program, x, record=(), **_):
        out = api_run(program, x, backend="reference", record=record)
        hidden = "lif1.lif.s"
        out[hidden] = out[hidden].copy()
        out[hidden][7, 0, 3] = 1 - out[hidden][7, 0, 3]
        out["output"] = out["output"].copy()
        out["output"][9, 0, 0] = 1 - out["output"][9, 0, 0]
        return out

    monkeypatch.setattr(verify_mod, "_backend_runner", lambda name: faulty_run)
    report = verify_mod.verify(spikec.load_nir(EXAMPLE), ["loihi2"], steps=30, batch=1, fidelity_steps=0)
    (result,) = report.results
    assert not report.ok and result.mismatches == 1
    assert (result.first_mismatch.step, result.first_mismatch.node) == (9, "output")
    assert (result.diverging_node.step, result.diverging_node.node, result.diverging_node.neuron) == (7, "lif1.lif.s", (0, 3))


def test_cli_exit_codes_json_and_junit(tmp_path, monkeypatch):
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(EXAMPLE), "--targets", "spinnaker1", "--steps", "40", "--json", "--junit", str(tmp_path / "v.xml")])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    assert 'failures="0"' in (tmp_path / "v.xml").read_text()
    bad = runner.invoke(cli, ["verify", str(tmp_path / "missing.nir")])
    assert bad.exit_code == 2
    from spikec.api import run as api_run

    def off_by_one(program, x, record=(), **_):
        out = api_run(program, x, backend="reference", record=record)
        out["output"] = 1 - out["output"]
        return out

    monkeypatch.setattr(verify_mod, "_backend_runner", lambda name: off_by_one)
    mismatch = runner.invoke(cli, ["verify", str(EXAMPLE), "--targets", "spinnaker1", "--steps", "20"])
    assert mismatch.exit_code == 1 and "MISMATCH" in mismatch.output


def test_rram_with_every_non_ideality_off_equals_the_reference_on_snntorch_resets():
    """The example's lif2 uses reset_recheck and lif1 reset_delay: the RRAM simulator's own
    neuron code must implement both exactly (it once lacked reset_recheck: 2 of 1400 entries)."""
    graph = spikec.load_nir(EXAMPLE)
    assert graph.nodes["lif2"].reset_recheck and graph.nodes["lif1.lif"].reset_delay
    report = verify_mod.verify(graph, ["rram-512", "rram-256"], steps=100, batch=2, seed=0, fidelity_steps=0)
    for result in report.results:
        assert result.error is None and result.mismatches == 0, (result.target, result.first_mismatch)
        assert result.spikes_compared > 50


def _tiny_loihi(tmp_path: Path) -> Path:
    """loihi2 with a single 4-neuron core: the example (45 neurons) cannot be placed."""
    text = (Path(spikec.__file__).parent / "hw_configs" / "loihi2.toml").read_text()
    lines = []
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if key == "name":
            line = 'name = "loihi-tiny"'
        elif key in ("chips", "cores_per_chip"):
            line = f"{key} = 1"
        elif key == "neurons_per_core":
            line = "neurons_per_core = 4"
        lines.append(line)
    path = tmp_path / "loihi-tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_target_that_cannot_compile_is_an_error_with_exit_2_not_a_mismatch(tmp_path):
    tiny = _tiny_loihi(tmp_path)
    report = verify_mod.verify(spikec.load_nir(EXAMPLE), ["spinnaker1", str(tiny)], steps=20, batch=1, fidelity_steps=0)
    ok, failed = report.results
    assert ok.ok and failed.error_stage == "compile" and "cores" in failed.error
    assert not report.mismatched and report.errors == (failed,)
    table = verify_mod.format_report(report)
    assert "MISMATCH" not in table and table.splitlines()[-1].startswith("ERROR: 1 of 2 targets")
    assert all(len(line) < 200 for line in table.splitlines()[:3])  # the long message is not a table cell

    result = CliRunner().invoke(cli, ["verify", str(EXAMPLE), "--targets", f"spinnaker1,{tiny}", "--steps", "20", "--workers", "1"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("spikec: error:")]
    assert len(errors) == 1 and "loihi-tiny: cannot compile:" in errors[0] and "MISMATCH" not in result.stdout


def test_a_mismatch_outranks_a_compile_error(tmp_path, monkeypatch):
    from spikec.api import run as api_run

    def flipped(program, x, record=(), **_):
        out = api_run(program, x, backend="reference", record=record)
        out["output"] = 1 - out["output"]
        return out

    monkeypatch.setattr(verify_mod, "_backend_runner", lambda name: flipped)
    result = CliRunner().invoke(cli, ["verify", str(EXAMPLE), "--targets", f"spinnaker1,{_tiny_loihi(tmp_path)}",
                                      "--steps", "20", "--workers", "1"])
    assert result.exit_code == 1 and result.stdout.splitlines()[-1].startswith("MISMATCH")
