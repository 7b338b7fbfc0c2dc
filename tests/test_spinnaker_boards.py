"""Real SpiNNaker machines: the 48-chip SpiNN-5 board, triads of boards, --chips and --chips auto.

The layout is SpiNNMachine's (``spinn_machine/version/version_5.py``
``CHIPS_PER_BOARD``); routes must use only links between chips that exist,
every router must hold its table, and the event machine must still equal the
SpiNNaker reference executor on a network spread over many chips.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_spinnaker_machine import assert_machine_matches_reference, input_spikes, random_network  # noqa: E402

from spikec.api import compile as spikec_compile
from spikec.compiler.spinnaker.routing_table import N_LINKS, route_links
from spikec.compiler.spinnaker.boards import BOARD_48, candidates, chips_of, machine_for_chips
from spikec.compiler.spinnaker.compile import SpiNNakerProgram, compile_event_tables
from spikec.compiler.spinnaker.place import SpiNNakerMachine
from spikec.compiler.target import load_target, parse_target, with_chips
from spikec.ir.errors import CompileError, ConfigError
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Conv2d, Flatten, Input, Linear, Output

#: SpiNNMachine version_5.py CHIPS_PER_BOARD keys, written out (not derived from BOARD_48's formula)
SPINN5_CHIPS = {
    (0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0), (2, 1), (2, 2),
    (2, 3), (2, 4), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4), (3, 5), (3, 6), (4, 0), (4, 1),
    (4, 2), (4, 3), (4, 4), (4, 5), (4, 6), (4, 7), (5, 1), (5, 2), (5, 3), (5, 4), (5, 5), (5, 6),
    (5, 7), (6, 2), (6, 3), (6, 4), (6, 5), (6, 6), (6, 7), (7, 3), (7, 4), (7, 5), (7, 6), (7, 7),
}


def shaped_lif(shape: tuple[int, ...], rng: np.random.Generator) -> LIF:
    return LIF(tau=rng.uniform(5e-3, 20e-3, shape), r=np.full(shape, 8.0), v_leak=np.zeros(shape),
               v_threshold=np.ones(shape), v_reset=np.zeros(shape))


def conv_net(seed: int, side: int, c1: int, c2: int, n_out: int = 10) -> Graph:
    """Input 2 x side x side (N-MNIST's polarity channels) -> conv 3x3 -> LIF -> conv 2x2 stride 2 -> LIF
    -> Flatten -> Linear -> LIF -> Output."""
    rng = np.random.default_rng(seed)
    s1 = side - 2
    s2 = s1 // 2
    n1, n2 = c1 * s1 * s1, c2 * s2 * s2
    nodes = {
        "in": Input(shape=(2, side, side)),
        "conv1": Conv2d(input_shape=(2, side, side), weight=rng.normal(0.4, 0.6, (c1, 2, 3, 3)), stride=(1, 1),
                        padding=(0, 0), dilation=(1, 1), groups=1, bias=np.zeros(c1)),
        "lif1": shaped_lif((c1, s1, s1), rng),
        "conv2": Conv2d(input_shape=(c1, s1, s1), weight=rng.normal(0.3, 0.5, (c2, c1, 2, 2)), stride=(2, 2),
                        padding=(0, 0), dilation=(1, 1), groups=1, bias=np.zeros(c2)),
        "lif2": shaped_lif((c2, s2, s2), rng),
        "flat": Flatten(input_shape=(c2, s2, s2), start_dim=0, end_dim=-1),
        "fc": Linear(weight=rng.normal(0.2, 1.0, (n_out, n2)) * (6.0 / np.sqrt(n2))),
        "lif3": shaped_lif((n_out,), rng),
        "out": Output(shape=(n_out,)),
    }
    edges = (("in", "conv1"), ("conv1", "lif1"), ("lif1", "conv2"), ("conv2", "lif2"), ("lif2", "flat"),
             ("flat", "fc"), ("fc", "lif3"), ("lif3", "out"))
    return Graph(nodes, edges, {"dt_s": 1e-3})


def assert_routes_on_existing_links(art) -> None:
    """Every table is on a chip that exists; every link a route uses leads to a chip that exists; every
    table fits its router."""
    m = art.machine
    present = set(m.chips)
    for chip, table in art.routing_tables.items():
        assert chip in present, f"routing table on chip {chip}, which the machine does not have"
        assert len(table) <= m.routing_table_entries
        for entry in table.entries:
            for link in route_links(entry.route):
                assert m.neighbour(chip, link) is not None, f"chip {chip} routes over link {link} to no chip"
    for r in art.table_reports:
        assert r.loaded <= m.routing_table_entries


def test_the_spinn5_board_is_spinnmachines_48_chips_with_links_only_between_them():
    assert set(BOARD_48) == SPINN5_CHIPS
    m = SpiNNakerMachine.from_target(load_target("spinnaker1"))
    assert (m.width, m.height, m.n_chips, m.n_cores, m.wrap_around) == (8, 8, 48, 768, False)
    assert set(m.chips) == SPINN5_CHIPS
    links = 0
    for chip in m.chips:
        for link in range(N_LINKS):
            nxt = m.neighbour(chip, link)
            if nxt is not None:
                assert nxt in SPINN5_CHIPS
                assert m.neighbour(nxt, (link + 3) % N_LINKS) == chip  # links are two-way
                links += 1
    assert m.neighbour((0, 3), 2) is None and m.neighbour((4, 0), 0) is None  # the missing corners
    # 40 E-W, 40 N-S and 40 NE-SW links (rows of 5,6,7,8,7,6,5,4 chips: 4+5+6+7+6+5+4+3 = 40 per direction)
    assert links == 2 * 120


def test_spinnaker2_uses_the_48_chip_spin2_board():
    m = SpiNNakerMachine.from_target(load_target("spinnaker2"))
    assert set(m.chips) == SPINN5_CHIPS and m.cores_per_chip == 152 and m.routing_table_entries == 16384
    assert machine_for_chips(1, "spin2").n_chips == 1 and machine_for_chips(2, "spin2").n_chips == 48


def test_machine_sizes_follow_spinnmachine_and_spalloc():
    assert machine_for_chips(3, "spinn5").label.startswith("one SpiNN-3") and machine_for_chips(3, "spinn5").wrap_around
    three = machine_for_chips(49, "spinn5")  # 2 boards -> spalloc allocates one triad of 3 boards
    assert (three.width, three.height, three.n_chips) == (16, 16, 144)
    assert {(x - 4, y - 8) for x, y in three.chips if (x - 4, y - 8) in SPINN5_CHIPS} == SPINN5_CHIPS  # board at (4, 8)
    for n in (1, 2, 5, 48, 49, 145, 700, 5000):
        assert machine_for_chips(n, "spinn5").n_chips == chips_of(n, "spinn5") >= n
    sizes = [s.n_chips for s in candidates("spinn5", 1000)]
    assert sizes[:5] == [1, 4, 48, 144, 288] and sizes == sorted(sizes) and sizes[-1] <= 1000


def test_a_conv_network_over_many_chips_of_the_board_matches_the_reference():
    graph = conv_net(0, 12, 4, 4)
    target = load_target("spinnaker1")
    machine = SpiNNakerMachine.from_target(target, neurons_per_core=32, cores_per_chip=2)
    program = compile_event_tables(graph, target, machine=machine)
    art = program.artefacts
    chips = {c.location[:2] for c in art.cores}
    assert len(chips) >= 10 and chips <= SPINN5_CHIPS
    assert_routes_on_existing_links(art)
    x = input_spikes(1, 25, 2 * 12 * 12, batch=1, rate=0.3).reshape(25, 1, 2, 12, 12)
    ref, stats = assert_machine_matches_reference(program, x)
    assert ref["out"].sum() > 0 and stats.hops > len(chips)
    loaded = SpiNNakerProgram.from_bytes(program.to_bytes())  # the board's chips survive the manifest
    assert loaded.artefacts.machine == art.machine and loaded.artefacts.machine.chips == art.machine.chips
    assert_machine_matches_reference(loaded, x)


def test_chips_one_is_a_clear_error_and_auto_picks_the_smallest_machine():
    graph = conv_net(1, 20, 8, 8)  # 800 + 2592 + 648 + 10 neurons: 4 + 11 + 3 + 1 = 19 vertices at 256 per core
    with pytest.raises(CompileError, match=r"needs \d+ cores .*the machine has 16 .*--chips auto") as err:
        spikec_compile(graph, with_chips(load_target("spinnaker1"), 1), chips=None)
    assert err.value.value > 16 and err.value.limit == 16
    small = with_chips(load_target("spinnaker1"), "auto")
    program = spikec_compile(graph, small)
    art = program.artefacts["spinnaker"].artefacts
    assert art.machine.n_chips == 4 and len(art.cores) > 16  # more than one chip, fewer than a SpiNN-5 board
    assert program.target.limits.chips == 4 and 'chips = 4' in program.target.source_text
    ref, _ = assert_machine_matches_reference(program.artefacts["spinnaker"], input_spikes(2, 15, 800, 1, 0.3).reshape(15, 1, 2, 20, 20))
    assert ref["out"].shape == (15, 1, 10)


def test_chips_option_and_config_key_are_checked():
    assert with_chips(load_target("spinnaker1"), "7").limits.chips == 7
    with pytest.raises(ConfigError, match="positive number or 'auto'"):
        with_chips(load_target("spinnaker1"), "lots")
    with pytest.raises(ConfigError, match="not a number or one of"):
        parse_target(load_target("spinnaker1").source_text.replace("chips = 48 ", 'chips = "many" '))
    assert parse_target(load_target("spinnaker1").source_text.replace("chips = 48 ", 'chips = "auto" ')).limits.chips == "auto"
    too_small = with_chips(load_target("spinnaker1"), "auto")
    too_small = parse_target(too_small.source_text.replace("max_chips = 57600", "max_chips = 1"))
    with pytest.raises(CompileError, match="max_chips = 1"):
        spikec_compile(conv_net(1, 20, 8, 8), too_small)


def test_chips_on_loihi_sets_the_machine_and_auto_keeps_the_chips_used():
    from test_place_loihi import dense_net

    graph = dense_net(20, 30, 0.5)
    fixed = spikec_compile(graph, "loihi2", chips=3, fidelity_steps=0)
    assert fixed.target.limits.chips == 3 and fixed.report["place-loihi"]["cores_available"] == 3 * 128
    auto = spikec_compile(graph, "loihi2", chips="auto", fidelity_steps=0)
    assert auto.target.limits.chips == 1 and auto.report["place-loihi"]["cores_available"] == 128


def test_a_9k_neuron_nmnist_cnn_compiles_for_one_spinn5_board_and_matches_the_reference():
    """The issue's case: 2x34x34 input, 8x32x32 + 8x16x16 + 10 LIF neurons (10,250), 51 machine vertices."""
    graph = conv_net(2, 34, 8, 8)
    program = spikec_compile(graph, "spinnaker1")
    compiled = program.artefacts["spinnaker"]
    art = compiled.artefacts
    assert len(art.cores) == 51 and art.machine.n_chips == 48 and len({c.location[:2] for c in art.cores}) == 4
    assert_routes_on_existing_links(art)
    x = input_spikes(3, 6, 2 * 34 * 34, batch=1, rate=0.2).reshape(6, 1, 2, 34, 34)
    ref, _ = assert_machine_matches_reference(compiled, x)
    assert ref["out"].sum() > 0
    with pytest.raises(CompileError, match=r"needs 51 cores .*has 16 .*--chips auto would pick one SpiNN-3 board"):
        spikec_compile(graph, "spinnaker1", chips=1)


def test_cli_chips_option(tmp_path):
    from click.testing import CliRunner

    from spikec.cli.compile_cmd import compile_command
    from spikec.ir.nir_io import write_nir

    path = tmp_path / "cnn.nir"
    write_nir(random_network(0, (800, 2600, 650, 10)), path)  # 4 + 11 + 3 + 1 = 19 vertices: more than one chip
    fail = CliRunner().invoke(compile_command, [str(path), "--target", "spinnaker1", "--chips", "1", "-o", str(tmp_path / "a")])
    assert fail.exit_code == 2 and "--chips auto" in fail.output and not (tmp_path / "a").exists()
    ok = CliRunner().invoke(compile_command, [str(path), "--target", "spinnaker1", "--chips", "auto", "-o", str(tmp_path / "b")])
    assert ok.exit_code == 0, ok.output
    assert "one SpiNN-3 board (4 chips)" in ok.output


def test_auto_grows_to_a_triad_of_boards_and_routes_between_boards():
    text = load_target("spinnaker1").source_text
    text = text.replace("cores_per_chip = 16 ", "cores_per_chip = 1 ").replace("neurons_per_core = 256 ", "neurons_per_core = 8 ")
    target = with_chips(parse_target(text, "tiny-cores.toml"), "auto")
    graph = random_network(3, (100, 200, 100, 20))  # 13 + 25 + 13 + 3 = 54 vertices: more than one board's 48 cores
    program = spikec_compile(graph, target)
    compiled = program.artefacts["spinnaker"]
    art = compiled.artefacts
    assert art.machine.n_chips == 144 and program.target.limits.chips == 144
    used = {c.location[:2] for c in art.cores}
    assert any(c not in SPINN5_CHIPS for c in used)  # some vertices sit on another board of the triad
    assert_routes_on_existing_links(art)
    ref, stats = assert_machine_matches_reference(compiled, input_spikes(4, 30, 100, batch=1))
    assert ref["out"].sum() > 0 and stats.packets > 0
