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

from typing import Mapping

import numpy as np
import scipy.sparse as sp

from ...ir import weights
from ...ir.errors import CompileError
from ...ir.graph import Graph
from ...ir.nodes import Affine, Conv1d, Conv2d, Linear, Node
from ...ir.shapes import conv_geometry
from .config import CrossbarGeometry
from .crossbars import CrossbarMap, CrossbarTile, LayerKind, LayerMapping, _readonly  # noqa: F401  (the types live with their bytes)

MAPPED_TYPES = (Affine, Linear, Conv1d, Conv2d)


def layer_matrix(node: Node) -> weights.Matrix:
    """The (out, in) matrix the arrays store for a synapse node (CSR stays CSR; conv kernels unrolled)."""
    w = node.weight
    return np.reshape(w, (w.shape[0], -1)) if isinstance(node, (Conv1d, Conv2d)) else w


def _sparse_route(matrix: weights.Matrix) -> bool:
    """Whether a layer is mapped block by block from CSR: when the IR would carry it sparse (by content)."""
    return weights.prefer_sparse(np.shape(matrix), weights.count_nonzero(matrix))


def quantise_tile(block: weights.Matrix, levels: int) -> tuple[float, weights.Matrix]:
    """(w_step, signed levels k) for a block given as (inputs, outputs), dense or CSR (k in the block's kind).

    The same arithmetic entry by entry on both kinds (a zero weight is level 0 either way).
    """
    values = block.data if weights.is_sparse(block) else block
    w_max = float(np.abs(values).max(initial=0.0))
    w_step = w_max / (levels - 1) if w_max > 0 else 1.0
    k = np.clip(np.rint(values / w_step).astype(np.int64), -(levels - 1), levels - 1)
    if not weights.is_sparse(block):
        return w_step, k
    return w_step, sp.csr_array((k, block.indices, block.indptr), shape=block.shape)


def map_matrix(layer: str, matrix: weights.Matrix, geometry: CrossbarGeometry) -> tuple[CrossbarTile, ...]:
    """Split an (out, in) matrix into array-sized tiles and quantise each.

    A large sparse matrix is cut from CSR (``_sparse_route``): transposed once
    to (in, out), then each tile is a contiguous block of it, never a dense copy.
    """
    n_out, n_in = matrix.shape
    sparse = _sparse_route(matrix)
    by_input = weights.csr(matrix).T.tocsr() if sparse else weights.to_dense(matrix).T
    tiles = []
    for r0 in range(0, n_in, geometry.rows):
        r1 = min(r0 + geometry.rows, n_in)
        band = by_input[r0:r1]
        for c0 in range(0, n_out, geometry.weight_cols):
            c1 = min(c0 + geometry.weight_cols, n_out)
            w_step, k = quantise_tile(band[:, c0:c1], geometry.levels)
            tiles.append(CrossbarTile(layer, r0, r1, c0, c1, w_step, k))
    return tuple(tiles)


def map_layer(name: str, node: Node, geometry: CrossbarGeometry) -> LayerMapping:
    """The LayerMapping of one Linear, Affine, Conv1d or Conv2d node (tiles unplaced)."""
    if not isinstance(node, MAPPED_TYPES):
        raise CompileError(f"{type(node).__name__} has no weight matrix to map", node=name)
    conv = None
    if isinstance(node, (Conv1d, Conv2d)):
        if node.groups != 1:
            raise CompileError("grouped convolutions cannot be mapped to crossbars (groups must be 1)",
                               node=name, parameter="groups", value=node.groups, limit=1)
        conv = conv_geometry(node)
    matrix = layer_matrix(node)
    bias = getattr(node, "bias", None)
    if bias is not None and not np.any(bias):
        bias = None
    return LayerMapping(
        layer=name,
        kind="conv" if conv is not None else "dense",
        in_features=matrix.shape[1],
        out_features=matrix.shape[0],
        tiles=map_matrix(name, matrix, geometry),
        bias=None if bias is None else _readonly(bias),
        conv=conv,
        weight_shape=tuple(node.weight.shape),
    )


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


def quantisation_error(node: Node, mapping: LayerMapping) -> dict[str, float]:
    """Max and RMS of |W - W_q| over all weights (zeros included), absolute and relative to max |W|.

    A layer mapped from CSR sums the squared errors over the stored entries
    (a zero weight has level 0: no error), others over the dense matrix.
    """
    w = layer_matrix(node)
    if _sparse_route(w):
        err = abs(weights.csr(w) - weights.csr(mapping.quantised())).data
        size = int(np.prod(w.shape))
        sq = float(np.sum(err**2))
        err_max = float(err.max(initial=0.0))
        rms = float(np.sqrt(sq / size)) if size else 0.0
        scale = weights.abs_max(w) or 1.0
    else:
        w = weights.to_dense(w)
        err = np.abs(w - mapping.quantised_matrix())
        err_max = float(err.max(initial=0.0))
        rms = float(np.sqrt(np.mean(err**2))) if err.size else 0.0
        scale = float(np.abs(w).max(initial=0.0)) or 1.0
    return {"max_abs": err_max, "rms_abs": rms, "max_rel": err_max / scale, "rms_rel": rms / scale}
