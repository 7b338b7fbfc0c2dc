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
from spikec.ir.nodes import LIF, Affine, Delay, Input, Linear, Output, Scale
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


def paths_graph(n_in: int = 60, n: int = 40, density: float = 0.2, seed: int = 5) -> Graph:
    """Every way ``collect_paths`` combines matrices into a SpiNNaker projection: two paths of the same
    key summed, a Scale after an Affine (a product), a short and a long (delay-extension) Delay, a
    recurrent edge, and a host read-out after an Affine."""
    rng = np.random.default_rng(seed)
    w = lambda n_out, n_in: sp.random_array((n_out, n_in), density=density, format="csr", rng=rng,
                                            data_sampler=lambda size: rng.uniform(-0.5, 2.0, size)).toarray()
    lif = lambda: LIF(tau=np.full(n, 0.005), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
                      v_reset=np.zeros(n), reset="subtract")
    nodes = {"in": Input(shape=(n_in,)), "w0": Affine(weight=w(n, n_in), bias=np.full(n, 0.02)), "lif0": lif(),
             "a": Linear(weight=w(n, n)), "b": Linear(weight=w(n, n)), "c": Linear(weight=w(n, n)),
             "g": Scale(scale=rng.uniform(0.5, 2.0, n)), "d": Linear(weight=w(n, n)), "short": Delay(delay=np.full(n, 3e-3)),
             "e": Linear(weight=w(n, n)), "long": Delay(delay=np.full(n, 45e-3)), "r": Linear(weight=w(n, n) * 0.3),
             "lif1": lif(), "ro": Affine(weight=w(7, n), bias=np.full(7, 0.1)), "readout": Output(shape=(7,)),
             "out": Output(shape=(n,))}
    edges = [("in", "w0"), ("w0", "lif0"), ("lif0", "a"), ("a", "lif1"), ("lif0", "b"), ("b", "lif1"),
             ("lif0", "c"), ("c", "g"), ("g", "lif1"), ("lif0", "d"), ("d", "short"), ("short", "lif1"),
             ("lif0", "e"), ("e", "long"), ("long", "lif1"), ("lif1", "r"), ("r", "lif1"),
             ("lif1", "ro"), ("ro", "readout"), ("lif1", "out")]
    return Graph(nodes, tuple(edges), {"dt_s": 1e-3})


@pytest.mark.parametrize("make", [lambda: chain((120, 90, 60), 0.1, seed=3), paths_graph], ids=["chain", "paths"])
def test_spinnaker_compiles_the_same_program_byte_for_byte_sparse_or_dense(make, monkeypatch):
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 1)
    g_sparse = make()
    assert all(weights.is_sparse(node.weight) for node in g_sparse.nodes.values() if isinstance(node, (Affine, Linear)))
    p_sparse = api.compile(g_sparse, "spinnaker1", fidelity_steps=0)
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 2**40)
    g_dense = make()
    p_dense = api.compile(g_dense, "spinnaker1", fidelity_steps=0)
    a, b = p_sparse.artefacts["spinnaker"], p_dense.artefacts["spinnaker"]
    assert a.to_bytes() == b.to_bytes()  # network (synapse lists in order), rows, tables, read-outs
    assert sum(len(p) for p in a.network.projections) > 0
    proj = a.network.projections[0]  # 10^8 synapses in 1.1 GB: narrow in memory, int64 on disk
    assert (proj.pre_index.dtype, proj.weight.dtype, proj.synapse_type.dtype) == (np.int32, np.uint16, np.uint8)
    assert type(a).from_bytes(a.to_bytes()).to_bytes() == a.to_bytes()
    if make is paths_graph:
        assert a.artefacts.delay_stages  # the long Delay went through a delay extension
        assert set(a.network.readouts) == {"readout"}
    x = spikes(g_dense.nodes["in"].shape[0], steps=80)
    out_sparse = spikec.run(p_sparse, x)
    out_dense = spikec.run(p_dense, x)
    assert out_dense["out"].sum() > 0
    for key in out_dense:
        np.testing.assert_array_equal(out_sparse[key], out_dense[key])


# --- Loihi: CSR Dense weights, end to end -------------------------------------------


def _loihi_pair(build, monkeypatch, target: str = "loihi2"):
    """The same graph compiled carried sparse and carried dense: (sparse program, dense program)."""
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 1)
    p_sparse = api.compile(build(), target)
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 2**40)
    p_dense = api.compile(build(), target)
    monkeypatch.setattr(weights, "SPARSE_MIN_ELEMENTS", 2**16)
    return p_sparse, p_dense


def _denses(program):
    from spikec.compiler.loihi.nodes import Dense

    return {n: node for n, node in program.graph.items() if isinstance(node, Dense)}


