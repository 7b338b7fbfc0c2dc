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

from ...ir import weights
from ...ir.errors import CompileError
from ...ir.graph import Graph
from ...ir.nodes import Affine, Conv1d, Conv2d, Linear, Node
from ...ir.shapes import conv_geometry
from .config import CrossbarGeometry
from .crossbars import CrossbarMap, CrossbarTile, LayerKind, LayerMapping, _readonly  # noqa: F401  (the types live with their bytes)

MAPPED_TYPES = (Affine, Linear, Conv1d, Conv2d)


def layer_matrix(node: Node) -> np.ndarray:
    """The (out, in) matrix the arrays store for a synapse node."""
    w = weights.to_dense(node.weight)
    return w.reshape(w.shape[0], -1) if isinstance(node, (Conv1d, Conv2d)) else w


def quantise_tile(block: np.ndarray, levels: int) -> tuple[float, np.ndarray, np.ndarray]:
    """(w_step, level_pos, level_neg) for a block given as (inputs, outputs)."""
    w_max = float(np.abs(block).max(initial=0.0))
    w_step = w_max / (levels - 1) if w_max > 0 else 1.0
    k = np.rint(block / w_step).astype(np.int64)
    k = np.clip(k, -(levels - 1), levels - 1)
    return w_step, np.maximum(k, 0), np.maximum(-k, 0)


def map_matrix(layer: str, matrix: np.ndarray, geometry: CrossbarGeometry) -> tuple[CrossbarTile, ...]:
    """Split an (out, in) matrix into array-sized tiles and quantise each."""
    n_out, n_in = matrix.shape
    tiles = []
    for r0 in range(0, n_in, geometry.rows):
        r1 = min(r0 + geometry.rows, n_in)
        for c0 in range(0, n_out, geometry.weight_cols):
            c1 = min(c0 + geometry.weight_cols, n_out)
            w_step, pos, neg = quantise_tile(matrix[c0:c1, r0:r1].T, geometry.levels)
            tiles.append(CrossbarTile(layer, r0, r1, c0, c1, w_step, pos, neg))
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
    simulator must match.
    """
    changes = {name: graph.nodes[name].replace(weight=m.quantised_weight()) for name, m in layers.items()}
    return graph.replace_nodes(changes)


def quantisation_error(node: Node, mapping: LayerMapping) -> dict[str, float]:
    """Max and RMS of |W - W_q|, absolute and relative to max |W|."""
    w = layer_matrix(node)
    err = np.abs(w - mapping.quantised_matrix())
    scale = float(np.abs(w).max(initial=0.0)) or 1.0
    return {
        "max_abs": float(err.max(initial=0.0)),
        "rms_abs": float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
        "max_rel": float(err.max(initial=0.0)) / scale,
        "rms_rel": (float(np.sqrt(np.mean(err**2))) if err.size else 0.0) / scale,
    }
