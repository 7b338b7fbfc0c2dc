"""Sparse synaptic matrices (ir/weights.py): carried as CSR, and nothing a pass computes depends on the kind.

The equivalence tests lower the CSR threshold (``SPARSE_MIN_ELEMENTS``) so
that small graphs are carried sparse, compile and run them, and compare with
the same graph carried dense: same lowered graph, same spikes.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import spikec
from spikec import api
from spikec.ir import weights
from spikec.ir.errors import InputError
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Affine, Input, Linear, Output
from spikec.ir.nir_io import read_nir, write_nir
from spikec.compiler.program import graph_from_bytes, graph_to_bytes


def chain(widths: tuple[int, ...], density: float, seed: int = 0, sparse_given: bool = False) -> Graph:
    """Input -> [Affine -> LIF] per width, weights at ``density`` (the scale benchmarks' network, small)."""
    rng = np.random.default_rng(seed)
    nodes: dict = {"in": Input(shape=(widths[0],))}
    edges, prev = [], "in"
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        w = sp.random_array((n_out, n_in), density=density, format="csr", rng=rng,
                            data_sampler=lambda size: rng.uniform(-0.5, 2.0, size))
        nodes[f"w{i}"] = Affine(weight=w if sparse_given else w.toarray(), bias=np.full(n_out, 0.01))
        nodes[f"lif{i}"] = LIF(tau=np.full(n_out, 0.005), r=np.ones(n_out), v_leak=np.zeros(n_out),
                               v_threshold=np.ones(n_out), v_reset=np.zeros(n_out), reset="subtract")
        edges += [(prev, f"w{i}"), (f"w{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["out"] = Output(shape=(widths[-1],))
    edges.append((prev, "out"))
    return Graph(nodes, tuple(edges), {"dt_s": 1e-3})


def spikes(n: int, steps: int = 40, batch: int = 1, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, n)) < 0.3).astype(np.float64)


def test_nonzero_lists_entries_in_the_same_order_for_both_kinds():
    dense = np.array([[0, 2.0, 0, -1.0], [0, 0, 0, 0], [3.0, 0, 0, 4.0]])
    m = weights.csr(dense)
    for a, b in zip(weights.nonzero(dense), weights.nonzero(m)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(weights.nonzero_values(m), weights.nonzero_values(dense))
    np.testing.assert_array_equal(weights.count_nonzero(m, axis=0), np.count_nonzero(dense, axis=0))
    np.testing.assert_array_equal(weights.count_nonzero(m, axis=1), np.count_nonzero(dense, axis=1))
    for a, b in zip(weights.signed_row_sums(m), weights.signed_row_sums(dense)):
        np.testing.assert_array_equal(a, b)
    assert weights.equal(m, dense) and not weights.equal(m, dense + 1)
    assert weights.abs_max(m) == 4.0


def test_a_large_sparse_layer_is_carried_as_csr_and_a_small_or_dense_one_as_an_array():
    big = chain((300, 300), 0.05)
    assert weights.is_sparse(big.nodes["w0"].weight)
    assert not big.nodes["w0"].weight.data.flags.writeable  # read-only like every parameter
    assert isinstance(chain((100, 100), 0.05).nodes["w0"].weight, np.ndarray)
    assert isinstance(chain((300, 300), 0.5).nodes["w0"].weight, np.ndarray)


def test_a_sparse_weight_given_as_scipy_is_kept_sparse_and_checked_for_finite_values():
    g = chain((30, 20), 0.2, sparse_given=True)
    assert weights.is_sparse(g.nodes["w0"].weight)
    spikec.validate(g)
    w = g.nodes["w0"].weight.toarray()
    w[0, 0] = np.nan
    with pytest.raises(spikec.SpikecError, match="not finite"):
        spikec.validate(g.replace_nodes({"w0": Affine(weight=sp.csr_array(w), bias=np.zeros(20))}))


def test_nir_files_are_dense_on_disk_and_read_back_as_csr_block_by_block(tmp_path, monkeypatch):
    g = chain((300, 300), 0.05)
    write_nir(g, tmp_path / "big.nir")
    monkeypatch.setattr("spikec.ir.nir_io.WEIGHT_READ_CHUNK_ELEMENTS", 10_000)  # several blocks
    back = read_nir(tmp_path / "big.nir", reset="subtract")
    assert weights.is_sparse(back.nodes["w0"].weight)
    assert weights.equal(back.nodes["w0"].weight, g.nodes["w0"].weight)


def test_a_program_graph_stores_csr_as_its_three_arrays_and_refuses_broken_ones():
    g = chain((30, 20), 0.2, sparse_given=True)
    back = graph_from_bytes(graph_to_bytes(g))
    assert weights.is_sparse(back.nodes["w0"].weight) and back.nodes["w0"].same_as(g.nodes["w0"])
    import io, zipfile  # noqa: E401
    data = graph_to_bytes(g)
    zin, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            raw = zin.read(item)
            if item.filename.endswith("w0/weight.indices.npy"):
                arr = np.load(io.BytesIO(raw))
                arr[0] = 10_000  # a column far outside the matrix
                buf = io.BytesIO()
                np.save(buf, arr)
                raw = buf.getvalue()
            zout.writestr(item, raw)
    with pytest.raises(InputError, match="do not form a CSR matrix"):
        graph_from_bytes(out.getvalue())


@pytest.mark.parametrize("batch", [1, 8])
def test_the_float_reference_gives_the_same_spikes_sparse_or_dense(batch, monkeypatch):
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 1)
    g_sparse = chain((200, 150, 100), 0.1)
    assert weights.is_sparse(g_sparse.nodes["w0"].weight)
    x = spikes(200, batch=batch)
    out_sparse = spikec.simulate(g_sparse, x)
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 2**40)
    g_dense = chain((200, 150, 100), 0.1)
    assert isinstance(g_dense.nodes["w0"].weight, np.ndarray)
    out_dense = spikec.simulate(g_dense, x)
    assert out_dense["out"].sum() > 0
    if batch == 1:  # spikes in, rows summed in input order on both paths: equal to the bit
        np.testing.assert_array_equal(out_sparse["out"], out_dense["out"])
    else:  # BLAS's blocked sums against CSR's in-order ones: a threshold crossing may flip (docs/semantics.md)
        assert np.mean(out_sparse["out"] != out_dense["out"]) < 1e-3


