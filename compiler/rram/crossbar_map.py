"""Crossbar mapping: each weight matrix as quantised differential conductance tiles.

A layer's matrix is stored transposed on the arrays: crossbar rows carry the
layer's inputs, column pairs its outputs. A matrix larger than one array is
split into row blocks of ``rows`` and column blocks of ``cols // 2``; the
partial sums of a split column (one per row block) are added digitally after
the ADCs, as real macros do.

Each tile has its own scale ``w_step`` (weight per conductance level):
``w_step = max |W_tile| / (levels - 1)``. A weight becomes the signed integer
``k = rint(w / w_step)`` (round half to even), stored as the pair
``G+ = g_min + max(k, 0) * dg``, ``G- = g_min + max(-k, 0) * dg`` with
``dg = (g_max - g_min) / (levels - 1)``; the weight it represents is
``(G+ - G-) / dg * w_step = k * w_step``. The quantisation error per weight
is at most ``w_step / 2``.

Convolutions map as their *unrolled kernel matrix* (im2col): the array holds
``weight.reshape(C_out, C_in * prod(kernel))`` once, and each output position
is one read of the array with that position's input patch on the rows. The
alternative, the full Toeplitz matrix of the convolution, would store every
weight once per output position; we do not use it. Grouped convolutions are
not supported. Biases are added digitally, after the partial sums.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import scipy.sparse as sp

from ...ir import weights
from ...ir.errors import CompileError
from ...ir.graph import Graph
from ...ir.nodes import Affine, Conv1d, Conv2d, Linear, Node
from ...ir.shapes import conv_geometry
from .config import CrossbarGeometry
from .crossbars import CrossbarMap, CrossbarTile, LayerKind, LayerMapping, _readonly, level_dtype  # noqa: F401  (the types live with their bytes)

MAPPED_TYPES = (Affine, Linear, Conv1d, Conv2d)


def layer_matrix(node: Node) -> weights.Matrix:
    """The (out, in) matrix the arrays store for a synapse node (CSR stays CSR; conv kernels unrolled)."""
    w = node.weight
    return np.reshape(w, (w.shape[0], -1)) if isinstance(node, (Conv1d, Conv2d)) else w


def _sparse_route(matrix: weights.Matrix) -> bool:
    """Whether a layer is mapped block by block from CSR: when the IR would carry it sparse (by content)."""
    return weights.prefer_sparse(np.shape(matrix), weights.count_nonzero(matrix))


def quantise_tile(block: np.ndarray, levels: int) -> tuple[float, np.ndarray]:
    """(w_step, signed levels k) for a block's weights: a dense (inputs, outputs) array, or a CSR block's
    stored values (a zero weight is level 0 either way, so both kinds give the same levels entry by entry)."""
    w_max = float(np.abs(block).max(initial=0.0))
    w_step = w_max / (levels - 1) if w_max > 0 else 1.0
    return w_step, np.clip(np.rint(block / w_step).astype(np.int64), -(levels - 1), levels - 1)


@dataclass
class _ErrorSums:
    """Running max and sum of squares of |W - W_q| over a sparse layer's stored weights."""

    max_abs: float = 0.0
    sum_sq: float = 0.0

    def add(self, w: np.ndarray, w_q: np.ndarray) -> None:
        err = np.abs(w - w_q)
        self.max_abs = max(self.max_abs, float(err.max(initial=0.0)))
        self.sum_sq += float(np.dot(err, err))


