"""The NIR paper's fixtures compile for loihi2; float vs fixed-point agreement is measured and asserted.

Measured with 300 steps x 2 samples of Bernoulli(0.2) input, seed 0 (the
program's own fidelity report; layers aligned for Dense's one-step latency):

* braille_noDelay_noBias_subtract (reset by subtraction, an spikec extension):
  count agreement 0.986 / 0.976, train agreement 0.998 / 0.974 (lif1 / lif2).
  Quantising only the float model's weights to 8 bits gives 0.974 / 0.963 and
  0.997 / 0.975: the integer arithmetic adds nothing measurable to that.
* braille_noDelay_bias_zero: count agreement 0.938 / 0.984; lif2's train
  agreement is only 0.64, but 1 % noise on fc1's float weights alone moves it
  to 0.83: this trained network is that sensitive (the NIR paper reports 48.6 %
  accuracy for it on Lava/Loihi 2 vs 95 % in snnTorch).
"""
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.backends.reference import run as run_reference
from spikec.api import compile as compile_graph, run
from spikec.compiler.loihi.nodes import LoihiNeurons

FIXTURES = Path("/work/shared/fixtures/nir-paper")
pytestmark = pytest.mark.skipif(not FIXTURES.exists(), reason="NIR paper fixtures not present")


def _compile(name, reset="zero", steps=300):
    graph = spikec.load_nir(FIXTURES / f"{name}.nir", reset=reset)
    return compile_graph(graph, "loihi2", dt_s=1e-4, fidelity_steps=steps)


def test_braille_subtract_compiles_and_agrees_with_float_reference():
    program = _compile("braille_noDelay_noBias_subtract", reset="subtract")
    layers = program.fidelity["layers"]
    assert {n.reset for n in program.graph.nodes.values() if isinstance(n, LoihiNeurons)} == {"subtract"}
    assert layers["lif1.lif"]["latency_steps"] == 1 and layers["lif2"]["latency_steps"] == 2
    for name in ("lif1.lif", "lif2"):
        assert layers[name]["spikes_float"] > 100
        assert layers[name]["count_agreement"] >= 0.95, layers[name]
        assert layers[name]["train_agreement"] >= 0.96, layers[name]


def test_braille_bias_zero_compiles_and_agrees_in_spike_counts():
    program = _compile("braille_noDelay_bias_zero")
    layers = program.fidelity["layers"]
    assert all(n.is_stock_lava for n in program.graph.nodes.values() if isinstance(n, LoihiNeurons))
    assert layers["lif1.lif"]["count_agreement"] >= 0.9, layers["lif1.lif"]
    assert layers["lif2"]["count_agreement"] >= 0.95, layers["lif2"]
    assert layers["lif1.lif"]["train_agreement"] >= 0.99, layers["lif1.lif"]
    assert any("steady state" in w for w in program.report["quantise-loihi"]["warnings"])


def test_single_lif_fixture_is_reproduced_exactly():
    program = _compile("lif_norse", steps=200)
    assert program.fidelity["layers"]["1"]["spikes_float"] > 0
    assert program.fidelity["layers"]["1"]["train_agreement"] == 1.0


def test_compiled_program_runs_through_the_api_and_after_a_round_trip(tmp_path):
    program = _compile("braille_noDelay_noBias_subtract", reset="subtract", steps=0)
    x = (np.random.default_rng(5).random((50, 3, 12)) < 0.3).astype(np.int8)
    direct = run(program, x, record=("v", "u"))
    assert set(direct) >= {"output", "lif1.lif.v", "lif1.lif.u", "lif2.v"}
    assert direct["output"].shape == (50, 3, 7)
    program.save(tmp_path / "braille")
    again = run(tmp_path / "braille", x, record="v,u")
    for key in direct:
        np.testing.assert_array_equal(direct[key], again[key])
    np.testing.assert_array_equal(run_reference(program, x[:, 0])["output"], direct["output"][:, 0])


@pytest.mark.slow
def test_cnn_sinabs_compiles_with_conv_and_pool_unrolled_and_agrees():
    """Measured (100 steps x 2, rate 0.2, seed 0): count agreement 0.989, 0.975, 0.968, 0.943, 0.890
    for layers 1, 3, 6, 10, 12 (the last has only ~110 spikes); compile ~15 s on 2 cores."""
    program = _compile("cnn_sinabs", steps=100)
    layers = program.fidelity["layers"]
    assert [layers[n]["latency_steps"] for n in ("1", "3", "6", "10", "12")] == [1, 2, 3, 4, 5]
    for name in ("1", "3", "6", "10"):
        assert layers[name]["count_agreement"] >= 0.93, (name, layers[name])
    assert layers["12"]["count_agreement"] >= 0.85, layers["12"]
