"""The event-driven SpiNNaker machine against the SpiNNaker reference executor.

Both run the same compiled program: the reference from the quantised network
(dense matrices), the machine from the routing tables, keys, master population
tables and synaptic rows only. Spikes must be equal bit for bit, and a
corrupted routing entry or row word must break the equality.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.backends import spinnaker as spinnaker_backend
from spikec.backends.reference import run as reference_run
from spikec.backends.reference.float_executor import simulate
from spikec.backends.reference.spinnaker_executor import run_network
from spikec.compiler.spinnaker.routing_table import RoutingEntry, RoutingTable
from spikec.compiler.spinnaker.compile import SpiNNakerProgram, compile_event_tables
from spikec.compiler.spinnaker.place import SpiNNakerMachine
from spikec.compiler.spinnaker.rows import CoreSynapses
from spikec.ir.graph import Graph
from spikec.ir.nodes import IF, LI, LIF, Affine, CubaLIF, Delay, Input, Linear, Output

NIR_PAPER = Path("/work/shared/fixtures/nir-paper")
DT = 1e-3


def lif(n: int, rng: np.random.Generator, reset: str = "zero", reset_delay: bool = False) -> LIF:
    return LIF(tau=rng.uniform(5e-3, 20e-3, n), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
               v_reset=np.zeros(n), reset=reset, reset_delay=reset_delay)


def cuba(n: int, rng: np.random.Generator, reset: str = "subtract") -> CubaLIF:
    return CubaLIF(tau_syn=np.full(n, 5e-3), tau_mem=rng.uniform(5e-3, 20e-3, n), r=np.ones(n), v_leak=np.zeros(n),
                   v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.ones(n), reset=reset)


def weights(n_out: int, n_in: int, rng: np.random.Generator, density: float, gain: float) -> np.ndarray:
    w = rng.normal(0.3, 1.0, (n_out, n_in)) * gain
    return w * (rng.random((n_out, n_in)) < density)


def random_network(seed: int, sizes: tuple[int, ...], recurrent: bool = False, delay_steps: int = 0) -> Graph:
    """Input -> (Linear -> neurons) per size -> Output; optional recurrence on the first layer and a Delay."""
    rng = np.random.default_rng(seed)
    nodes = {"in": Input(shape=(sizes[0],))}
    edges = []
    prev = "in"
    kinds = [lif, cuba, lambda n, r: IF(r=np.ones(n), v_threshold=np.full(n, 2.0), v_reset=np.zeros(n))]
    for i, n in enumerate(sizes[1:]):
        w = f"w{i}"
        nodes[w] = Linear(weight=weights(n, sizes[i], rng, 0.3, 20.0 / np.sqrt(sizes[i])))
        edges += [(prev, w)]
        layer = f"l{i}"
        nodes[layer] = kinds[i % 3](n, rng)
        if i == 0 and delay_steps:
            nodes["d0"] = Delay(delay=np.full(n, delay_steps * DT))
            edges += [(w, "d0"), ("d0", layer)]
        else:
            edges += [(w, layer)]
        if recurrent and i == 0:
            nodes["rec"] = Linear(weight=weights(n, n, rng, 0.2, 5.0 / np.sqrt(n)))
            edges += [(layer, "rec"), ("rec", layer)]
        prev = layer
    nodes["out"] = Output(shape=(sizes[-1],))
    edges.append((prev, "out"))
    return Graph(nodes, tuple(edges), {"dt_s": DT})


def input_spikes(seed: int, steps: int, n: int, batch: int = 2, rate: float = 0.15) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, n)) < rate).astype(np.float64)


SMALL = SpiNNakerMachine(width=2, height=2, cores_per_chip=4, neurons_per_core=32, routing_table_entries=1023)
GRID = SpiNNakerMachine(width=4, height=3, cores_per_chip=3, neurons_per_core=64, routing_table_entries=1023)


def assert_machine_matches_reference(program: SpiNNakerProgram, x: np.ndarray):
    ref = run_network(program.network, x)
    out, stats = spinnaker_backend.run_with_stats(program, x)
    assert set(out) == set(ref)
    for name in ref:
        np.testing.assert_array_equal(out[name], ref[name])
    return ref, stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_machine_matches_reference_on_random_feed_forward_networks(seed):
    program = compile_event_tables(random_network(seed, (20, 40, 30, 10)), machine=SMALL)
    ref, stats = assert_machine_matches_reference(program, input_spikes(seed, 60, 20))
    assert ref["out"].sum() > 0, "a test network that never spikes proves nothing"
    assert stats.synaptic_events > 0 and stats.packets > 0


@pytest.mark.parametrize("seed", [3, 4])
def test_machine_matches_reference_on_recurrent_networks_with_delays(seed):
    program = compile_event_tables(random_network(seed, (16, 48, 12), recurrent=True, delay_steps=3), machine=SMALL)
    ref, _ = assert_machine_matches_reference(program, input_spikes(seed, 80, 16))
    assert ref["out"].sum() > 0


def test_layers_bigger_than_a_core_are_split_over_cores_and_chips_and_still_match():
    program = compile_event_tables(random_network(7, (100, 300, 200, 50)), machine=GRID)
    art = program.artefacts
    chips = {c.location[:2] for c in art.cores}
    assert len(art.cores) > 10 and len(chips) >= 4
    ref, stats = assert_machine_matches_reference(program, input_spikes(7, 40, 100, batch=1))
    assert ref["out"].sum() > 0
    assert stats.hops > 0


@pytest.mark.parametrize("name", ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"])
def test_machine_matches_reference_on_the_braille_fixtures(name):
    path = NIR_PAPER / f"{name}.nir"
    if not path.exists():
        pytest.skip("nir-paper fixtures not present")
    graph = spikec.load_nir(path, reset="subtract" if "subtract" in name else "zero")
    program = compile_event_tables(graph, None, 1e-4, machine=SMALL)
    x = input_spikes(11, 150, 12, batch=3, rate=0.2)
    ref, _ = assert_machine_matches_reference(program, x)
    assert ref["output"].sum() > 0
    # The time alignment keeps the graph's timing: the float reference agrees on most entries.
    float_out = simulate(graph, x, 1e-4)["output"]
    assert (float_out == ref["output"]).mean() > 0.95


def test_reference_dispatch_runs_the_spinnaker_family():
    program = compile_event_tables(random_network(5, (10, 20, 5)), machine=SMALL)
    x = input_spikes(5, 30, 10)
    np.testing.assert_array_equal(reference_run(program, x)["out"], run_network(program.network, x)["out"])


def _with_tables(program: SpiNNakerProgram, tables) -> SpiNNakerProgram:
    return replace(program, artefacts=replace(program.artefacts, routing_tables=tables))


def test_corrupting_one_routing_entry_breaks_equivalence():
    program = compile_event_tables(random_network(8, (20, 60, 40, 10)), machine=SMALL)
    x = input_spikes(8, 60, 20)
    ref = run_network(program.network, x)["out"]
    tables = dict(program.artefacts.routing_tables)
    # Drop one core from the route of an entry that reaches a core of the output layer's source.
    broken = False
    for chip, table in tables.items():
        entries = list(table.entries)
        for i, e in enumerate(entries):
            cores = e.route >> 6
            if cores:
                lowest = cores & -cores
                entries[i] = RoutingEntry(e.key, e.mask, e.route & ~(lowest << 6), e.defaultable)
                tables[chip] = RoutingTable(tuple(entries), chip)
                out = spinnaker_backend.run(_with_tables(program, tables), x)["out"]
                broken = not np.array_equal(out, ref)
                break
        if broken or tables[chip] is not table:
            break
    assert broken


def test_corrupting_one_synaptic_word_breaks_equivalence():
    program = compile_event_tables(random_network(9, (20, 30, 10)), machine=SMALL)
    x = input_spikes(9, 60, 20, rate=0.3)
    ref = run_network(program.network, x, record=("v",))
    art = program.artefacts
    cores = list(art.cores)
    target = next(i for i, c in enumerate(cores) if c.vertex.population == "l0")
    syn = cores[target].synapses
    entry = syn.master_pop[0]  # rows of the first input vertex
    source = next(c for c in cores if c.key_base == entry.key).vertex
    fired = x[:, 0, source.lo:source.hi].sum(axis=0)
    row = next(r for r in np.argsort(-fired) if syn.words[entry.address + r * entry.row_stride + 1] > 0)
    words = syn.words.copy()
    at = entry.address + row * entry.row_stride + 3
    # same target neuron and delay, but the largest excitatory weight
    words[at] = (0xFFFF << 16) | (int(words[at]) & ((1 << 16) - 1) & ~(1 << art.word_format.index_bits))
    cores[target] = replace(cores[target], synapses=CoreSynapses(words, syn.master_pop))
    broken = replace(program, artefacts=replace(art, cores=tuple(cores)))
    out = spinnaker_backend.run(broken, x, record=("v",))
    assert not np.array_equal(out["l0.v"], ref["l0.v"])
    healthy = spinnaker_backend.run(program, x, record=("v",))
    np.testing.assert_array_equal(healthy["l0.v"], ref["l0.v"])


def test_machine_reads_artefacts_not_the_graph():
    program = compile_event_tables(random_network(10, (12, 24, 6)), machine=SMALL)
    x = input_spikes(10, 40, 12)
    expected = spinnaker_backend.run(program, x)["out"]
    stripped = SpiNNakerProgram(network=None, artefacts=program.artefacts)  # type: ignore[arg-type]
    np.testing.assert_array_equal(spinnaker_backend.run(stripped, x)["out"], expected)


@pytest.mark.slow
def test_machine_matches_reference_on_a_few_thousand_neurons_over_many_chips():
    machine = SpiNNakerMachine(width=6, height=6, cores_per_chip=8, neurons_per_core=64, routing_table_entries=1023)
    program = compile_event_tables(random_network(12, (500, 1500, 1000, 200), recurrent=True), machine=machine)
    assert len({c.location[:2] for c in program.artefacts.cores}) >= 6
    ref, _ = assert_machine_matches_reference(program, input_spikes(12, 30, 500, batch=1))
    assert ref["out"].sum() > 0


def test_machine_matches_reference_on_a_torus():
    torus = replace(GRID, wrap_around=True)
    program = compile_event_tables(random_network(13, (60, 200, 120, 30), recurrent=True), machine=torus)
    ref, stats = assert_machine_matches_reference(program, input_spikes(13, 30, 60, batch=1))
    assert ref["out"].sum() > 0 and stats.hops > 0


def test_spikec_compile_for_the_spinnaker1_target_runs_on_both_backends():
    from spikec.api import compile as spikec_compile, run as spikec_run

    program = spikec_compile(random_network(14, (16, 32, 8)), "spinnaker1")
    x = input_spikes(14, 30, 16)
    np.testing.assert_array_equal(spikec_run(program, x, backend="spinnaker")["out"], spikec_run(program, x)["out"])


def test_a_saved_spinnaker_program_loads_and_runs_identically(tmp_path):
    from spikec.api import compile as spikec_compile, run as spikec_run
    from spikec.compiler.program import load_program

    program = spikec_compile(random_network(15, (16, 40, 8), recurrent=True), "spinnaker1")
    program.save(tmp_path / "p")
    loaded = load_program(tmp_path / "p")
    assert loaded.family == "spinnaker" and program.report["spinnaker"]["cores"] >= 3
    x = input_spikes(15, 40, 16)
    expected = spikec_run(program, x, backend="spinnaker")["out"]
    np.testing.assert_array_equal(spikec_run(loaded, x, backend="spinnaker")["out"], expected)
    np.testing.assert_array_equal(spikec_run(loaded, x)["out"], expected)
    assert loaded.artefacts["spinnaker"].to_bytes() == program.artefacts["spinnaker"].to_bytes()


def test_per_synapse_delays_of_delay_linear_become_row_delays():
    from spikec.ir.nodes import DelayLinear

    rng = np.random.default_rng(16)
    w = weights(20, 12, rng, 0.5, 6.0)
    delays = rng.integers(0, 6, w.shape) * DT
    graph = Graph({"in": Input(shape=(12,)), "dl": DelayLinear(weight=w, delay=delays), "n": lif(20, rng),
                   "out": Output(shape=(20,))}, (("in", "dl"), ("dl", "n"), ("n", "out")), {"dt_s": DT})
    program = compile_event_tables(graph, machine=SMALL)
    assert len({p.delay for p in program.network.projections}) > 3
    x = input_spikes(16, 60, 12, rate=0.3)
    ref, _ = assert_machine_matches_reference(program, x)
    assert ref["out"].sum() > 0
    assert (simulate(graph, x, DT)["out"] == ref["out"]).mean() > 0.95


def test_machine_matches_reference_on_the_sinabs_cnn_fixture():
    path = NIR_PAPER / "cnn_sinabs.nir"
    if not path.exists():
        pytest.skip("nir-paper fixtures not present")
    graph = spikec.load_nir(path)
    machine = SpiNNakerMachine(width=4, height=4, cores_per_chip=16, neurons_per_core=256, routing_table_entries=1023)
    program = compile_event_tables(graph, None, 1e-4, machine=machine)
    x = (np.random.default_rng(17).random((25, 1, 2, 34, 34)) < 0.1).astype(np.float64)
    ref, stats = assert_machine_matches_reference(program, x)
    assert stats.synaptic_events > 10_000
    # fidelity, not equivalence: worst-case ring-buffer shifts cost the large conv fan-ins weight bits
    assert (simulate(graph, x, 1e-4)["output"] == ref["output"]).mean() > 0.9


def li_chain_network(seed: int, n_in: int = 12, n_hidden: int = 24, n: int = 40) -> Graph:
    """Input -> LIF -> Affine -> LI (current) -> LI (membrane) -> Output: Norse's LILinearCell read-out,
    with random taus, gains, leaks and biases (the current's leak and bias go into j, the membrane's leak into v)."""
    rng = np.random.default_rng(seed)
    li = lambda tau_lo, tau_hi: LI(tau=rng.uniform(tau_lo, tau_hi, n), r=rng.uniform(0.5, 2.0, n), v_leak=rng.uniform(-0.3, 0.3, n))  # noqa: E731
    nodes = {"in": Input(shape=(n_in,)), "w0": Linear(weight=weights(n_hidden, n_in, rng, 0.5, 8.0 / np.sqrt(n_in))),
             "h": lif(n_hidden, rng), "w1": Affine(weight=weights(n, n_hidden, rng, 0.5, 2.0), bias=rng.normal(0, 0.2, n)),
             "syn": li(DT, 6 * DT), "mem": li(3 * DT, 20 * DT), "out": Output(shape=(n,))}
    edges = (("in", "w0"), ("w0", "h"), ("h", "w1"), ("w1", "syn"), ("syn", "mem"), ("mem", "out"))
    return Graph(nodes, edges, {"dt_s": DT})


@pytest.mark.parametrize("seed", [20, 21, 22])
def test_machine_matches_reference_bit_for_bit_on_a_fused_li_chain_including_v(seed):
    """An LI -> LI pair is one cuba_li population (split over two cores here): every population's spikes
    and v on the event machine equal the reference's, and the read-out follows the float model."""
    graph = li_chain_network(seed)
    program = compile_event_tables(graph, machine=SMALL)
    pops = {p.name: p for p in program.network.populations}
    assert "syn" not in pops and pops["mem"].params.model == "cuba_li"
    assert len([c for c in program.artefacts.cores if c.vertex.population == "mem"]) == 2
    x = input_spikes(seed, 60, 12, rate=0.3)
    ref = run_network(program.network, x, record=("v", "s"))
    out = spinnaker_backend.run(program, x, record=("v",))
    for key in ("out", "h.v", "mem.v"):
        np.testing.assert_array_equal(out[key], ref[key])
    np.testing.assert_array_equal(ref["mem.v"], ref["out"])
    assert ref["h.s"].sum() > 0 and np.abs(ref["out"]).max() > 0.1
    # the same step as the float model (a one-step lag would be far off: see the test below)
    want = simulate(graph, x, DT)["out"]
    assert np.abs(ref["out"] - want).max() < 0.02 * np.abs(want).max()


def test_a_fused_li_chain_program_saves_loads_and_runs_identically(tmp_path):
    from spikec.api import compile as spikec_compile, run as spikec_run
    from spikec.compiler.program import load_program

    program = spikec_compile(li_chain_network(23), "spinnaker1")
    assert "LI chain syn -> mem fused into one cuba_li population 'mem'" in program.report["spinnaker"]["notes"]
    program.save(tmp_path / "p")
    loaded = load_program(tmp_path / "p")
    x = input_spikes(23, 40, 12, rate=0.3)
    expected = spikec_run(program, x, record=("v",))
    for got in (spikec_run(loaded, x, record=("v",)), spikec_run(loaded, x, backend="spinnaker", record=("v",))):
        for key in ("out", "mem.v"):
            np.testing.assert_array_equal(got[key], expected[key])
    assert loaded.artefacts["spinnaker"].to_bytes() == program.artefacts["spinnaker"].to_bytes()