def _lowered_equal(a, b) -> None:
    assert set(a.nodes) == set(b.nodes)
    for name in a.nodes:
        assert a.nodes[name].same_as(b.nodes[name]), name


@pytest.mark.parametrize("target", ["loihi2", "spinnaker1", "rram-512"])
def test_every_family_compiles_and_runs_the_same_program_sparse_or_dense(target, monkeypatch):
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 1)
    g_sparse = chain((120, 90, 60), 0.1, seed=3)
    assert weights.is_sparse(g_sparse.nodes["w1"].weight)
    p_sparse = api.compile(g_sparse, target)
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 2**40)
    g_dense = chain((120, 90, 60), 0.1, seed=3)
    p_dense = api.compile(g_dense, target)
    _lowered_equal(p_sparse.graph, p_dense.graph)
    x = spikes(120, steps=60)
    out_sparse = spikec.run(p_sparse, x)
    out_dense = spikec.run(p_dense, x)
    assert out_dense["out"].sum() > 0
    np.testing.assert_array_equal(out_sparse["out"], out_dense["out"])


def test_a_model_over_the_fidelity_budget_says_it_skipped_the_run_unless_asked(monkeypatch):
    from spikec.verification import fidelity

    g = chain((60, 50, 40), 0.3)
    monkeypatch.setattr(fidelity, "FIDELITY_BUDGET_NEURON_STEPS", 90 * 100 * 2 - 1)  # one neuron-step short
    skipped = api.compile(g, "spinnaker1")
    assert "90 neurons x 100 steps x 2 samples" in skipped.fidelity["skipped"]
    asked = api.compile(g, "spinnaker1", fidelity_steps=20)
    assert asked.fidelity["steps"] == 20 and set(asked.fidelity["layers"]) == {"lif0", "lif1"}
    monkeypatch.setattr(fidelity, "FIDELITY_BUDGET_NEURON_STEPS", 90 * 100 * 2)
    assert api.compile(g, "spinnaker1").fidelity["steps"] == 100