def _same_spikes(p_sparse, p_dense, n_in: int, record=("v", "s")) -> None:
    from spikec.backends.reference.loihi_executor import run_loihi, run_loihi_stepwise

    fmt = p_dense.target.numeric
    x = spikes(n_in, steps=50, batch=2)
    fast_s, fast_d = spikec.run(p_sparse, x), spikec.run(p_dense, x)
    assert sum(int(v.sum()) for k, v in fast_d.items() if not k.endswith(".v")) > 0
    for key in fast_d:
        np.testing.assert_array_equal(fast_s[key], fast_d[key], err_msg=key)
    for run in (run_loihi, run_loihi_stepwise):  # the step-by-step definition takes CSR too
        a, b = run(p_sparse.graph, fmt, x, record), run(p_dense.graph, fmt, x, record)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_loihi_lowers_a_sparse_projection_to_csr_dense_weights_equal_to_the_dense_lowering(monkeypatch):
    p_sparse, p_dense = _loihi_pair(lambda: chain((120, 90, 60), 0.1, seed=3), monkeypatch)
    sparse_denses, dense_denses = _denses(p_sparse), _denses(p_dense)
    assert sparse_denses and all(weights.is_sparse(d.weights) for d in sparse_denses.values())
    assert not any(weights.is_sparse(d.weights) for d in dense_denses.values())
    for name, d in sparse_denses.items():
        w = d.weights
        assert w.dtype == np.int32 and w.has_canonical_format and not w.data.flags.writeable
        assert np.all(w.data != 0)  # weights that round to 0 are not stored
        np.testing.assert_array_equal(w.toarray(), dense_denses[name].weights)
    _lowered_equal(p_sparse.graph, p_dense.graph)
    assert p_sparse.report["place-loihi"] == p_dense.report["place-loihi"]  # same cores, synapses, bytes, fan-in
    _same_spikes(p_sparse, p_dense, 120)


def _per_neuron_taus(widths=(100, 80, 60), seed=4) -> Graph:
    """``chain`` with time constants that differ between neurons: split-populations splits every layer."""
    g = chain(widths, 0.1, seed=seed)
    swaps = {}
    for name, node in g.items():
        if isinstance(node, LIF):
            n = node.tau.size
            swaps[name] = node.replace(tau=np.where(np.arange(n) % 3 == 0, 0.002, np.where(np.arange(n) % 3 == 1, 0.005, 0.02)))
    return g.replace_nodes(swaps)


def test_split_populations_cut_csr_weights_into_csr_blocks_equal_to_the_dense_blocks(monkeypatch):
    p_sparse, p_dense = _loihi_pair(_per_neuron_taus, monkeypatch)
    assert p_sparse.report["split-populations"]["split_layers"]  # the case under test: layers were split
    blocks = _denses(p_sparse)
    assert len(blocks) > 3 and all(weights.is_sparse(d.weights) for d in blocks.values())
    _lowered_equal(p_sparse.graph, p_dense.graph)
    _same_spikes(p_sparse, p_dense, 100)


def _skip_connection(seed=5) -> Graph:
    """in -> lif0 -> lif1 plus in -> lif1: the skip arrives one step early and gets a synaptic delay."""
    g = chain((100, 90, 80), 0.1, seed=seed)
    rng = np.random.default_rng(seed)
    skip = sp.random_array((80, 100), density=0.1, format="csr", rng=rng, data_sampler=lambda size: rng.uniform(-0.5, 2.0, size))
    nodes = dict(g.nodes) | {"skip": Affine(weight=skip.toarray(), bias=np.zeros(80))}
    return Graph(nodes, tuple(g.edges) + (("in", "skip"), ("skip", "lif1")), g.metadata)


def test_delayed_projections_stay_dense_next_to_csr_ones_and_give_the_same_program(monkeypatch):
    p_sparse, p_dense = _loihi_pair(_skip_connection, monkeypatch)
    kinds = {n: (weights.is_sparse(d.weights), d.delays is not None) for n, d in _denses(p_sparse).items()}
    assert (False, True) in kinds.values() and (True, False) in kinds.values()  # a delayed dense one, an undelayed CSR one
    _lowered_equal(p_sparse.graph, p_dense.graph)
    _same_spikes(p_sparse, p_dense, 100)


def test_a_program_with_csr_dense_weights_saves_and_loads_the_same(monkeypatch, tmp_path):
    p_sparse, _ = _loihi_pair(lambda: chain((60, 50), 0.2), monkeypatch)
    back = graph_from_bytes(graph_to_bytes(p_sparse.graph))
    for name, node in p_sparse.graph.items():
        assert back.nodes[name].same_as(node), name
        if name in _denses(p_sparse):
            assert weights.is_sparse(back.nodes[name].weights)


