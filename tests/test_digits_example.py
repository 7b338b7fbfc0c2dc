"""The digits example end to end on a tiny budget, and NeuroBench's metrics against hand-computed values.

The example (``examples/digits/``) is imported as a package from its folder.
A one-epoch training run on a subset goes through the whole path: train in
snnTorch/Norse, convert with the frontend, save ``.nir`` and the encoded test
set, and check that spikec's float reference makes exactly the torch model's
predictions; then compile for every target and evaluate a few test samples.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.verification.metrics import (
    activation_sparsity, connection_sparsity, connections, footprint_bytes, neuron_count, run_metrics,
    static_metrics, synaptic_operations,
)
from spikec.compiler.target import list_targets
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Input, Linear, Output

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits"
PACKAGE = "spikec_digits_example"


def example(module: str):
    """``examples/digits/<module>.py``, imported as part of a package (its relative imports work)."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(PACKAGE, EXAMPLE / "__init__.py", submodule_search_locations=[str(EXAMPLE)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{module}")


# --- the pipeline ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_snntorch(tmp_path_factory) -> Path:
    pytest.importorskip("sklearn")
    pytest.importorskip("snntorch")
    out = tmp_path_factory.mktemp("digits")
    example("train").main(["--framework", "snntorch", "--out", str(out), "--epochs", "1", "--hidden", "32",
                           "--train-subset", "300", "--test-subset", "48", "--threads", "1"])
    return out


def test_float_reference_makes_the_torch_models_predictions_snntorch(trained_snntorch: Path) -> None:
    summary = json.loads((trained_snntorch / "snntorch.json").read_text())
    x, labels = example("data").load_test_set(str(trained_snntorch / "test_set.npz"))
    assert x.shape == (example("data").STEPS, 48, 64) and set(np.unique(x)) <= {0.0, 1.0}
    graph = spikec.load_nir(trained_snntorch / "snntorch.nir")  # the saved graph, read back from disk
    (out,) = spikec.simulate(graph, x, summary["dt_s"]).values()
    predictions = example("readout").predict(out, "spikes")
    np.testing.assert_array_equal(predictions, summary["torch_predictions"])
    assert summary["predictions_differing_torch_vs_reference"] == 0
    assert summary["torch_test_accuracy"] > 0.2  # one epoch on 300 digits already learns something (chance: 0.1)