def _sparse_tiles(layer: str, matrix: weights.Matrix, geometry: CrossbarGeometry,
                  errors: _ErrorSums) -> list[CrossbarTile]:
    """Tiles of a large sparse (out, in) matrix, cut from its CSR transposed once to (in, out).

    A row band of the transpose is a contiguous run of entries; a tile is the
    band's entries in its column range (still in row-major order), so each
    tile's CSR is built from index arithmetic alone, never a dense block.
    """
    n_out, n_in = matrix.shape
    by_input = weights.csr(matrix).T.tocsr()
    by_input.sort_indices()
    indptr, indices, data = by_input.indptr, by_input.indices, by_input.data
    n_blocks = -(-n_out // geometry.weight_cols)
    tiles = []
    for r0 in range(0, n_in, geometry.rows):
        r1 = min(r0 + geometry.rows, n_in)
        p0, p1 = int(indptr[r0]), int(indptr[r1])
        rows = np.repeat(np.arange(r1 - r0, dtype=np.int32), np.diff(indptr[r0:r1 + 1]))
        cols, vals = indices[p0:p1], data[p0:p1]
        block = cols // geometry.weight_cols
        order = np.argsort(block.astype(np.uint16) if n_blocks < 2**16 else block, kind="stable")  # row-major within a block
        ends = np.cumsum(np.bincount(block, minlength=n_blocks))
        for j, c0 in enumerate(range(0, n_out, geometry.weight_cols)):
            c1 = min(c0 + geometry.weight_cols, n_out)
            at = order[(ends[j - 1] if j else 0):ends[j]]
            w = vals[at]
            w_step, k = quantise_tile(w, geometry.levels)
            errors.add(w, k * w_step)
            kept = k != 0
            counts = np.bincount(rows[at[kept]], minlength=r1 - r0)
            levels = weights.canonical_csr(k[kept].astype(level_dtype(geometry.levels - 1)), (cols[at[kept]] - c0).astype(np.int32),
                                           np.concatenate(([0], np.cumsum(counts))).astype(np.int32), (r1 - r0, c1 - c0))
            tiles.append(CrossbarTile(layer, r0, r1, c0, c1, w_step, levels))
    return tiles


def _dense_tiles(layer: str, matrix: weights.Matrix, geometry: CrossbarGeometry) -> list[CrossbarTile]:
    n_out, n_in = matrix.shape
    dense = weights.to_dense(matrix)
    tiles = []
    for r0 in range(0, n_in, geometry.rows):
        r1 = min(r0 + geometry.rows, n_in)
        for c0 in range(0, n_out, geometry.weight_cols):
            c1 = min(c0 + geometry.weight_cols, n_out)
            w_step, k = quantise_tile(dense[c0:c1, r0:r1].T, geometry.levels)
            tiles.append(CrossbarTile(layer, r0, r1, c0, c1, w_step, k))
    return tiles


def map_matrix(layer: str, matrix: weights.Matrix, geometry: CrossbarGeometry) -> tuple[CrossbarTile, ...]:
    """Split an (out, in) matrix into array-sized tiles and quantise each.

    A large sparse matrix (``_sparse_route``) is cut from CSR, others from the
    dense matrix; the tiles are the same either way.
    """
    if _sparse_route(matrix):
        return tuple(_sparse_tiles(layer, matrix, geometry, _ErrorSums()))
    return tuple(_dense_tiles(layer, matrix, geometry))


def map_layer(name: str, node: Node, geometry: CrossbarGeometry) -> LayerMapping:
    """The LayerMapping of one Linear, Affine, Conv1d or Conv2d node (tiles unplaced)."""
    return map_layer_with_error(name, node, geometry)[0]


def map_layer_with_error(name: str, node: Node, geometry: CrossbarGeometry) -> tuple[LayerMapping, dict[str, float]]:
    """``map_layer`` and the layer's quantisation error (``quantisation_error``; a sparse layer's sums
    are taken tile by tile while its tiles are cut)."""
    if not isinstance(node, MAPPED_TYPES):
        raise CompileError(f"{type(node).__name__} has no weight matrix to map", node=name)
    conv = None
    if isinstance(node, (Conv1d, Conv2d)):
        if node.groups != 1:
            raise CompileError("grouped convolutions cannot be mapped to crossbars (groups must be 1)",
                               node=name, parameter="groups", value=node.groups, limit=1)
        conv = conv_geometry(node)
    matrix = layer_matrix(node)
    sums = _ErrorSums() if _sparse_route(matrix) else None
    tiles = _dense_tiles(name, matrix, geometry) if sums is None else _sparse_tiles(name, matrix, geometry, sums)
    bias = getattr(node, "bias", None)
    if bias is not None and not np.any(bias):
        bias = None
    mapping = LayerMapping(
        layer=name,
        kind="conv" if conv is not None else "dense",
        in_features=matrix.shape[1],
        out_features=matrix.shape[0],
        tiles=tuple(tiles),
        bias=None if bias is None else _readonly(bias),
        conv=conv,
        weight_shape=tuple(node.weight.shape),
    )
    if sums is None:
        return mapping, quantisation_error(node, mapping)
    return mapping, _error_dict(sums.max_abs, sums.sum_sq, int(np.prod(matrix.shape)), weights.abs_max(matrix))


def map_graph(graph: Graph, geometry: CrossbarGeometry) -> dict[str, LayerMapping]:
    """LayerMappings of every synapse node, in graph order (tiles unplaced)."""
    return {name: map_layer(name, node, geometry) for name, node in graph.items() if isinstance(node, MAPPED_TYPES)}


def quantised_graph(graph: Graph, layers: Mapping[str, LayerMapping]) -> Graph:
    """The graph with each mapped weight replaced by what its tiles represent.

    The float reference run on this graph is the oracle the ideal RRAM
    simulator must match. A large sparse layer's weight is CSR, built from
    the tiles' programmed pairs (``LayerMapping.quantised``).
    """
    changes = {name: graph.nodes[name].replace(weight=m.quantised_weight()) for name, m in layers.items()}
    return graph.replace_nodes(changes)


def _error_dict(max_abs: float, sum_sq: float, size: int, w_max: float) -> dict[str, float]:
    rms = float(np.sqrt(sum_sq / size)) if size else 0.0
    scale = w_max or 1.0
    return {"max_abs": max_abs, "rms_abs": rms, "max_rel": max_abs / scale, "rms_rel": rms / scale}


def quantisation_error(node: Node, mapping: LayerMapping) -> dict[str, float]:
    """Max and RMS of |W - W_q| over all weights (zeros included), absolute and relative to max |W|.

    A large sparse layer sums the squared errors over the stored entries (a
    zero weight has level 0: no error); others over the dense matrix.
    """
    w = layer_matrix(node)
    if _sparse_route(w):
        err = abs(weights.csr(w) - weights.csr(mapping.quantised())).data
        return _error_dict(float(err.max(initial=0.0)), float(np.dot(err, err)), int(np.prod(w.shape)), weights.abs_max(w))
    w = weights.to_dense(w)
    err = np.abs(w - mapping.quantised_matrix())
    err_max = float(err.max(initial=0.0))
    rms = float(np.sqrt(np.mean(err**2))) if err.size else 0.0
    scale = float(np.abs(w).max(initial=0.0)) or 1.0
    return {"max_abs": err_max, "rms_abs": rms, "max_rel": err_max / scale, "rms_rel": rms / scale}
