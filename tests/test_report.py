"""``spikec report``: the HTML page about compiled programs, and its float-time alignment.

Programs are compiled here from a small seeded two-layer network (with an
Output after the hidden layer, so each program shows two layers) for one
target of each family; the page must hold one raster per layer per program
plus the float model's row, the accuracy table, the utilisation bars, and be
self-contained (no scripts, no external resources).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import spikec
from spikec.cli.report_cmd import report_command
from spikec.verification.report import build_report, layer_error, run_in_float_time, svg_raster
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Input, Linear, Output

TARGETS = ("loihi2", "spinnaker1", "rram-256")


def two_layer_graph(seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    lif = lambda n: LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.ones(n),
                        v_reset=np.zeros(n), reset="zero")
    nodes = {"input": Input(shape=(12,)), "w1": Linear(weight=rng.uniform(-0.2, 0.6, (16, 12))), "hidden": lif(16),
             "w2": Linear(weight=rng.uniform(-0.2, 0.6, (4, 16))), "out": lif(4), "output": Output(), "probe_hidden": Output()}
    edges = [("input", "w1"), ("w1", "hidden"), ("hidden", "w2"), ("w2", "out"), ("out", "output"), ("hidden", "probe_hidden")]
    return spikec.normalise(Graph(nodes, edges, {"dt_s": 1e-4}))


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("programs")
    paths = []
    for target in TARGETS:
        program = spikec.compile(two_layer_graph(), target)
        paths.append(str(program.save(folder / target)))
    return paths


def spikes(steps: int = 30, batch: int = 3, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, 12)) < 0.3).astype(np.float64)


def test_report_command_writes_one_page_with_a_raster_per_layer_per_target_and_the_table(programs, tmp_path) -> None:
    x = spikes()
    np.save(tmp_path / "x.npy", x)
    table = [{"model": "m", "target": t, "backend": "reference", "accuracy": 0.9 + 0.01 * i} for i, t in enumerate(TARGETS)]
    (tmp_path / "t.json").write_text(json.dumps(table))
    out = tmp_path / "r.html"
    result = CliRunner().invoke(report_command, [*programs, "-o", str(out), "--input", str(tmp_path / "x.npy"),
                                                 "--sample", "2", "--table", str(tmp_path / "t.json")])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert page.count('class="raster"') == (len(TARGETS) + 1) * 2  # float model + each program, 2 layers each
    for t in TARGETS:
        assert f"<b>{t}</b>" in page
    assert "<th>accuracy</th>" in page and "0.91" in page  # the table, as given
    assert page.count('class="bars"') == 1 + len(TARGETS)  # accuracy chart + one utilisation chart per program
    assert "<script" not in page and not re.search(r'(src|href)="(http|file)', page)  # self-contained
    assert f"{int(x[:, 2].sum())} input spikes" in page  # --sample 2 was shown


def test_report_command_refuses_a_missing_program_with_exit_status_2(tmp_path) -> None:
    result = CliRunner().invoke(report_command, [str(tmp_path / "nothing"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "no such program" in result.output
    assert not (tmp_path / "r.html").exists()


def test_loihi_outputs_are_shifted_by_their_latency_into_float_time() -> None:
    program = spikec.compile(two_layer_graph(), "loihi2")
    x = spikes(steps=40, batch=2)
    raw = spikec.run(program, np.concatenate([x, np.zeros((2, 2, 12))]))
    aligned = run_in_float_time(program, x)
    lag = {n: program.graph.nodes[program.graph.predecessors(n)[0]].latency_steps for n in aligned}
    assert lag == {"output": 2, "probe_hidden": 1}
    for name, d in lag.items():
        np.testing.assert_array_equal(aligned[name], raw[name][d:d + 40])
    floats = spikec.simulate(two_layer_graph(), x)
    assert layer_error(floats["probe_hidden"], aligned["probe_hidden"])["train_agreement"] > 0.9  # aligned, not off by one


def test_raster_draws_one_dot_per_spike_and_traces_for_values() -> None:
    s = np.zeros((10, 5))
    s[[1, 3, 3, 9], [0, 2, 4, 1]] = 1
    svg = svg_raster(s, "layer")
    assert svg.count("<circle") == 4 and "4 spikes, 5 neurons, 10 steps" in svg
    assert svg.count("<polyline") == 0
    assert svg_raster(np.linspace(0, 1, 20).reshape(10, 2), "v").count("<polyline") == 2


def test_layer_error_for_spikes_and_values() -> None:
    a = np.array([[1, 0], [0, 1]], dtype=float)
    b = np.array([[1, 0], [1, 1]], dtype=float)
    e = layer_error(a, b)
    assert e["train_agreement"] == 0.75 and e["count_agreement"] == pytest.approx(1 - 1 / 5)
    assert layer_error(np.array([1.0, -1.0]), np.array([1.1, -1.1]))["value_rel_rms_error"] == pytest.approx(0.1)


def test_build_report_without_table_still_renders(programs) -> None:
    page = build_report([("only", spikec.load_program(programs[0]))], spikes()[:, 0])
    assert page.count('class="raster"') == 4 and "Accuracy and cost" not in page


def test_report_draws_the_fidelity_matrix_over_programs_of_one_model(tmp_path):
    import spikec
    from spikec.verification.report import build_report

    graph = spikec.load_nir(Path(spikec.__file__).parent / "examples" / "braille_subtract.nir")
    programs = [(t, spikec.compile(graph, t, fidelity_steps=0)) for t in ("loihi2", "spinnaker1")]
    sample = (np.random.default_rng(0).random((80, 1, 12)) < 0.3).astype(float)
    page = build_report(programs, sample)
    assert "<h2>Fidelity matrix</h2>" in page
    assert page.count("spike-train agreement</text>") == 1 and page.count("cosine similarity of activity</text>") == 1
    assert "[0] float" in page and "[2] spinnaker1" in page