# --- RRAM: tiles cut from CSR, stored as programmed pairs only -------------------------------------------


def _rram_pair(monkeypatch, widths=(600, 300, 200), density=0.1, seed=5):
    """The same network compiled for rram-512 from CSR weights and from dense ones (same thresholds while compiling)."""
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 2**40)
    g_dense = chain(widths, density, seed=seed)
    assert isinstance(g_dense.nodes["w0"].weight, np.ndarray)
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 2**10)
    g_sparse = chain(widths, density, seed=seed, sparse_given=True)
    assert weights.is_sparse(g_sparse.nodes["w0"].weight)
    return api.compile(g_sparse, "rram-512"), api.compile(g_dense, "rram-512")


def test_rram_compiles_the_same_program_byte_for_byte_from_csr_or_dense_weights(monkeypatch):
    p_sparse, p_dense = _rram_pair(monkeypatch)
    tiles = p_sparse.artefacts["crossbars"].tiles
    assert len(tiles) == 4 + 1 and all(t.is_sparse for t in tiles)  # 600 inputs in 2 row blocks x 300 outputs in 2; then 1
    assert tiles[0].levels.dtype == np.int8 and tiles[0].nnz < tiles[0].n_in * tiles[0].n_out
    assert p_sparse.artefacts["crossbars"].to_bytes() == p_dense.artefacts["crossbars"].to_bytes()
    assert graph_to_bytes(p_sparse.graph) == graph_to_bytes(p_dense.graph)
    assert weights.is_sparse(p_sparse.graph.nodes["w0"].weight)
    strip = lambda p: {k: v for k, v in p.report.items() if k != "fidelity"}  # noqa: E731
    assert strip(p_sparse) == strip(p_dense)
    for layer in p_sparse.artefacts["crossbars"].layers.values():  # the graph holds exactly what the tiles represent
        assert weights.equal(p_sparse.graph.nodes[layer.layer].weight, layer.quantised_matrix())


def test_a_sparse_layer_quantisation_error_summed_per_tile_matches_the_dense_formula(monkeypatch):
    from spikec.compiler.rram.crossbar_map import quantisation_error

    p_sparse, _ = _rram_pair(monkeypatch)
    for name, layer in p_sparse.artefacts["crossbars"].layers.items():
        node = p_sparse.source.nodes[name]
        inline = p_sparse.report["crossbars"]["per_layer"][name]
        by_subtraction = quantisation_error(node, layer)
        w = node.weight.toarray()
        err = np.abs(w - layer.quantised_matrix())
        dense = {"max_abs": err.max(), "rms_abs": np.sqrt(np.mean(err**2))}
        for key in ("max_abs", "rms_abs", "max_rel", "rms_rel"):
            assert inline[key] == pytest.approx(by_subtraction[key], rel=1e-12)
        assert inline["max_abs"] == dense["max_abs"] and inline["rms_abs"] == pytest.approx(dense["rms_abs"], rel=1e-12)


@pytest.mark.parametrize("noise", ["ideal", "noisy", "stuck"])
def test_rram_backend_gives_the_same_seeded_results_from_csr_or_dense_weights(noise, monkeypatch):
    from dataclasses import replace

    from spikec.backends.rram import mapping_of, simulate_rram

    p_sparse, p_dense = _rram_pair(monkeypatch)
    x = spikes(600, steps=30, batch=2)
    outs = []
    for p in (p_sparse, p_dense):
        m = mapping_of(p)
        config = {"ideal": m.config.ideal(), "noisy": m.config,
                  "stuck": replace(m.config, device=replace(m.config.device, stuck_on_rate=0.03, stuck_off_rate=0.02))}[noise]
        outs.append(simulate_rram(m, x, dt_s=p.dt_s, seed=11, t_s=3600.0, config=config, record=("v",)))
    assert outs[0]["out"].sum() > 0
    for key in outs[0]:
        np.testing.assert_array_equal(outs[0][key], outs[1][key])


