"""The liquid-state-machine example: recurrent weights are the devices' programming spread."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.backends.rram import compile_rram, simulate_rram
from spikec.compiler.rram.config import RramConfig
from spikec.compiler.target import load_target

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rram_lsm.py"


@pytest.fixture(scope="module")
def lsm():
    spec = importlib.util.spec_from_file_location("rram_lsm", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reservoir_weights_come_from_the_programming_spread(lsm):
    config = RramConfig.from_target(load_target("rram-256"))
    n = 200
    g_mid = 0.5 * (config.device.g_min_us + config.device.g_max_us)
    sigma = float(config.device.programming.sigma_us(np.array([g_mid]), config.device.g_max_us)[0])
    raw = config.device.program(np.full((2, n, n), g_mid), np.random.default_rng(4))
    diff = raw[0] - raw[1]
    assert diff.std() == pytest.approx(np.sqrt(2) * sigma, rel=0.02)  # a pair's difference: sqrt(2) sigma
    w = lsm.device_spread_matrix(config, n, seed=4)
    np.testing.assert_allclose(w, diff / diff.std())
    graph = lsm.reservoir(config, n=n, seed=3)
    np.testing.assert_allclose(graph.nodes["w_rec"].weight, 0.9 * lsm.device_spread_matrix(config, n, 4) / np.sqrt(n))


def test_reservoir_runs_on_the_chip_and_separates_inputs(lsm):
    config = RramConfig.from_target(load_target("rram-256"))
    graph = lsm.reservoir(config, n=128, seed=0)
    mapping = compile_rram(graph, config)
    images = np.zeros((2, 64))
    images[0, :32], images[1, 32:] = 16, 16  # two different digits-like patterns
    x = lsm.encode(images, seed=0)
    ideal = simulate_rram(mapping, x, dt_s=lsm.DT_S, config=config.ideal())["states"]
    np.testing.assert_array_equal(ideal, spikec.simulate(mapping.graph, x, dt_s=lsm.DT_S)["states"])
    chip = simulate_rram(mapping, x, dt_s=lsm.DT_S, seed=1, t_s=86400.0)["states"]
    f = lsm.features(chip)
    assert f.shape == (2, 256) and 0.01 < chip.mean() < 0.9
    assert np.abs(f[0] - f[1]).sum() > 0.2 * f.sum()  # different inputs, different states
