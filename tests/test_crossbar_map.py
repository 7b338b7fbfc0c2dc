"""Crossbar mapping and packing: every weight mapped once, quantised as documented."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spikec
from spikec.compiler.rram.crossbar_map import map_graph, map_layer, map_matrix, quantised_graph
from spikec.compiler.rram.crossbar_pack import place_tiles, utilisation_report
from spikec.compiler.rram.config import CrossbarGeometry
from spikec.compiler.rram.lower import lower_to_crossbars
from spikec.compiler.rram.config import RramConfig
from spikec.ir.errors import CompileError, ConfigError
from spikec.ir.graph import Graph
from spikec.ir.nodes import Conv2d, Input, Linear, Output

FIXTURES = "/work/shared/fixtures/nir-paper"

geometries = st.builds(
    CrossbarGeometry,
    rows=st.integers(2, 12),
    cols=st.integers(1, 6).map(lambda c: 2 * c),
    levels=st.integers(2, 33),
)


@st.composite
def matrices(draw):
    n_out, n_in = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**31))
    w = np.random.default_rng(seed).normal(size=(n_out, n_in))
    if draw(st.booleans()):
        w[np.random.default_rng(seed + 1).random(w.shape) < 0.3] = 0.0
    return w


@settings(max_examples=60, deadline=None)
@given(matrices(), geometries)
def test_every_weight_is_mapped_exactly_once(w, geometry):
    tiles = map_matrix("fc", w, geometry)
    count = np.zeros(w.shape, dtype=int)
    for t in tiles:
        assert 0 < t.n_in <= geometry.rows and 0 < t.n_out <= geometry.weight_cols
        assert t.level_pos.shape == t.level_neg.shape == (t.n_in, t.n_out)
        count[t.out_start:t.out_stop, t.in_start:t.in_stop] += 1
    assert (count == 1).all()


@settings(max_examples=60, deadline=None)
@given(matrices(), geometries)
def test_tiles_reconstruct_the_per_tile_quantised_matrix(w, geometry):
    """Rebuilding W from the tiles gives rint(W / step) * step per tile, step = max|W_tile| / (levels - 1)."""
    tiles = map_matrix("fc", w, geometry)
    rebuilt = np.zeros_like(w)
    for t in tiles:
        block = w[t.out_start:t.out_stop, t.in_start:t.in_stop]
        step = np.abs(block).max() / (geometry.levels - 1) if np.abs(block).max() > 0 else 1.0
        assert t.w_step == pytest.approx(step, rel=1e-12)
        np.testing.assert_array_equal(t.weights().T, np.rint(block / step) * step)
        # one cell of each pair is at g_min; levels stay in range
        assert ((t.level_pos == 0) | (t.level_neg == 0)).all()
        assert t.level_pos.max(initial=0) <= geometry.levels - 1 and t.level_neg.max(initial=0) <= geometry.levels - 1
        assert np.abs(block - t.weights().T).max(initial=0) <= step / 2 * (1 + 1e-12)
        rebuilt[t.out_start:t.out_stop, t.in_start:t.in_stop] = t.weights().T
    layer = map_layer("fc", Linear(weight=w), geometry)
    np.testing.assert_array_equal(layer.quantised_matrix(), rebuilt)


def test_differential_pair_conductances_encode_the_weight():
    geometry = CrossbarGeometry(rows=4, cols=4, levels=5)
    w = np.array([[1.0, -0.5, 0.25, 0.0]])  # (out=1, in=4)
    (tile,) = map_matrix("fc", w, geometry)
    g_pos, g_neg = tile.target_conductances_us(10.0, 50.0, geometry.levels)
    # step = 1/4; levels 4, -2, 1, 0; dg = 10 uS
    np.testing.assert_allclose(g_pos[:, 0], [50.0, 10.0, 20.0, 10.0])
    np.testing.assert_allclose(g_neg[:, 0], [10.0, 30.0, 10.0, 10.0])
    np.testing.assert_allclose((g_pos - g_neg)[:, 0] / 10.0 * tile.w_step, w[0])


def random_layers(shapes, geometry, seed: int) -> dict:
    """One mapped Linear per (out, in) shape, normal weights from ``seed``."""
    rng = np.random.default_rng(seed)
    return {f"l{i}": map_layer(f"l{i}", Linear(weight=rng.normal(size=s)), geometry) for i, s in enumerate(shapes)}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=6), geometries)
def test_packing_keeps_tiles_disjoint_and_never_costs_arrays(shapes, geometry):
    layers = random_layers(shapes, geometry, seed=0)
    packed = place_tiles(layers, geometry, pack=True)
    unpacked = place_tiles(layers, geometry, pack=False)
    assert packed.n_arrays <= unpacked.n_arrays == sum(len(m.tiles) for m in layers.values())
    rows = np.zeros((packed.n_arrays, geometry.rows), dtype=int)
    cols = np.zeros((packed.n_arrays, geometry.weight_cols), dtype=int)
    for t in packed.tiles:
        assert 0 <= t.array < packed.n_arrays
        rows[t.array, t.array_row:t.array_row + t.n_in] += 1
        cols[t.array, t.array_col:t.array_col + t.n_out] += 1
        assert t.array_row + t.n_in <= geometry.rows and t.array_col + t.n_out <= geometry.weight_cols
    # block-diagonal: no row and no column pair of an array is shared by two tiles
    assert rows.max() <= 1 and cols.max() <= 1
    report = utilisation_report(packed)
    assert report.cells_used == 2 * sum(int(np.prod(s)) for s in shapes)
    assert report.cells_total == packed.n_arrays * geometry.rows * geometry.cols
    assert 0 < report.utilisation <= 1


def _first_fit_by_scanning(tiles, geometry):
    """Placement as first fit scanning every array in order (largest area first): what place_tiles must give."""
    order = sorted(range(len(tiles)), key=lambda i: -(tiles[i].n_in * tiles[i].n_out))
    used, out = [], {}
    for i in order:
        t = tiles[i]
        index = next((b for b, (r, c) in enumerate(used) if r + t.n_in <= geometry.rows and c + t.n_out <= geometry.weight_cols), None)
        if index is None:
            used.append((0, 0))
            index = len(used) - 1
        r, c = used[index]
        out[i] = (index, r, c)
        used[index] = (r + t.n_in, c + t.n_out)
    return [out[i] for i in range(len(tiles))], len(used)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=12), geometries)
def test_grouped_first_fit_places_every_tile_where_scanning_every_array_would(shapes, geometry):
    layers = random_layers(shapes, geometry, seed=1)
    packed = place_tiles(layers, geometry, pack=True)
    expected, n_arrays = _first_fit_by_scanning([t for m in layers.values() for t in m.tiles], geometry)
    assert [(t.array, t.array_row, t.array_col) for t in packed.tiles] == expected and packed.n_arrays == n_arrays


@settings(max_examples=60, deadline=None)
@given(matrices(), geometries)
def test_a_matrix_cut_from_csr_gives_the_tiles_and_error_of_its_dense_twin(w, geometry):
    import scipy.sparse as sp

    from spikec.compiler.rram.crossbar_map import map_layer_with_error, quantisation_error
    from spikec.ir import weights

    dense_layer, dense_err = map_layer_with_error("fc", Linear(weight=w), geometry)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(weights, "SPARSE_MIN_ELEMENTS", 1)
        mp.setattr(weights, "SPARSE_MAX_DENSITY", 1.0)  # every matrix and every tile takes the CSR route
        sparse_layer, sparse_err = map_layer_with_error("fc", Linear(weight=sp.csr_array(w)), geometry)
        assert all(t.is_sparse for t in sparse_layer.tiles)
        assert weights.equal(sparse_layer.quantised(), dense_layer.quantised_matrix())
        by_subtraction = quantisation_error(Linear(weight=sp.csr_array(w)), sparse_layer)
    for a, b in zip(dense_layer.tiles, sparse_layer.tiles):
        assert (a.in_start, a.in_stop, a.out_start, a.out_stop, a.w_step) == (b.in_start, b.in_stop, b.out_start, b.out_stop, b.w_step)
        np.testing.assert_array_equal(a.signed_levels, b.signed_levels)
        np.testing.assert_array_equal(a.target_conductances_us(8.0, 90.0, geometry.levels),
                                      b.target_conductances_us(8.0, 90.0, geometry.levels))
    for key in dense_err:
        assert sparse_err[key] == pytest.approx(dense_err[key], rel=1e-12, abs=1e-300)
        assert sparse_err[key] == pytest.approx(by_subtraction[key], rel=1e-12, abs=1e-300)
    assert sparse_err["max_abs"] == dense_err["max_abs"]


def test_packing_small_layers_shares_an_array_on_braille():
    graph = spikec.load_nir(f"{FIXTURES}/braille_noDelay_bias_zero.nir")
    packed = lower_to_crossbars(graph, RramConfig(geometry=CrossbarGeometry(256, 256, 16)))
    unpacked = lower_to_crossbars(graph, RramConfig(geometry=CrossbarGeometry(256, 256, 16), pack=False))
    assert unpacked.crossbars.n_arrays == 3 and packed.crossbars.n_arrays == 1
    assert packed.report.utilisation == pytest.approx(3 * unpacked.report.utilisation)
    assert "arrays: 1 (without packing 3)" in packed.report.to_text()


def test_conv_maps_its_unrolled_kernel_matrix_and_grouped_conv_is_refused():
    graph = spikec.load_nir(f"{FIXTURES}/cnn_sinabs.nir")
    layers = map_graph(graph, CrossbarGeometry(256, 256, 16))
    conv = graph.nodes["0"]
    assert layers["0"].kind == "conv"
    assert (layers["0"].out_features, layers["0"].in_features) == (conv.weight.shape[0], int(np.prod(conv.weight.shape[1:])))
    q = quantised_graph(graph, layers).nodes["0"].weight
    assert q.shape == conv.weight.shape and np.abs(q - conv.weight).max() <= layers["0"].tiles[0].w_step / 2 + 1e-12
    grouped = Conv2d(input_shape=(2, 5, 5), weight=np.ones((2, 1, 3, 3)), stride=(1,), padding=(0,), dilation=(1,),
                     groups=2, bias=np.zeros(2))
    with pytest.raises(CompileError, match="groups"):
        map_layer("g", grouped, CrossbarGeometry(8, 8, 4))


def test_bad_geometry_is_a_config_error():
    with pytest.raises(ConfigError, match="levels"):
        CrossbarGeometry(rows=8, cols=8, levels=1)
    with pytest.raises(ConfigError, match="cells_per_weight"):
        CrossbarGeometry(rows=8, cols=8, levels=4, cells_per_weight=4)


def test_lowered_graph_carries_the_tile_weights():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(20, 30))
    graph = Graph({"in": Input(shape=(30,)), "fc": Linear(weight=w), "out": Output(shape=(20,))},
                  [("in", "fc"), ("fc", "out")])
    m = lower_to_crossbars(graph, RramConfig(geometry=CrossbarGeometry(8, 8, 8)))
    np.testing.assert_array_equal(m.graph.nodes["fc"].weight, m.crossbars.layers["fc"].quantised_matrix())
    # 30 inputs in row blocks of 8 (8, 8, 8, 6), 20 outputs in blocks of 4 column pairs: 4 x 5 tiles,
    # none small enough to share an array with another
    assert len(m.crossbars.layers["fc"].tiles) == 20 and m.crossbars.n_arrays == 20


def test_crossbar_map_bytes_round_trip_exactly_and_deterministically():
    from spikec.compiler.rram.crossbar_map import CrossbarMap

    graph = spikec.load_nir(f"{FIXTURES}/cnn_sinabs.nir")
    crossbars = lower_to_crossbars(graph, RramConfig(geometry=CrossbarGeometry(64, 64, 8))).crossbars
    data = crossbars.to_bytes()
    assert data == crossbars.to_bytes()
    back = CrossbarMap.from_bytes(data)
    assert back.geometry == crossbars.geometry and back.n_arrays == crossbars.n_arrays
    assert list(back.layers) == list(crossbars.layers)
    for a, b in zip(crossbars.tiles, back.tiles):
        assert (a.layer, a.in_start, a.in_stop, a.out_start, a.out_stop, a.w_step, a.array, a.array_row, a.array_col) == \
               (b.layer, b.in_start, b.in_stop, b.out_start, b.out_stop, b.w_step, b.array, b.array_row, b.array_col)
        np.testing.assert_array_equal(a.level_pos, b.level_pos)
        np.testing.assert_array_equal(a.level_neg, b.level_neg)
    for name, layer in crossbars.layers.items():
        np.testing.assert_array_equal(back.layers[name].quantised_matrix(), layer.quantised_matrix())
        assert back.layers[name].conv == layer.conv
    assert back.to_bytes() == data
