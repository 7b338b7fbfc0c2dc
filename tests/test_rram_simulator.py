"""The analog simulator: ideal equals the float reference; converters and noise as documented."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import spikec
from spikec.backends.rram.analog import ProgrammedTile, dac, read_tile
from spikec.backends.rram.simulator import simulate_rram
from spikec.compiler.rram.crossbar_map import map_matrix
from spikec.compiler.rram.config import CrossbarGeometry, Periphery, RramConfig
from spikec.compiler.rram.devices import DeviceModel, Drift
from spikec.compiler.rram.lower import lower_to_crossbars
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Affine, CubaLIF, Input, Linear, Output

FIXTURES = "/work/shared/fixtures/nir-paper"
DT = 1e-4


def random_network(seed: int, *, reset: str = "subtract", reset_delay: bool = False,
                   n_in: int = 40, n_hid: int = 100, n_out: int = 10, out_gain: float = 3.0) -> Graph:
    """Input -> Affine -> LIF (recurrent Linear) -> Linear -> CubaLIF -> Output, firing at about 50 %."""
    rng = np.random.default_rng(seed)
    lif = dict(reset=reset, reset_delay=reset_delay)
    nodes = {
        "in": Input(shape=(n_in,)),
        "fc1": Affine(weight=rng.normal(0, 3 / np.sqrt(n_in), (n_hid, n_in)), bias=rng.normal(0, 0.05, n_hid)),
        "lif1": LIF(tau=np.full(n_hid, 2e-3), r=np.full(n_hid, 20.0), v_leak=np.zeros(n_hid),
                    v_threshold=np.ones(n_hid), v_reset=np.zeros(n_hid), **lif),
        "rec": Linear(weight=rng.normal(0, 0.5 / np.sqrt(n_hid), (n_hid, n_hid))),
        "fc2": Linear(weight=rng.normal(0, out_gain / np.sqrt(n_hid), (n_out, n_hid))),
        "lif2": CubaLIF(tau_syn=np.full(n_out, 2e-3), tau_mem=np.full(n_out, 4e-3), r=np.full(n_out, 40.0),
                        v_leak=np.zeros(n_out), v_threshold=np.full(n_out, 0.5), v_reset=np.zeros(n_out),
                        w_in=np.full(n_out, 20.0), **lif),
        "out": Output(shape=(n_out,)),
    }
    edges = [("in", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "out")]
    return spikec.normalise(Graph(nodes, edges, {"dt_s": DT}))


def spikes(seed: int, shape: tuple[int, ...], steps: int = 150, batch: int = 4, p: float = 0.2) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, *shape)) < p).astype(np.float64)


SMALL = RramConfig(geometry=CrossbarGeometry(rows=32, cols=16, levels=16))  # forces row and column splits


@pytest.mark.parametrize("reset,reset_delay", [("subtract", False), ("zero", False), ("subtract", True), ("zero", True)])
def test_ideal_simulator_matches_float_reference_on_split_tiles(reset, reset_delay):
    graph = random_network(1, reset=reset, reset_delay=reset_delay)
    mapping = lower_to_crossbars(graph, SMALL)
    assert len(mapping.crossbars.layers["rec"].tiles) > 1  # rows and columns really are split
    x = spikes(2, (40,))
    ref = spikec.simulate(mapping.graph, x, dt_s=DT, record=("v",))
    sim = simulate_rram(mapping, x, dt_s=DT, config=SMALL.ideal(), record=("v",))
    assert ref["out"].sum() > 0.2 * ref["out"].size
    np.testing.assert_array_equal(sim["out"], ref["out"])
    np.testing.assert_allclose(sim["lif1.v"], ref["lif1.v"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("fixture,reset", [("braille_noDelay_bias_zero.nir", "zero"), ("braille_noDelay_noBias_subtract.nir", "subtract")])
def test_ideal_simulator_matches_float_reference_on_braille(fixture, reset):
    graph = spikec.load_nir(f"{FIXTURES}/{fixture}", reset=reset)
    mapping = lower_to_crossbars(graph, RramConfig())
    x = spikes(3, graph.nodes[graph.inputs[0]].shape, steps=200, p=0.3)
    ref = spikec.simulate(mapping.graph, x, dt_s=DT)
    sim = simulate_rram(mapping, x, dt_s=DT, config=mapping.config.ideal())
    assert ref["output"].sum() > 0
    np.testing.assert_array_equal(sim["output"], ref["output"])


def test_ideal_simulator_matches_float_reference_on_the_cnn():
    graph = spikec.load_nir(f"{FIXTURES}/cnn_sinabs.nir")
    mapping = lower_to_crossbars(graph, RramConfig())
    x = spikes(4, graph.nodes[graph.inputs[0]].shape, steps=25, batch=2, p=0.3)
    ref = spikec.simulate(mapping.graph, x, dt_s=DT)
    sim = simulate_rram(mapping, x, dt_s=DT, config=mapping.config.ideal())
    assert ref["output"].sum() > 0
    np.testing.assert_array_equal(sim["output"], ref["output"])


def _one_tile(levels: int, w: np.ndarray, periphery: Periphery, device: DeviceModel | None = None) -> tuple[ProgrammedTile, RramConfig]:
    geometry = CrossbarGeometry(rows=w.shape[1], cols=2 * w.shape[0], levels=levels)
    config = RramConfig(geometry=geometry, periphery=periphery, device=device or DeviceModel(0.0, 40.0))
    (tile,) = map_matrix("fc", w, geometry)
    g_pos, g_neg = tile.target_conductances_us(config.device.g_min_us, config.device.g_max_us, levels)
    return ProgrammedTile(tile, g_pos, g_neg), config


def test_adc_rounds_to_its_step_and_clips_at_its_bound_by_hand():
    # weights 1, 1, 1, -0.5 on one output, 3 levels (step 0.5): k = 2, 2, 2, -1; one full-scale cell = w 1.
    w = np.array([[1.0, 1.0, 1.0, -0.5]])
    periphery = Periphery(dac_bits=None, adc_bits=3, adc_bound=2.0, out_noise=0.0)  # ADC step 2*2/6 = 2/3
    tile, config = _one_tile(3, w, periphery)
    x = np.array([[1.0, 0, 0, 0], [1.0, 0, 0, 1.0], [1.0, 1.0, 1.0, 0]])
    y = read_tile(tile, x, config, None)[:, 0]
    # ideal sums 1, 0.5, 3 in weight units = full-scale cells; rounded to multiples of 2/3, clipped at 2
    np.testing.assert_allclose(y, [2 / 3 * np.rint(1.5), 2 / 3 * np.rint(0.75), 2.0])


def test_dac_quantises_graded_inputs_and_passes_spikes_exactly():
    x = np.array([[0.0, 1.0, 1.0], [0.3, 0.74, 1.0], [0.0, 0.0, 0.0]])
    q, scale = dac(x, 3, "abs_max")  # step 2 / (8 - 2) = 1/3
    np.testing.assert_allclose(q * scale, [[0, 1, 1], [1 / 3, 2 / 3, 1], [0, 0, 0]])
    q, scale = dac(2.5 * x, 3, "none")  # no scaling: clipped to [-1, 1]
    np.testing.assert_allclose(q * scale, [[0, 1, 1], [2 / 3, 1, 1], [0, 0, 0]])


@pytest.mark.parametrize("bits", [6, 9])
def test_finite_adc_error_per_output_is_within_half_a_step_per_row_block(bits):
    """Documented bound: |y - y_ideal| <= n_row_blocks * (levels - 1) * w_step * bound / (2^bits - 2) when nothing clips."""
    graph = random_network(5)
    config = replace(SMALL.ideal(), periphery=replace(SMALL.ideal().periphery, adc_bits=bits, adc_bound=12.0))
    layer = lower_to_crossbars(graph, config).crossbars.layers["fc1"]
    from spikec.backends.rram.devices import program_tiles
    from spikec.backends.rram.layers import dense_on_tiles
    from spikec.compiler.rram.crossbar_map import CrossbarMap
    tiles = program_tiles(CrossbarMap(config.geometry, {"fc1": layer}, 1), config, seed=0, t_s=1.0)["fc1"]
    x = spikes(6, (40,), steps=200, batch=1, p=0.15)[:, 0]
    y = dense_on_tiles(layer, tiles, x, lambda p, v: read_tile(p, v, config, None))
    ideal = x @ layer.quantised_matrix().T
    row_blocks = len({t.in_start for t in layer.tiles})
    w_step = max(t.w_step for t in layer.tiles)
    bound = row_blocks * (config.geometry.levels - 1) * w_step * 12.0 / (2**bits - 2)
    assert np.abs(y - ideal).max() <= bound + 1e-12
    assert np.abs(y - ideal).max() > 0.05 * bound  # the ADC really rounds


def test_finite_adc_spike_agreement_is_at_least_the_documented_fraction():
    """Documented: with a 9-bit ADC (bound 12) and no noise, >= 97 % of output spike entries agree."""
    for seed in range(3):
        graph = random_network(seed)
        config = replace(SMALL.ideal(), periphery=replace(SMALL.ideal().periphery, adc_bits=9, adc_bound=12.0))
        mapping = lower_to_crossbars(graph, config)
        x = spikes(seed, (40,), steps=200, batch=8)
        ref = spikec.simulate(mapping.graph, x, dt_s=DT)["out"]
        sim = simulate_rram(mapping, x, dt_s=DT)["out"]
        assert (sim == ref).mean() >= 0.97


def test_adc_clips_when_many_inputs_spike_at_once():
    w = np.ones((1, 64))
    tile, config = _one_tile(16, w, Periphery(dac_bits=None, adc_bits=None, adc_bound=12.0, out_noise=0.0))
    x = np.zeros((3, 64))
    x[0, :5], x[1, :12], x[2, :40] = 1, 1, 1
    np.testing.assert_allclose(read_tile(tile, x, config, None)[:, 0], [5.0, 12.0, 12.0])


def test_read_and_output_noise_have_the_documented_spread():
    rng_w = np.random.default_rng(0)
    w = rng_w.normal(size=(50, 100))
    device = DeviceModel(0.0, 40.0, read_sigma_rel=0.02)
    tile, config = _one_tile(16, w, Periphery(dac_bits=None, adc_bits=None, adc_bound=None, out_noise=0.0), device)
    x = (rng_w.random((1, 100)) < 0.3).astype(float)
    reads = read_tile(tile, np.repeat(x, 4000, axis=0), config, np.random.default_rng(1))
    ideal = x @ tile.tile.weights()
    unit = (config.geometry.levels - 1) * tile.tile.w_step  # weight of one full-scale cell
    expected = 0.02 * np.sqrt(2.0) * np.sqrt(x.sum()) * unit  # per cell sigma = 0.02 g_max, 2 cells per weight
    assert abs(reads.mean(axis=0) - ideal[0]).max() < 6 * expected / np.sqrt(4000)
    assert reads.std(axis=0).mean() == pytest.approx(expected, rel=0.03)
    tile, config = _one_tile(16, w, Periphery(dac_bits=None, adc_bits=None, adc_bound=None, out_noise=0.06))
    reads = read_tile(tile, np.repeat(x, 4000, axis=0), config, np.random.default_rng(2))
    assert reads.std(axis=0).mean() == pytest.approx(0.06 * unit, rel=0.03)


def test_noisy_runs_are_reproducible_for_a_seed():
    graph = random_network(7)
    config = replace(SMALL, device=replace(DeviceModel(0.0, 25.0, read_sigma_rel=0.01, stuck_off_rate=0.01),
                                           drift=Drift("power", nu_mean=0.05, nu_std=0.01)))
    mapping = lower_to_crossbars(graph, config)
    x = spikes(8, (40,), steps=80)
    a = simulate_rram(mapping, x, dt_s=DT, seed=3, t_s=3600.0, record=("v",))
    b = simulate_rram(mapping, x, dt_s=DT, seed=3, t_s=3600.0, record=("v",))
    c = simulate_rram(mapping, x, dt_s=DT, seed=4, t_s=3600.0, record=("v",))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["lif1.v"], c["lif1.v"])


def test_drift_compensation_restores_the_scale_of_power_law_drift():
    w = np.random.default_rng(0).normal(size=(30, 60))
    geometry = CrossbarGeometry(rows=60, cols=60, levels=16)
    device = DeviceModel(0.0, 25.0, drift=Drift("power", nu_mean=0.06, nu_std=0.0, t0_s=20.0))
    config = RramConfig(geometry=geometry, periphery=Periphery().ideal(), device=device)
    graph = Graph({"in": Input(shape=(60,)), "fc": Linear(weight=w), "out": Output(shape=(30,))}, [("in", "fc"), ("fc", "out")])
    mapping = lower_to_crossbars(graph, config)
    x = spikes(1, (60,), steps=50, batch=1)[:, 0]
    ideal = x @ mapping.graph.nodes["fc"].weight.T
    year = 365 * 86400.0
    plain = simulate_rram(mapping, x, t_s=year)["out"]
    fixed = simulate_rram(mapping, x, t_s=year, compensate_drift=True)["out"]
    np.testing.assert_allclose(plain, ideal * ((year + 20) / 20) ** -0.06, atol=1e-9)  # pure scale loss, about 0.49
    np.testing.assert_allclose(fixed, ideal, atol=1e-9)


def test_ir_drop_lowers_column_currents_and_vanishes_without_wire_resistance():
    w = np.abs(np.random.default_rng(2).normal(size=(4, 128)))
    x = np.ones((1, 128))
    tile, config = _one_tile(16, w, Periphery(dac_bits=None, adc_bits=None, adc_bound=None, out_noise=0.0, ir_drop_r_wire_ohm=0.0))
    clean = read_tile(tile, x, config, None)
    np.testing.assert_allclose(clean, x @ tile.tile.weights())
    def with_r(r_ohm: float) -> np.ndarray:
        return read_tile(tile, x, replace(config, periphery=replace(config.periphery, ir_drop_r_wire_ohm=r_ohm)), None)

    y1, y10 = with_r(1.0), with_r(10.0)
    assert (y10 < y1).all() and (y1 < clean).all() and (y10 > 0).all()


def test_monte_carlo_tables_are_reproducible_and_compensation_helps_power_law_drift():
    from spikec.backends.rram import compile_rram, drift_table, format_table, run

    mapping = compile_rram(random_network(0), "rram-512")
    x = spikes(0, (40,), steps=100, batch=4)
    times = {"1 s": 1.0, "1 year": 365 * 86400.0}
    plain = drift_table(mapping, x, dt_s=DT, trials=3, seed=1, read_times_s=times)
    again = drift_table(mapping, x, dt_s=DT, trials=3, seed=1, read_times_s=times)
    fixed = drift_table(mapping, x, dt_s=DT, trials=3, seed=1, read_times_s=times, compensate_drift=True)
    assert plain["1 year"].agreement == again["1 year"].agreement
    assert all(0.5 < a < 1.0 for a in plain["1 s"].agreement)  # noisy, but the same network
    assert plain["1 year"].agreement_mean < plain["1 s"].agreement_mean  # drift costs agreement
    assert fixed["1 year"].agreement_mean > plain["1 year"].agreement_mean  # and compensation wins some back
    assert "1 year" in format_table(plain)
    # run() with ideal=True is the float reference on the quantised graph
    np.testing.assert_array_equal(run(mapping, x, dt_s=DT, ideal=True)["out"], spikec.simulate(mapping.graph, x, dt_s=DT)["out"])
    np.testing.assert_array_equal(run(mapping, x, dt_s=DT, seed=5, t_s="1h")["out"],
                                  simulate_rram(mapping, x, dt_s=DT, seed=5, t_s=3600.0)["out"])


def test_compiled_rram_program_runs_on_reference_and_rram_and_survives_save(tmp_path):
    from spikec.backends.rram import run as run_rram
    from spikec.api import compile, run
    from spikec.compiler.program import load_program

    graph = spikec.load_nir(f"{FIXTURES}/braille_noDelay_bias_zero.nir")
    program = compile(graph, "rram-256", dt_s=DT)
    assert program.family == "rram" and program.report["crossbars"]["arrays"] == 1
    x = spikes(9, (12,), steps=100, batch=2, p=0.3)
    reference = run(program, x, backend="reference")["output"]
    np.testing.assert_array_equal(run_rram(program, x, ideal=True)["output"], reference)
    noisy = run(program, x, backend="rram")["output"]
    assert reference.sum() > 0 and noisy.shape == reference.shape
    program.save(tmp_path / "prog")
    loaded = load_program(tmp_path / "prog")
    assert loaded.same_as(program)
    np.testing.assert_array_equal(run(loaded, x, backend="rram")["output"], noisy)


def test_monte_carlo_command_prints_the_drift_table(tmp_path):
    from click.testing import CliRunner

    from spikec.backends.rram.__main__ import main
    from spikec.api import compile

    graph = spikec.load_nir(f"{FIXTURES}/braille_noDelay_bias_zero.nir")
    compile(graph, "rram-512", dt_s=DT).save(tmp_path / "prog")
    np.save(tmp_path / "x.npy", spikes(1, (12,), steps=60, batch=4, p=0.3))
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 3]))
    args = [str(tmp_path / "prog"), "--input", str(tmp_path / "x.npy"), "--trials", "2"]
    table = CliRunner().invoke(main, args + ["--labels", str(tmp_path / "y.npy")])
    assert table.exit_code == 0, table.output
    assert [line.split()[0] for line in table.output.splitlines()[2:]] == ["1", "1", "1", "1"]
    assert "accuracy" in table.output and "1 year" in table.output
    again = CliRunner().invoke(main, args + ["--labels", str(tmp_path / "y.npy")])
    assert again.output == table.output  # seeded
    one = CliRunner().invoke(main, args + ["--read-time", "1h"])
    assert one.exit_code == 0 and len(one.output.splitlines()) == 3
    bad = CliRunner().invoke(main, args + ["--read-time", "soon"])
    assert bad.exit_code == 2 and "duration" in bad.output


def test_ideal_simulator_matches_reference_on_conv1d_delay_scale_li_integrator_threshold_avgpool():
    from spikec.ir.nodes import IF, LI, AvgPool2d, Conv1d, Conv2d, Delay, Flatten, Integrator, Scale, Threshold

    rng = np.random.default_rng(11)
    nodes = {
        "in": Input(shape=(2, 12)),
        "c1": Conv1d(input_shape=(12,), weight=rng.normal(size=(3, 2, 3)), stride=(2,), padding=(1,), dilation=(1,),
                     groups=1, bias=rng.normal(size=3)),
        "flat": Flatten(input_shape=(3, 6), start_dim=0, end_dim=-1),
        "delay": Delay(delay=np.full(18, 3e-4)),
        "scale": Scale(scale=np.full(18, 1.5)),
        "if": IF(r=np.ones(18), v_threshold=np.ones(18), v_reset=np.zeros(18), reset="subtract"),
        "fc": Linear(weight=rng.normal(size=(16, 18))),
        "thr": Threshold(threshold=np.full(16, 0.5)),
        "li": LI(tau=np.full(16, 1e-3), r=np.ones(16), v_leak=np.zeros(16)),
        "integ": Integrator(r=np.full(16, 0.1)),
        "o1": Output(shape=(16,)),
        "o2": Output(shape=(16,)),
        "o3": Output(shape=(16,)),
    }
    edges = [("in", "c1"), ("c1", "flat"), ("flat", "delay"), ("delay", "scale"), ("scale", "if"), ("if", "fc"),
             ("fc", "thr"), ("fc", "li"), ("fc", "integ"), ("thr", "o1"), ("li", "o2"), ("integ", "o3")]
    graph = spikec.normalise(Graph(nodes, edges, {"dt_s": DT}))
    mapping = lower_to_crossbars(graph, RramConfig(geometry=CrossbarGeometry(4, 4, 8)))  # conv kernel matrix 6 rows: split
    x = spikes(12, (2, 12), steps=40, batch=3, p=0.4)
    ref = spikec.simulate(mapping.graph, x, dt_s=DT)
    sim = simulate_rram(mapping, x, dt_s=DT, config=mapping.config.ideal())
    assert ref["o1"].sum() > 0
    np.testing.assert_array_equal(sim["o1"], ref["o1"])
    for key in ("o2", "o3"):
        np.testing.assert_allclose(sim[key], ref[key], rtol=0, atol=1e-9)
    # avg pooling on a 2-d conv output
    pool = spikec.normalise(Graph({
        "in": Input(shape=(1, 6, 6)),
        "c": Conv2d(input_shape=(6, 6), weight=rng.normal(size=(2, 1, 3, 3)), stride=(1,), padding=(1,), dilation=(2,), groups=1, bias=np.zeros(2)),
        "p": AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)),
        "o": Output(shape=(2, 2, 2)),
    }, [("in", "c"), ("c", "p"), ("p", "o")]))
    m2 = lower_to_crossbars(pool, RramConfig())
    x2 = spikes(13, (1, 6, 6), steps=5, batch=2, p=0.5)
    np.testing.assert_allclose(simulate_rram(m2, x2, config=m2.config.ideal())["o"],
                               spikec.simulate(m2.graph, x2)["o"], rtol=0, atol=1e-9)
