"""Device models: seeded, and their statistics match the model's own sigma and drift law."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from spikec.compiler.rram.config import RramConfig
from spikec.compiler.rram.devices import DeviceModel, Drift, ProgrammingNoise, pcm_like, reram_cmo, reram_wan2022
from spikec.compiler.target import load_target
from spikec.ir.errors import ConfigError

N = 40_000  # cells per statistic: the relative error of a std estimate is about 1/sqrt(2N) = 0.35 %


def test_pcm_programming_sigma_is_aihwkits_polynomial():
    model = pcm_like()
    x = np.array([0.0, 0.5, 1.0])
    expected = 0.26348 + 1.9650 * x - 1.1731 * x**2  # uS at g_max 25 uS (aihwkit PCMLikeNoiseModel)
    np.testing.assert_allclose(model.programming.sigma_us(25.0 * x, 25.0), expected)
    # fitted at 25 uS: operated at 50 uS the noise doubles
    np.testing.assert_allclose(pcm_like(g_max_us=50.0).programming.sigma_us(50.0 * x, 50.0), 2 * expected)


@pytest.mark.parametrize("make", [pcm_like, reram_wan2022, reram_cmo])
@pytest.mark.parametrize("fraction", [0.4, 0.7, 1.0])
def test_programmed_spread_matches_the_model_sigma(make, fraction):
    model = replace(make(), stuck_on_rate=0.0, drift=Drift())
    g = np.full(N, model.g_min_us + fraction * model.g_range_us)
    sigma = float(model.programming.sigma_us(g[:1], model.g_max_us)[0])
    assert g[0] > 5 * sigma  # the clamp at 0 uS does not bias the spread here
    prog = model.program(g, np.random.default_rng(1))
    assert abs(prog.mean() - g[0]) < 5 * sigma / np.sqrt(N)
    assert prog.std() == pytest.approx(sigma, rel=0.03)


def test_programming_is_reproducible_for_a_seed_and_differs_across_seeds():
    model = reram_cmo()
    g = np.linspace(8, 90, 1000)
    a = model.conductance_at(g, 3600.0, np.random.default_rng(7))
    b = model.conductance_at(g, 3600.0, np.random.default_rng(7))
    c = model.conductance_at(g, 3600.0, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_stuck_rates_are_binomial():
    model = DeviceModel(0.0, 40.0, stuck_on_rate=0.02, stuck_off_rate=0.05)
    g = model.conductance_at(np.full(N, 20.0), 1.0, np.random.default_rng(3))
    for value, p in ((40.0, 0.02), (0.0, 0.05)):
        observed = float(np.mean(g == value))
        assert abs(observed - p) < 5 * np.sqrt(p * (1 - p) / N)
    assert np.mean(g == 20.0) == pytest.approx(0.93, abs=5 * np.sqrt(0.93 * 0.07 / N))


@pytest.mark.parametrize("t_s", [1.0, 3600.0, 365 * 86400.0])
def test_power_law_drift_follows_its_coefficient(t_s):
    exact = DeviceModel(0.0, 25.0, drift=Drift("power", nu_mean=0.05, nu_std=0.0, t0_s=20.0))
    g = np.full(100, 10.0)
    np.testing.assert_allclose(exact.conductance_at(g, t_s, np.random.default_rng(0)), 10.0 * ((t_s + 20) / 20) ** -0.05)
    spread = DeviceModel(0.0, 25.0, drift=Drift("power", nu_mean=0.05, nu_std=0.01, t0_s=20.0))
    ratio = spread.conductance_at(np.full(N, 10.0), t_s, np.random.default_rng(1)) / 10.0
    nu = -np.log(ratio) / np.log((t_s + 20) / 20)
    assert np.median(nu) == pytest.approx(0.05, abs=0.0005)
    assert nu.std() == pytest.approx(0.01, rel=0.03)


@pytest.mark.parametrize("t_s", [10.0, 86400.0, 365 * 86400.0])
def test_log_drift_shifts_the_mean_by_its_coefficient(t_s):
    model = replace(reram_cmo(), programming=ProgrammingNoise())
    g = model.conductance_at(np.full(N, 50.0), t_s, np.random.default_rng(2))
    log_t = np.log(t_s)
    sigma = 0.04201137 * log_t + 0.41183342
    assert g.mean() - 50.0 == pytest.approx(-0.08900206 * log_t, abs=5 * sigma / np.sqrt(N))
    assert g.std() == pytest.approx(sigma, rel=0.03)


def test_ideal_device_returns_its_targets():
    model = DeviceModel(8.0, 90.0)
    g = np.linspace(8, 90, 50)
    assert model.is_ideal()
    np.testing.assert_array_equal(model.conductance_at(g, 1e9, np.random.default_rng(0)), g)


def test_invalid_device_figures_raise_config_errors():
    with pytest.raises(ConfigError, match="g_min_us < g_max_us"):
        DeviceModel(50.0, 10.0)
    with pytest.raises(ConfigError, match="stuck_on_rate"):
        DeviceModel(0.0, 10.0, stuck_on_rate=1.5)
    with pytest.raises(ConfigError, match="drift law"):
        Drift("exponential")


def test_shipped_rram_targets_load_with_their_device_models():
    small = RramConfig.from_target(load_target("rram-256"))
    large = RramConfig.from_target(load_target("rram-512"))
    assert (small.geometry.rows, small.geometry.cols) == (256, 256)
    assert (large.geometry.rows, large.geometry.cols) == (512, 512)
    assert (small.device.g_min_us, small.device.g_max_us) == (8.0, 90.0) and small.device.drift.law == "log"
    assert large.device.drift.law == "power" and large.device.drift.t0_s == 20.0
    assert (large.periphery.dac_bits, large.periphery.adc_bits, large.periphery.adc_bound, large.periphery.out_noise) == (7, 9, 12.0, 0.06)
    assert small.ideal().device.is_ideal() and small.ideal().periphery.adc_bits is None


def test_rram_target_must_declare_float64_neurons():
    from spikec.compiler.target import parse_target

    text = open(load_target("rram-256").source_path).read().replace('neuron_format = "float64"', 'neuron_format = "float32"')
    with pytest.raises(ConfigError, match="neuron_format"):
        RramConfig.from_target(parse_target(text, "rram-float32.toml"))