def test_float_reference_makes_the_torch_models_predictions_norse(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("norse")
    example("train").main(["--framework", "norse", "--out", str(tmp_path), "--epochs", "1", "--hidden", "32",
                           "--train-subset", "128", "--test-subset", "32", "--threads", "1"])
    summary = json.loads((tmp_path / "norse.json").read_text())
    x, _ = example("data").load_test_set(str(tmp_path / "test_set.npz"))
    (out,) = spikec.simulate(spikec.load_nir(tmp_path / "norse.nir"), x, summary["dt_s"]).values()
    np.testing.assert_array_equal(example("readout").predict(out, "membrane"), summary["torch_predictions"])


def test_evaluation_runs_every_target_and_native_backends_agree_with_reference(trained_snntorch: Path, tmp_path: Path) -> None:
    rows = example("evaluate").main(["--models", str(trained_snntorch), "--out", str(tmp_path), "--frameworks", "snntorch",
                                     "--lava-samples", "0", "--trials", "1", "--test-subset", "8"])
    by = {(r["target"], r["backend"]): r for r in rows}
    targets = {t.name for t in list_targets()}
    assert {t for t, _ in by} == targets | {"float"}
    for t in targets:
        assert by[(t, "reference")]["samples"] == 8
    # the SpiNNaker machine is bit-exact with its reference executor: same spikes, same synaptic operations
    for t in ("spinnaker1", "spinnaker2"):
        assert by[(t, "spinnaker")]["spikes"] == by[(t, "reference")]["spikes"]
        assert by[(t, "spinnaker")]["synops"] == by[(t, "reference")]["synops"]
        assert by[(t, "spinnaker")]["hops_measured"]
    # the RRAM rows carry the drift trials
    assert {"accuracy_1s", "accuracy_1year", "accuracy_1year_comp"} <= set(by[("rram-256", "rram")])
    assert (tmp_path / "results.json").exists() and (tmp_path / "report.html").exists()
    assert not (tmp_path / "programs").exists()  # programs are saved only when asked
    html = (tmp_path / "report.html").read_text()
    assert html.count('class="raster"') == (len(targets) + 1) * 2  # float row + one row per program, 2 layers each


def test_rate_encoding_is_seeded_and_follows_intensity() -> None:
    data = example("data")
    images = np.array([[0.0, 0.5, 1.0]])
    a, b = data.rate_encode(images, seed=3, steps=4000), data.rate_encode(images, seed=3, steps=4000)
    np.testing.assert_array_equal(a, b)
    assert a[:, 0, 0].sum() == 0
    np.testing.assert_allclose(a.mean(axis=(0, 1)), [0.0, 0.25, 0.5], atol=0.03)


# --- metrics, by hand -------------------------------------------------------------------------------


W = np.array([[1.0, 0.0], [0.5, -2.0], [0.0, 0.0]])  # 3 outputs x 2 inputs; nonzero fan-out: input 0 -> 2, input 1 -> 1


def test_synaptic_operations_count_nonzero_activations_times_nonzero_fan_out() -> None:
    # T = 2, B = 2. Sample 0: input 0 at t0, both at t1 -> 2 + (2 + 1) = 5. Sample 1: input 1 at t0 -> 1.
    x = np.array([[[1, 0], [0, 1]], [[1, 1], [0, 0]]], dtype=float)
    ops = synaptic_operations([(W, x)])
    assert ops.effective_acs == pytest.approx((5 + 1) / 2)
    assert ops.effective_macs == 0
    assert ops.dense == 2 * 6  # every (input, weight) pair at every step, per sample
    graded = x * 0.7
    ops = synaptic_operations([(W, graded)])
    assert ops.effective_macs == pytest.approx(3.0) and ops.effective_acs == 0


def test_activation_and_connection_sparsity_and_footprint() -> None:
    assert activation_sparsity([np.array([[[1, 0, 0, 0]]]), np.array([[[0, 0, 1, 1]]])]) == pytest.approx(5 / 8)
    assert connection_sparsity([W]) == pytest.approx(3 / 6)
    assert footprint_bytes([(6, 8), (3, 32), (5, 1)]) == 6 + 12 + 1


def tiny_graph() -> Graph:
    n = 3
    lif = lambda k: LIF(tau=np.full(k, 1e-3), r=np.full(k, 10.0), v_leak=np.zeros(k), v_threshold=np.ones(k),
                        v_reset=np.zeros(k), reset="zero")
    nodes = {"input": Input(shape=(2,)), "w1": Linear(weight=W), "h": lif(n),
             "w2": Linear(weight=np.array([[1.0, 0.0, 2.0]])), "o": lif(1), "output": Output()}
    edges = [("input", "w1"), ("w1", "h"), ("h", "w2"), ("w2", "o"), ("o", "output")]
    return spikec.normalise(Graph(nodes, edges, {"dt_s": 1e-4}))


def test_run_metrics_on_a_tiny_network_by_hand() -> None:
    g = tiny_graph()
    assert [(c.source, c.target, c.weight.shape) for c in connections(g)] == [("input", "h", (3, 2)), ("h", "o", (1, 3))]
    assert neuron_count(g) == 4
    x = np.array([[[1, 1]], [[0, 1]]], dtype=float)  # T = 2, B = 1
    h = np.array([[[1, 1, 0]], [[0, 0, 0]]], dtype=float)  # h fan-out (nonzero column counts of [1, 0, 2]): 1, 0, 1
    o = np.array([[[1]], [[0]]], dtype=float)
    m = run_metrics(g, {"input": x, "h": h, "o": o})
    assert m["eff_acs"] == (2 + 1) + 1 + (1 + 0)  # input spikes x fan-out (2, 1), then h's spikes x (1, 0, 1)
    assert m["synops_dense"] == 2 * (6 + 3)
    assert m["spikes"] == 3
    assert m["activation_sparsity"] == pytest.approx(1 - 3 / 8)
    s = static_metrics(g, weight_bits=8, parameter_bits=32)
    assert s["weights"] == 9 and s["connection_sparsity"] == pytest.approx(4 / 9)
    # 9 weights x 1 byte; each LIF: 5 parameter arrays + 1 state per neuron -> (3*6 + 1*6) values x 4 bytes
    assert s["footprint_bytes"] == 9 + (3 * 6 + 6) * 4


def test_energy_estimate_is_counts_times_figures_and_refuses_missing_figures() -> None:
    energy = example("energy")
    fig = {"synop_pj": 2.0, "neuron_update_pj": 1.0, "packet_hop_pj": 0.5}
    assert energy.estimate_uj({"synops": 10, "neuron_updates": 4, "packet_hops": 2}, fig) == pytest.approx((20 + 4 + 1) * 1e-6)
    assert energy.estimate_uj({"synops": 10, "tile_reads": 1}, fig) is None  # no array_read_pj: no guess
    figures = energy.load_figures()
    for family in ("float", "loihi", "spinnaker1"):
        assert figures[family]  # every family with figures names them in energy.toml