def test_a_csr_dense_is_checked_like_a_dense_one():
    from spikec.compiler.loihi.nodes import Dense
    from spikec.ir.errors import GraphError

    kw = dict(weight_exp=0, num_weight_bits=8, sign_mode=1, weight_scale=np.ones(2))
    loose = sp.csr_array(([3, 0, 3], ([1, 0, 1], [0, 1, 0])), shape=(2, 3))  # duplicates and a stored zero
    d = Dense(weights=loose, **kw)
    assert d.weights.dtype == np.int32 and d.weights.nnz == 1 and d.weights[1, 0] == 6
    for bad, match in ((sp.csr_array(np.array([[0.5, 0, 0], [0, 0, 0]])), "integers"),
                       (sp.csr_array(np.array([[2.0**40, 0, 0], [0, 0, 0]])), "does not fit int32"),
                       (np.array([[2**40, 0, 0], [0, 0, 0]]), "does not fit int32"),
                       (np.zeros(3, np.int32), "2-d")):
        with pytest.raises(GraphError, match=match):
            Dense(weights=bad, **kw)
    with pytest.raises(GraphError, match="delays needs dense weights"):
        Dense(weights=loose, delays=np.zeros((2, 3)), **kw)


def test_event_sums_pack_a_csr_matrix_as_they_pack_its_dense_form():
    from spikec.backends.reference.event_sums import PackedColumns

    rng = np.random.default_rng(7)
    dense = np.where(rng.random((70, 50)) < 0.15, rng.integers(-128, 128, (70, 50)), 0).astype(np.int32)
    a, b = PackedColumns(dense), PackedColumns(weights.csr(dense, np.int32))
    for field in ("start", "target", "weight"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
        assert getattr(a, field).dtype == getattr(b, field).dtype
    x = rng.random((9, 50)) < 0.3
    np.testing.assert_array_equal(a.sums(x), b.sums(x))


def test_lava_emit_sends_csr_weights_as_the_same_coo_arrays_as_dense_ones(monkeypatch):
    from spikec.backends.lava.emit import emit_network, spike_inputs

    monkeypatch.setattr("spikec.backends.lava.emit.SPARSE_MIN_ENTRIES", 1)
    p_sparse, p_dense = _loihi_pair(lambda: chain((120, 90, 60), 0.1, seed=3), monkeypatch)
    x, _ = spike_inputs(p_dense, spikes(120, steps=10)[:, 0])
    a, b = emit_network(p_sparse, x), emit_network(p_dense, x)
    assert a.description == b.description and a.arrays.keys() == b.arrays.keys()
    assert any("weights_coo" in c for c in a.description["connections"])
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key], err_msg=key)
        assert a.arrays[key].dtype == b.arrays[key].dtype, key


def test_the_fidelity_report_of_a_chain_deeper_than_its_steps_reports_the_unaligned_layers_empty():
    g = chain((20, 20, 20, 20, 20, 20), 0.3)  # latencies 1..5 against 3 fidelity steps
    layers = spikec.compile(g, "loihi2", fidelity_steps=3).report["fidelity"]["layers"]
    assert [layers[f"lif{i}"]["latency_steps"] for i in range(5)] == [1, 2, 3, 3, 3]
    assert layers["lif4"]["spikes_float"] == layers["lif4"]["spikes_fixed"] == 0


def test_a_pruned_snntorch_layer_arrives_as_csr_and_keeps_snntorch_spikes_exactly_in_float32():
    """A trained-then-pruned model (90 % of a 400 x 400 Linear zeroed, as torch.nn.utils.prune leaves it):
    the frontend carries it sparse, and float32 mode still equals snnTorch step for step."""
    import snntorch as snn
    import torch
    import torch.nn.utils.prune as prune
    from framework_runs import step_snntorch

    torch.manual_seed(0)
    fc1, fc2 = torch.nn.Linear(400, 400), torch.nn.Linear(400, 10)
    prune.l1_unstructured(fc1, "weight", amount=0.9)
    prune.remove(fc1, "weight")
    with torch.no_grad():
        fc1.weight.mul_(8.0)  # keep the pruned layer spiking
    net = torch.nn.Sequential(fc1, snn.Leaky(beta=0.9, init_hidden=True), fc2,
                              snn.Leaky(beta=0.9, init_hidden=True, output=True))
    graph = spikec.from_snntorch(net, torch.zeros(400))
    sparse = [n for n in graph.nodes.values() if isinstance(n, (Affine, Linear)) and weights.is_sparse(n.weight)]
    assert len(sparse) == 1 and sparse[0].weight.shape == (400, 400)
    x = (np.random.default_rng(0).random((50, 4, 400)) < 0.2).astype(np.float32)
    expected = step_snntorch(net, x, dtype=np.float32)
    out = next(iter(spikec.simulate(graph, x, precision="float32").values()))
    assert expected.sum() > 0
    np.testing.assert_array_equal(out, expected)
