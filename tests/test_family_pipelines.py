"""Every family compiles through the same Pipeline of Pass objects (issue 17).

Each SpiNNaker pass (quantise, partition, place, keys, route, compress, rows)
and each RRAM pass (map, quantise, pack) runs, leaves a state the next pass
can use (checked against the pass's own invariant), and the whole pipeline
gives the Braille example the same program, byte for byte, as the staged
functions it replaced (digests recorded from ``compile_spinnaker`` /
``compile_rram_program`` before the passes existed, commit "restructure
phase A"; re-record only for an intended change of the compiled output).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import spikec
from spikec.cli.main import cli
from spikec.compiler import api
from spikec.compiler.pipeline import CompileState
from spikec.compiler.program import graph_to_bytes
from spikec.compiler.rram.compile import MapCrossbars, PackCrossbars, QuantiseCrossbars
from spikec.compiler.spinnaker.compile import Compress, Keys, Partition, PlaceSpiNNaker, QuantiseSpiNNaker, Route, Rows
from spikec.compiler.spinnaker.routing_check import check_equivalent
from spikec.compiler.target import CONFIG_DIR, load_target
from spikec.ir.nodes import DelayLinear

EXAMPLE = Path(spikec.__file__).parent / "examples" / "braille_subtract.nir"
SPINNAKER = ("lower-max-pools", "commute-lis", "quantise-spinnaker", "partition", "place-spinnaker", "keys", "route", "compress", "rows")
RRAM = ("lower-max-pools", "map-crossbars", "quantise-crossbars", "pack-crossbars")
#: digests of the Braille program as compiled before the passes (see the module docstring; recomputed
#: from commit aa7e414, the staged functions, with config paths shown checkout-independent)
BEFORE = {
    ("spinnaker1", None): "a538b53fbee1860cfa9944ba6f48a3851409caba42465e250f32bfbebbe91af5",
    ("spinnaker1", "auto"): "bb17f408eea1acd5c8f8890efa687553e14c282d0b9bae1ab9beb216ce93287e",
    ("rram-512", None): "b1f29127781d3593baa54cac7aad32cb9dc224e08a3ca0941804fd61c9a2f56b",
}


@pytest.fixture(scope="module")
def braille():
    return spikec.load_nir(EXAMPLE, reset="subtract")


def digest(program) -> str:
    """The compiled result without timings, pass log or fidelity: report, graphs, artefact bytes, target, dt."""
    h = hashlib.sha256()
    report = {k: v for k, v in program.report.items() if k != "fidelity"}
    if "spinnaker" in report:
        report["spinnaker"] = {k: v for k, v in report["spinnaker"].items() if k != "stage_seconds"}
    # a built-in target's file by its place in the package, not this checkout's absolute path
    text = json.dumps(report, sort_keys=True, default=str).replace(str(CONFIG_DIR), "hw_configs")
    h.update(text.encode())
    h.update(graph_to_bytes(program.graph))
    h.update(graph_to_bytes(program.source))
    for k in sorted(program.artefacts):
        h.update(k.encode())
        h.update(program.artefacts[k].to_bytes())
    h.update(f"{program.family} {program.target.name} {program.target.limits.chips} {program.dt_s}".encode())
    return h.hexdigest()


@pytest.mark.parametrize("target, chips", sorted(BEFORE, key=str))
def test_the_pipeline_compiles_braille_byte_for_byte_as_before(braille, target, chips):
    program = api.compile(braille, target, chips=chips)
    assert [r.name for r in program.pass_log] == list(SPINNAKER if target.startswith("spinnaker") else RRAM)
    assert digest(program) == BEFORE[(target, chips)]


@pytest.mark.parametrize("target, names", [("spinnaker1", SPINNAKER), ("rram-512", RRAM), ("loihi2", None)])
def test_explain_prints_the_pipeline_of_every_family(target, names):
    result = CliRunner().invoke(cli, ["compile", "--explain", "--target", target])
    assert result.exit_code == 0, result.output
    pipeline = api.pipeline_for(target)
    assert f"pipeline for the {load_target(target).family} family ({len(pipeline.passes)} passes)" in result.output
    if names is not None:
        assert pipeline.names == names
    for i, p in enumerate(pipeline.passes, 1):
        doc = type(p).__doc__.strip().splitlines()[0]
        assert f"{i}. {p.name}" in result.output and doc in result.output
        assert dataclasses.is_dataclass(p) and type(p).__dataclass_params__.frozen


def _stop_after(graph, target, name):
    state = CompileState(source=graph, graph=graph, target=load_target(target), dt_s=None)
    state, log = api.pipeline_for(target).run(state, stop_after=name)
    assert log[-1].name == name and log[-1].summary
    return state


@pytest.mark.parametrize("name", SPINNAKER[2:])  # after the shared rewrites (tests/test_maxpool.py, test_li_chains.py)
def test_each_spinnaker_pass_leaves_a_valid_state(braille, name):
    state = _stop_after(braille, "spinnaker1", name)
    work = state.work
    neurons = {p.name: p.size for p in work.net.populations}
    assert work.original.populations and work.net.dt_s == work.original.dt_s
    if name == "quantise-spinnaker":
        assert not work.vertices and state.family == "float"
        return
    covered: dict[str, int] = {}
    for v in work.vertices:  # every neuron on exactly one core, within the core's size
        assert 0 < v.hi - v.lo <= work.machine.neurons_per_core
        covered[v.population] = covered.get(v.population, 0) + v.hi - v.lo
    assert covered == neurons
    if name == "partition":
        return
    locations = work.placements.locations
    assert len(set(locations)) == len(work.vertices)  # one vertex per core
    assert all(0 <= x < work.machine.width and 0 <= y < work.machine.height for x, y, _ in locations)
    if name == "place-spinnaker":
        return
    sizes = [1 << work.keys.index_bits] * len(work.vertices)
    spans = sorted((b, b + s) for b, s in zip(work.keys.base, sizes))
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))  # key ranges disjoint
    if name == "keys":
        return
    assert work.tables and all(len(t) for t in work.tables.values())
    if name == "route":
        return
    for chip, table in work.tables.items():  # compressed tables route every key as before, within the router
        loaded = work.loaded.get(chip)
        if loaded is not None:
            assert len(loaded) <= work.machine.routing_table_entries
            check_equivalent(table, loaded)
    if name == "compress":
        return
    assert state.family == "spinnaker" and set(state.notes) == {"spinnaker", "delays"}
    art = state.artefacts["spinnaker"].artefacts
    assert len(art.cores) == len(work.vertices) and art.routing_tables == work.loaded


@pytest.mark.parametrize("name", RRAM[1:])
def test_each_rram_pass_leaves_a_valid_state(braille, name):
    state = _stop_after(braille, "rram-512", name)
    lowered = state.lowered
    assert not any(isinstance(n, DelayLinear) for n in lowered.nodes.values())
    if name == "map-crossbars":
        assert state.work.layers == {} and state.family == "float"
        return
    layers = state.work.layers
    for layer, mapping in layers.items():  # every weight within half a step of its tile's level
        w = state.lowered.nodes[layer].weight.reshape(mapping.out_features, mapping.in_features) if name == "quantise-crossbars" else None
        q = mapping.quantised_matrix()
        if w is not None:
            for t in mapping.tiles:
                block = w[t.out_start:t.out_stop, t.in_start:t.in_stop]
                assert np.all(np.abs(q[t.out_start:t.out_stop, t.in_start:t.in_stop] - block) <= t.w_step / 2 + 1e-12)
    if name == "quantise-crossbars":
        assert all(t.array == -1 for m in layers.values() for t in m.tiles)
        return
    crossbars = state.artefacts["crossbars"]
    geometry = crossbars.geometry
    used: set[tuple[int, int, int]] = set()
    for t in crossbars.tiles:  # placed, inside its array, no cell shared
        assert 0 <= t.array < crossbars.n_arrays
        cells = {(t.array, t.array_row + r, t.array_col + c) for r in range(t.n_in) for c in range(t.n_out)}
        assert all(r < geometry.rows and c < geometry.cols // 2 for _, r, c in cells)
        assert not cells & used
        used |= cells
    assert state.family == "rram"
    for layer, mapping in crossbars.layers.items():
        np.testing.assert_array_equal(state.lowered.nodes[layer].weight, mapping.quantised_weight())


@pytest.mark.parametrize("target, name", [("spinnaker1", "partition"), ("spinnaker1", "compress"), ("rram-512", "quantise-crossbars"),
                                          ("loihi2", "quantise-loihi")])
def test_dump_after_works_for_every_family(target, name):
    result = CliRunner().invoke(cli, ["compile", str(EXAMPLE), "--target", target, "--dump-after", name])
    assert result.exit_code == 0, result.output
    assert f"after pass '{name}'" in result.output and "graph:" in result.output


def test_dump_after_an_unknown_pass_names_the_family_passes():
    result = CliRunner().invoke(cli, ["compile", str(EXAMPLE), "--target", "rram-512", "--dump-after", "place-loihi"])
    assert result.exit_code == 2 and "map-crossbars, quantise-crossbars, pack-crossbars" in result.output


@pytest.mark.parametrize("target", ["spinnaker1", "rram-512"])
def test_the_fidelity_report_exists_for_every_family(braille, target):
    program = spikec.compile(braille, target, fidelity_steps=100)
    layers = program.fidelity["layers"]
    neurons = [n for n, node in program.source.items() if node.kind in ("LIF", "CubaLIF", "IF", "LI", "Integrator")]
    assert set(layers) == set(neurons)
    for name, r in layers.items():
        if "count_agreement" in r:
            assert r["spikes_float"] > 0 and r["count_agreement"] > 0.8, (name, r)
        else:
            assert r["v_rel_rms_error"] < 0.2, (name, r)