def test_rram_simulator_programs_every_cell_of_a_sparse_tile_as_of_its_dense_twin(monkeypatch):
    """Stuck-on devices, programming noise and drift act on the zero-weight pairs too: a tile stored as CSR
    gives the seeded run of the same tile stored cell by cell."""
    from dataclasses import replace

    from spikec.backends.rram import mapping_of, simulate_rram
    from spikec.compiler.rram.crossbars import CrossbarMap, CrossbarTile, LayerMapping

    p_sparse, _ = _rram_pair(monkeypatch)
    m = mapping_of(p_sparse)
    crossbars = m.crossbars
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 2**40)  # the twin's tiles stay dense

    def dense_twin(t: CrossbarTile) -> CrossbarTile:
        return CrossbarTile.from_pairs(t.layer, t.in_start, t.in_stop, t.out_start, t.out_stop, t.w_step,
                                       t.level_pos, t.level_neg, array=t.array, array_row=t.array_row, array_col=t.array_col)

    layers = {n: LayerMapping(l.layer, l.kind, l.in_features, l.out_features, tuple(dense_twin(t) for t in l.tiles),
                              l.bias, l.conv, l.weight_shape) for n, l in crossbars.layers.items()}
    twin = replace(m, crossbars=CrossbarMap(crossbars.geometry, layers, crossbars.n_arrays))
    assert not any(t.is_sparse for t in twin.crossbars.tiles) and all(t.is_sparse for t in crossbars.tiles)
    config = replace(m.config, device=replace(m.config.device, stuck_on_rate=0.05, stuck_off_rate=0.02))
    x = spikes(600, steps=20, batch=2)
    a = simulate_rram(m, x, dt_s=p_sparse.dt_s, seed=4, t_s=86400.0, config=config, compensate_drift=True)
    b = simulate_rram(twin, x, dt_s=p_sparse.dt_s, seed=4, t_s=86400.0, config=config, compensate_drift=True)
    np.testing.assert_array_equal(a["out"], b["out"])
    for s_tile, d_tile in zip(crossbars.tiles, twin.crossbars.tiles):
        for gs, gd in zip(s_tile.target_conductances_us(0.0, 25.0, 16), d_tile.target_conductances_us(0.0, 25.0, 16)):
            np.testing.assert_array_equal(gs, gd)


def test_sparse_tiles_survive_save_and_load_and_damaged_levels_are_refused(monkeypatch, tmp_path):
    import io, zipfile  # noqa: E401

    from spikec.compiler.program import load_program
    from spikec.compiler.rram.crossbars import CrossbarMap

    p_sparse, _ = _rram_pair(monkeypatch)
    crossbars = p_sparse.artefacts["crossbars"]
    data = crossbars.to_bytes()
    back = CrossbarMap.from_bytes(data)
    assert back.to_bytes() == data and all(t.is_sparse for t in back.tiles)
    for a, b in zip(crossbars.tiles, back.tiles):
        np.testing.assert_array_equal(a.signed_levels, b.signed_levels)
    loaded = load_program(p_sparse.save(tmp_path / "p"))
    x = spikes(600, steps=20)
    np.testing.assert_array_equal(spikec.run(loaded, x, backend="rram")["out"], spikec.run(p_sparse, x, backend="rram")["out"])
    zin, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            raw = zin.read(item)
            if item.filename == "tile0.levels.indices.npy":
                arr = np.load(io.BytesIO(raw))
                arr[0] = 10_000  # a column pair far outside the tile
                buf = io.BytesIO()
                np.save(buf, arr)
                raw = buf.getvalue()
            zout.writestr(item, raw)
    with pytest.raises(ValueError):
        CrossbarMap.from_bytes(out.getvalue())
