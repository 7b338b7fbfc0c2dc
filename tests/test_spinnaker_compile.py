"""SpiNNaker compile stages: partition, keys, routes, compression under pressure, rows, limits."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from test_spinnaker_machine import SMALL, input_spikes, random_network  # noqa: E402

from spikec.backends import spinnaker as spinnaker_backend
from spikec.backends.reference.spinnaker_executor import run_network
from spikec.compiler.spinnaker.quantise import quantise_spinnaker
from spikec.compiler.spinnaker.routing_table import LINK_DELTAS, N_LINKS, NO_ROUTE, opposite_link
from spikec.compiler.spinnaker.compile import compile_event_tables
from spikec.compiler.spinnaker.partition import partition
from spikec.compiler.spinnaker.place import SpiNNakerMachine
from spikec.ir.errors import CompileError

GOLDEN = Path(__file__).parent / "golden" / "spinnaker_small_tables.txt"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=4), st.integers(1, 300))
def test_partition_covers_every_neuron_exactly_once(sizes, per_core):
    graph = random_network(0, tuple(sizes) if len(sizes) > 1 else (sizes[0], 3))
    net = quantise_spinnaker(graph, None)
    vertices = partition(net, per_core)
    for pop in net.populations:
        covered = np.zeros(pop.size, dtype=np.int64)
        for v in vertices:
            if v.population == pop.name:
                assert 0 < v.size <= per_core
                covered[v.lo:v.hi] += 1
        np.testing.assert_array_equal(covered, np.ones(pop.size, dtype=np.int64))
    assert [v.index for v in vertices] == list(range(len(vertices)))


def walk(art, key: int, chip: tuple[int, int]) -> list[tuple[int, int, int]]:
    """Follow one packet through the loaded tables (independently of the machine); cores reached."""
    reached, frontier, seen_hops = [], [(chip, None)], 0
    while frontier:
        (x, y), arrival = frontier.pop()
        seen_hops += 1
        assert seen_hops < 10_000, "routing loop"
        table = art.routing_tables.get((x, y))
        route = table.lookup(key) if table is not None else NO_ROUTE
        if route == NO_ROUTE:
            assert arrival is not None, f"packet 0x{key:x} dropped at its source chip"
            route = 1 << arrival  # default routing: straight on
        for link in range(N_LINKS):
            if route >> link & 1:
                dx, dy = LINK_DELTAS[link]
                nxt = (x + dx, y + dy)
                assert 0 <= nxt[0] < art.machine.width and 0 <= nxt[1] < art.machine.height
                frontier.append((nxt, link))
        cores = route >> N_LINKS
        reached += [(x, y, c) for c in range(cores.bit_length()) if cores >> c & 1]
    return reached


@pytest.mark.parametrize("seed, limit", [(0, 1023), (1, 1023), (2, 6)])
def test_every_source_reaches_every_target_core_exactly_once(seed, limit):
    machine = SpiNNakerMachine(width=4, height=4, cores_per_chip=2, neurons_per_core=16,
                               routing_table_entries=limit)
    program = compile_event_tables(random_network(seed, (30, 50, 40, 20), recurrent=True), machine=machine)
    art, net = program.artefacts, program.network
    # expected targets, from the synapse lists (not from the compiler's routing code)
    location = {(c.vertex.population, i): c.location for c in art.cores for i in range(c.vertex.lo, c.vertex.hi)}
    for core in art.cores:
        v = core.vertex
        expected = set()
        for proj in net.projections:
            if proj.pre == v.population:
                sel = (proj.pre_index >= v.lo) & (proj.pre_index < v.hi)
                expected |= {location[(proj.post, int(i))] for i in np.unique(proj.post_index[sel])}
        if not expected:  # nothing listens: the core sends no packets
            assert not core.sends
            continue
        assert core.sends
        reached = walk(art, core.key_base, core.location[:2])
        assert sorted(reached) == sorted(expected)
    assert max(len(t) for t in art.routing_tables.values()) <= limit


def test_a_tight_router_is_compressed_and_the_machine_still_matches():
    roomy = SpiNNakerMachine(width=3, height=3, cores_per_chip=2, neurons_per_core=8, routing_table_entries=1023)
    tight = SpiNNakerMachine(width=3, height=3, cores_per_chip=2, neurons_per_core=8, routing_table_entries=5)
    graph = random_network(4, (24, 40, 24, 8))
    before = compile_event_tables(graph, machine=roomy).artefacts
    program = compile_event_tables(graph, machine=tight)
    busiest = max(before.table_reports, key=lambda r: r.without_defaults)
    assert busiest.without_defaults > 5  # compression was needed...
    report = {r.chip: r for r in program.artefacts.table_reports}[busiest.chip]
    assert report.loaded <= 5 and report.method != "remove-defaults"  # ...and applied
    x = input_spikes(4, 50, 24)
    np.testing.assert_array_equal(spinnaker_backend.run(program, x)["out"], run_network(program.network, x)["out"])


def test_a_router_too_small_fails_with_chip_entries_and_limit():
    machine = SpiNNakerMachine(width=3, height=3, cores_per_chip=2, neurons_per_core=8, routing_table_entries=1)
    with pytest.raises(CompileError, match=r"chip \(\d+, \d+\): routing table needs \d+ entries .* holds 1") as err:
        compile_event_tables(random_network(4, (24, 40, 24, 8)), machine=machine)
    assert err.value.limit == 1


def test_too_few_cores_fails_with_the_count():
    machine = SpiNNakerMachine(width=1, height=1, cores_per_chip=2, neurons_per_core=8, routing_table_entries=1023)
    with pytest.raises(CompileError, match="the machine has 2"):
        compile_event_tables(random_network(0, (24, 40, 8)), machine=machine)


def test_synaptic_rows_hold_exactly_the_quantised_synapses():
    program = compile_event_tables(random_network(5, (30, 50, 20), recurrent=True, delay_steps=2), machine=SMALL)
    art, net = program.artefacts, program.network
    fmt = art.word_format
    vertex_of_key = {c.key_base: c.vertex for c in art.cores}
    from_rows = []
    for core in art.cores:
        if core.synapses is None:
            continue
        for entry in core.synapses.master_pop:
            src = vertex_of_key[entry.key]
            for row in range(entry.n_rows):
                at = entry.address + row * entry.row_stride
                n = int(core.synapses.words[at + 1])
                w, d, t, i = fmt.decode(core.synapses.words[at + 3: at + 3 + n])
                assert (w > 0).all()  # zeros are never stored
                from_rows += [(src.population, src.lo + row, core.vertex.population, core.vertex.lo + int(ii),
                               int(ww), int(tt), int(dd)) for ww, dd, tt, ii in zip(w, d, t, i)]
    from_net = [(p.pre, int(a), p.post, int(b), int(w), int(t), p.delay)
                for p in net.projections for a, b, w, t in zip(p.pre_index, p.post_index, p.weight, p.synapse_type)]
    assert sorted(from_rows) == sorted(from_net)


def test_synaptic_memory_limit_splits_a_layer_further():
    graph = random_network(6, (200, 64, 8))
    loose = compile_event_tables(graph, machine=SMALL)
    bytes_needed = max(c.synapses.n_bytes for c in loose.artefacts.cores if c.synapses is not None)
    tight = SpiNNakerMachine(width=2, height=2, cores_per_chip=8, neurons_per_core=32, routing_table_entries=1023,
                             synaptic_bytes_per_core=bytes_needed // 2)
    program = compile_event_tables(graph, machine=tight)
    assert len(program.artefacts.cores) > len(loose.artefacts.cores)
    assert all(c.synapses.n_bytes <= bytes_needed // 2 for c in program.artefacts.cores if c.synapses is not None)


def render_tables(art) -> str:
    lines = [f"# spikec SpiNNaker routing tables ({art.format_version}); key mask route"]
    for chip, table in sorted(art.routing_tables.items()):
        lines.append(f"chip {chip[0]} {chip[1]}: {len(table)} entries")
        lines += [f"  0x{e.key:08X} 0x{e.mask:08X} 0x{e.route:08X}  {e}" for e in table]
    lines.append("placement (vertex population lo hi x y core key)")
    lines += [f"  {c.vertex.index} {c.vertex.population} {c.vertex.lo} {c.vertex.hi} {c.location[0]} {c.location[1]} "
              f"{c.location[2]} 0x{c.key_base:08X}" for c in art.cores]
    return "\n".join(lines) + "\n"


def test_golden_small_routing_tables():
    """Regenerate with SPIKEC_REGEN_GOLDEN=1 (never silently)."""
    machine = SpiNNakerMachine(width=3, height=2, cores_per_chip=2, neurons_per_core=8, routing_table_entries=1023)
    text = render_tables(compile_event_tables(random_network(1, (12, 20, 10, 4)), machine=machine).artefacts)
    if os.environ.get("SPIKEC_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert GOLDEN.exists(), "golden file missing: run with SPIKEC_REGEN_GOLDEN=1"
    assert text == GOLDEN.read_text()


def test_event_tables_survive_a_round_trip_through_files(tmp_path):
    from spikec.compiler.spinnaker.io import describe, load_spinnaker, save_spinnaker

    program = compile_event_tables(random_network(2, (20, 40, 10), recurrent=True), machine=SMALL)
    save_spinnaker(program, tmp_path / "a")
    loaded = load_spinnaker(tmp_path / "a")
    save_spinnaker(loaded, tmp_path / "b")
    for name in ("manifest.json", "routing_tables.csv", "cores.npz", "network.json", "network.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    x = input_spikes(2, 40, 20)
    np.testing.assert_array_equal(spinnaker_backend.run(loaded, x)["out"], spinnaker_backend.run(program, x)["out"])
    np.testing.assert_array_equal(run_network(loaded.network, x)["out"], run_network(program.network, x)["out"])
    text = describe(loaded)
    assert "cores used" in text and "largest fan-in" in text
