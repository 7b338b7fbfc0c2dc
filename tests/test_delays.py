"""Delay quantisation and long delays on every target (issue 8).

Rounding (half to even) and the timing-error report; splitting a delay over
chained stages (Loihi relay populations, SpiNNaker delay extensions) is exact
and minimal; each family's reference program and native backend compute the
same spikes for delays beyond the target's per-synapse maximum; the SpiNNaker
users' reports as regression cases on every target; a delay-coded motif
detector. Lava runs (1-3 s each) are in ``test_delays_lava.py``.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import spikec
from spikec.backends.reference.loihi_executor import run_loihi
from spikec.backends.rram import run as run_rram
from spikec.compiler.loihi.nodes import Dense
from spikec.compiler.program import load_program
from spikec.compiler.quantise_delays import DelayLimits, delay_limits, layer_error, split_delay, split_delays
from spikec.compiler.spinnaker.delays import EXTENSION, add_delay_extensions
from spikec.compiler.target import load_target
from spikec.ir.errors import CompileError
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Delay, DelayLinear, Input, Output

DT = 1e-3
TARGETS = ("loihi2", "spinnaker1", "rram-512")


def coincidence_lif(n: int, threshold: float = 0.5) -> LIF:
    """tau = dt: v = r x every step (no memory), so the neuron fires exactly when its input exceeds threshold."""
    return LIF(tau=np.full(n, DT), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, threshold), v_reset=np.zeros(n))


def delay_linear_net(weight: np.ndarray, delay_steps: np.ndarray, threshold: float = 0.5, neuron: LIF | None = None) -> Graph:
    n_out, n_in = weight.shape
    nodes = {"in": Input(shape=(n_in,)), "dl": DelayLinear(weight=weight, delay=np.asarray(delay_steps) * DT),
             "o": neuron or coincidence_lif(n_out, threshold), "out": Output(shape=(n_out,))}
    return Graph(nodes, [("in", "dl"), ("dl", "o"), ("o", "out")])


def two_layer_net(rng: np.random.Generator, max_delay: int, n_in: int = 5, n_h: int = 6, n_out: int = 3) -> Graph:
    """in -DelayLinear-> h (LIF) -DelayLinear-> o (LIF), random weights and delays 1..max_delay."""
    def lif(n):
        return LIF(tau=np.full(n, 4 * DT), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 0.3), v_reset=np.zeros(n))
    d1 = rng.integers(1, max_delay + 1, (n_h, n_in)) + rng.uniform(-0.4, 0.4, (n_h, n_in))
    d2 = rng.integers(1, max_delay + 1, (n_out, n_h)) + rng.uniform(-0.4, 0.4, (n_out, n_h))
    nodes = {"in": Input(shape=(n_in,)), "d1": DelayLinear(weight=rng.uniform(0.2, 1.0, (n_h, n_in)), delay=d1 * DT), "h": lif(n_h),
             "d2": DelayLinear(weight=rng.uniform(0.3, 1.0, (n_out, n_h)), delay=d2 * DT), "o": lif(n_out), "out": Output(shape=(n_out,))}
    return Graph(nodes, [("in", "d1"), ("d1", "h"), ("h", "d2"), ("d2", "o"), ("o", "out")])


def float_and_program(graph: Graph, target: str, x: np.ndarray, backend: str = "reference") -> tuple[np.ndarray, np.ndarray]:
    """Float output and the program's output, aligned to float time (Loihi: minus the population's latency)."""
    f = spikec.simulate(graph, x, dt_s=DT)["out"]
    program = spikec.compile(graph, target, dt_s=DT, **({"fidelity_steps": 0} if target.startswith("loihi") else {}))
    if backend == "rram":
        q = run_rram(program, x, ideal=True)["out"]
    else:
        q = spikec.run(program, x, backend=backend)["out"]
    if program.family == "loihi":
        lag = program.graph.nodes["o"].latency_steps
        return f[: len(f) - lag], q[lag:]
    return f, q


# --- rounding and the report ------------------------------------------------------------------


def test_rounding_is_half_to_even_and_the_report_states_the_timing_error():
    r = layer_error(np.array([16.3, 16.5, 17.5, 2.0]) * DT, DT)
    assert r["groups"] == {"2": 1, "16": 2, "18": 1} and r["max_steps"] == 18
    assert r["max_error_steps"] == pytest.approx(0.5) and r["mean_error_steps"] == pytest.approx((0.3 + 0.5 + 0.5) / 4)
    assert r["max_error_s"] == pytest.approx(0.5 * DT)


@pytest.mark.parametrize("target", TARGETS)
def test_every_program_carries_the_delay_report(target):
    graph = delay_linear_net(np.ones((2, 3)), np.array([[0.2, 16.3, 40.0], [7.5, 8.5, 100.4]]))
    report = spikec.compile(graph, target, dt_s=DT, **({"fidelity_steps": 0} if target == "loihi2" else {})).report["delays"]
    layer = report["layers"]["dl"]
    assert layer["synapses"] == 6 and layer["max_error_steps"] == pytest.approx(0.5)
    assert layer["mean_error_steps"] == pytest.approx((0.2 + 0.3 + 0 + 0.5 + 0.5 + 0.4) / 6)
    assert layer["groups"] == {"0": 1, "16": 1, "40": 1, "8": 2, "100": 1}
    assert report["limits"]["max_total"] >= 100


def test_inspect_shows_the_delay_report(tmp_path):
    from click.testing import CliRunner

    from spikec.cli.main import cli

    graph = delay_linear_net(np.ones((2, 3)), np.array([[1, 70, 140], [3, 5, 9]]))
    spikec.compile(graph, "spinnaker1", dt_s=DT).save(tmp_path / "p")
    out = CliRunner().invoke(cli, ["inspect", str(tmp_path / "p")]).output
    assert "delays at dt 0.001 s, round half to even" in out and "delay extension stages of 31 steps" in out
    assert "stage chain in: 4 stages" in out


# --- splitting: exact and minimal --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(total=st.integers(0, 5000), row_max=st.integers(1, 70), relay=st.booleans())
def test_a_split_delay_adds_up_and_uses_the_fewest_stages(total, row_max, relay):
    """Loihi's relays (span row_max + 1, rest 0..row_max); SpiNNaker's extensions (span row_max, rest 1..row_max)."""
    row_min = 0 if relay else 1
    limits = DelayLimits(row_max=row_max, stage_span=row_max + 1 if relay else row_max, max_total=10**9, row_min=row_min)
    if total < row_min:
        return
    stages, rest = split_delay(total, limits)
    assert stages * limits.stage_span + rest == total and row_min <= rest <= row_max
    if stages:  # one stage fewer leaves more than a synapse holds
        assert total - (stages - 1) * limits.stage_span > row_max
    np.testing.assert_array_equal(split_delays(np.array([total]), limits)[0], [stages])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), max_delay=st.integers(1, 400))
def test_loihi_relay_chains_deliver_every_synapse_at_its_rounded_delay(seed, max_delay):
    rng = np.random.default_rng(seed)
    exact = rng.uniform(0, max_delay, (3, 4))
    graph = delay_linear_net(rng.uniform(0.5, 1, (3, 4)), exact)
    program = spikec.compile(graph, "loihi2", dt_s=DT, fidelity_steps=0)
    limits = delay_limits(load_target("loihi2"))
    total = np.full((3, 4), -1)
    for name, node in program.graph.items():
        if isinstance(node, Dense) and name.startswith("in->o"):
            k = int(name.split("~delay")[1]) if "~delay" in name else 0
            hit = node.weights != 0
            assert not (total[hit] >= 0).any()  # each synapse in exactly one stage
            total[hit] = k * limits.stage_span + node.delays[hit]
    np.testing.assert_array_equal(total, np.rint(exact))
    relays = [n for n in program.graph.nodes if n.startswith("in~delay") and not n.endswith(".in")]
    stages = -(-(int(np.rint(exact).max()) - limits.row_max) // limits.stage_span) if np.rint(exact).max() > limits.row_max else 0
    assert len(relays) == stages  # the fewest: one relay per 64 steps beyond 63


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), max_delay=st.integers(1, 144))
def test_spinnaker_delay_extensions_deliver_every_synapse_at_its_delay(seed, max_delay):
    rng = np.random.default_rng(seed)
    graph = delay_linear_net(rng.uniform(0.5, 1, (3, 4)), rng.integers(1, max_delay + 1, (3, 4)))
    program = spikec.compile(graph, "spinnaker1", dt_s=DT)
    net = program.artefacts["spinnaker"].network
    limits = delay_limits(load_target("spinnaker1"))
    split, extensions = add_delay_extensions(net, limits)
    want = {(int(a), int(b)): p.delay for p in net.projections for a, b in zip(p.pre_index, p.post_index)}
    got = {}
    for p in split.projections:
        assert 1 <= p.delay <= limits.row_max
        stage = p.pre_index // 4 + 1 if p.pre.endswith(EXTENSION) else np.zeros_like(p.pre_index)
        for a, b, s in zip(p.pre_index % 4, p.post_index, stage):
            got[(int(a), int(b))] = int(s) * limits.stage_span + p.delay
    assert got == want
    longest = max(want.values())
    assert sum(e.stages for e in extensions.values()) == (-(-(longest - 31) // 31) if longest > 31 else 0)


def test_loihi_relays_compute_exactly_what_the_unsplit_delays_compute():
    graph = two_layer_net(np.random.default_rng(3), 300)
    program = spikec.compile(graph, "loihi2", dt_s=DT, fidelity_steps=0)
    unsplit = spikec.compile(graph, "loihi2", dt_s=DT, fidelity_steps=0, dump_after="quantise-loihi").graph
    assert max(int(d.delays.max()) for d in unsplit.nodes.values() if isinstance(d, Dense)) > 200
    assert max(int(d.delays.max()) for d in program.graph.nodes.values() if isinstance(d, Dense)) <= 63
    x = (np.random.default_rng(4).random((700, 2, 5)) < 0.3).astype(float)
    fmt = load_target("loihi2").numeric
    a, b = run_loihi(unsplit, fmt, x, record=("v",)), run_loihi(program.graph, fmt, x, record=("v",))
    for key in ("out", "h.v", "o.v"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["out"].sum() > 10
    cost = program.report["delays"]["cost"]
    assert cost["neurons"] == sum(5 * r["stages"] if r["source"] == "in" else 6 * r["stages"] for r in program.report["delays"]["stages"])
    assert cost["cores"] >= len(program.report["delays"]["stages"])  # placed: each relay population on a core


# --- backends against their reference, delays beyond the native maximum --------------------------


def test_spinnaker_machine_matches_reference_with_delay_extensions_and_survives_save_load(tmp_path):
    graph = two_layer_net(np.random.default_rng(5), 140)
    program = spikec.compile(graph, "spinnaker1", dt_s=DT)
    assert program.report["delays"]["cost"]["cores"] >= 2
    x = (np.random.default_rng(6).random((400, 2, 5)) < 0.3).astype(float)
    ref = spikec.run(program, x)["out"]
    np.testing.assert_array_equal(spikec.run(program, x, backend="spinnaker")["out"], ref)
    program.save(tmp_path / "p")
    np.testing.assert_array_equal(spikec.run(load_program(tmp_path / "p"), x, backend="spinnaker")["out"], ref)
    assert ref.sum() > 10


def test_rram_simulator_matches_reference_with_per_synapse_delays():
    graph = two_layer_net(np.random.default_rng(7), 300)
    program = spikec.compile(graph, "rram-512", dt_s=DT)
    x = (np.random.default_rng(8).random((700, 2, 5)) < 0.3).astype(float)
    ref = spikec.run(program, x)["out"]
    np.testing.assert_array_equal(run_rram(program, x, ideal=True)["out"], ref)
    assert ref.sum() > 10 and program.report["delays"]["cost"]["buffer_entries"] > 0


@pytest.mark.parametrize("target", TARGETS)
def test_the_program_keeps_the_float_timing_of_random_long_delays(target):
    """A delay-only network (each output fires exactly when its delayed input arrives): float == program."""
    rng = np.random.default_rng(11)
    top = {"loihi2": 400, "spinnaker1": 144, "rram-512": 400}[target]
    steps = rng.integers(1, top + 1, 6)
    steps[:3] = [top, 1, 64 if top > 64 else 32]
    graph = delay_linear_net(np.eye(6), np.diag(steps))
    x = (rng.random((top + 80, 6)) < 0.05).astype(float)
    f, q = float_and_program(graph, target, x)
    np.testing.assert_array_equal(q, f)
    assert f.sum() > 5


# --- SpiNNaker users' reports, on every target ---------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("steps", [16.3, 16.49, 16.5, 32.4, 63.6, 64.5])
def test_a_delay_just_above_a_slot_boundary_compiles_and_runs_on_time(target, steps):
    graph = delay_linear_net(np.array([[1.0, 1.0]]), np.array([[steps, 1.0]]))
    x = np.zeros((90, 2))
    x[[3, 20], 0] = 1
    f, q = float_and_program(graph, target, x)
    expected = np.zeros(90)
    expected[[3 + int(np.rint(steps)), 20 + int(np.rint(steps))]] = 1  # round half to even: 16.5 -> 16, 64.5 -> 64
    np.testing.assert_array_equal(f[:, 0], expected[: len(f)])
    np.testing.assert_array_equal(q, f)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("form", ["DelayLinear", "Delay"])
def test_a_delay_beyond_every_limit_fails_the_compile_with_node_and_figure(target, form):
    steps = 100_000  # beyond Loihi's 1023, SpiNNaker's 1023 and RRAM's 16 x 4096
    if form == "DelayLinear":
        graph = delay_linear_net(np.array([[1.0, 1.0]]), np.array([[steps, 2.0]]))
    else:
        nodes = {"in": Input(shape=(2,)), "dl": Delay(delay=np.full(2, steps * DT)), "o": coincidence_lif(2), "out": Output(shape=(2,))}
        graph = Graph(nodes, [("in", "dl"), ("dl", "o"), ("o", "out")])
    with pytest.raises(CompileError) as info:
        spikec.compile(graph, target, dt_s=DT)
    err = info.value
    assert err.value == steps and err.limit == delay_limits(load_target(target)).max_total, str(err)
    assert "dl" in str(err) or err.node in ("dl", "o"), str(err)
    assert str(steps) in str(err) and "bound by" in str(err), str(err)  # names the figure that bounds the chain


# --- motif detection ------------------------------------------------------------------------------

MOTIF_DELAYS = np.array([[70.3, 35.2, 0.4]])  # input i at 5 + 35 i arrives at 75 on every synapse


def motif_inputs() -> np.ndarray:
    """Batch 0: the motif (0, then 1, then 2, 35 steps apart); batch 1: the same spikes reversed."""
    x = np.zeros((170, 2, 3))
    for i in range(3):
        x[5 + 35 * i, 0, i] = 1
        x[5 + 35 * i, 1, 2 - i] = 1
    return x


@pytest.mark.parametrize("target", [None, *TARGETS])
def test_a_delay_coded_neuron_fires_for_its_motif_and_not_for_it_reversed(target):
    graph = delay_linear_net(np.ones((1, 3)), MOTIF_DELAYS, threshold=2.5)
    x = motif_inputs()
    if target is None:
        out = spikec.simulate(graph, x, dt_s=DT)["out"]
    else:
        out = float_and_program(graph, target, x)[1]
    np.testing.assert_array_equal(np.flatnonzero(out[:, 0, 0]), [75])
    assert out[:, 1].sum() == 0


@pytest.mark.parametrize("target,backend", [("spinnaker1", "spinnaker"), ("rram-512", "rram")])  # Lava: test_delays_lava.py
def test_the_motif_detector_runs_on_the_backend(target, backend):
    graph = delay_linear_net(np.ones((1, 3)), MOTIF_DELAYS, threshold=2.5)
    out = float_and_program(graph, target, motif_inputs(), backend=backend)[1]
    np.testing.assert_array_equal(np.flatnonzero(out[:, 0, 0]), [75])
    assert out[:, 1].sum() == 0


@pytest.mark.parametrize("target,backend", [("spinnaker1", "spinnaker"), ("rram-512", "rram"), ("loihi2", "reference")])
def test_per_element_delay_nodes_keep_the_float_timing(target, backend):
    """A Delay node whose elements differ (SpiNNaker once refused it): each row its own delay, some extended."""
    steps = np.array([0.4, 5.0, 16.5, 33.0, 70.2, 140.0])
    nodes = {"in": Input(shape=(6,)), "dl": Delay(delay=steps * DT), "o": coincidence_lif(6), "out": Output(shape=(6,))}
    graph = Graph(nodes, [("in", "dl"), ("dl", "o"), ("o", "out")])
    x = (np.random.default_rng(2).random((220, 6)) < 0.05).astype(float)
    f, q = float_and_program(graph, target, x, backend=backend)
    np.testing.assert_array_equal(q, f)
    assert f.sum() > 20
