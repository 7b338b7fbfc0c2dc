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

from dataclasses import dataclass, field, replace
from typing import Literal, Mapping

import numpy as np

from ..ir.errors import CompileError
from ..ir.graph import Graph
from ..ir.nodes import Affine, Conv1d, Conv2d, Linear, Node
from ..ir.shapes import conv_geometry
from .rram_config import CrossbarGeometry

LayerKind = Literal["dense", "conv"]
MAPPED_TYPES = (Affine, Linear, Conv1d, Conv2d)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class CrossbarTile:
    """One block of a layer's matrix on one array.

    ``in_start:in_stop`` are the layer inputs (array rows), ``out_start:out_stop``
    the layer outputs (array column pairs). ``level_pos``/``level_neg`` are the
    level indices (0 .. levels-1) of the G+ and G- cells, shape (inputs, outputs).
    ``array``, ``array_row`` and ``array_col`` place the tile (``array_col`` counts
    column pairs); -1 means not yet placed.
    """

    layer: str
    in_start: int
    in_stop: int
    out_start: int
    out_stop: int
    w_step: float
    level_pos: np.ndarray
    level_neg: np.ndarray
    array: int = -1
    array_row: int = 0
    array_col: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "level_pos", _readonly(self.level_pos.astype(np.uint16)))
        object.__setattr__(self, "level_neg", _readonly(self.level_neg.astype(np.uint16)))

    @property
    def n_in(self) -> int:
        return self.in_stop - self.in_start

    @property
    def n_out(self) -> int:
        return self.out_stop - self.out_start

    @property
    def signed_levels(self) -> np.ndarray:
        """k = level_pos - level_neg, int32, shape (inputs, outputs)."""
        return self.level_pos.astype(np.int32) - self.level_neg.astype(np.int32)

    def weights(self) -> np.ndarray:
        """The quantised weights this tile represents, (inputs, outputs)."""
        return self.signed_levels * self.w_step

    def target_conductances_us(self, g_min_us: float, g_max_us: float, levels: int) -> tuple[np.ndarray, np.ndarray]:
        """(G+, G-) the programmer aims for, in uS."""
        dg = (g_max_us - g_min_us) / (levels - 1)
        return g_min_us + self.level_pos * dg, g_min_us + self.level_neg * dg

    def placed(self, array: int, row: int, col: int) -> "CrossbarTile":
        return replace(self, array=array, array_row=row, array_col=col)


@dataclass(frozen=True, eq=False)
class LayerMapping:
    """All tiles of one synapse node, plus what the digital periphery adds.

    For a convolution, ``in_features`` is ``C_in * prod(kernel)`` (one patch)
    and ``conv`` holds the geometry the simulator needs to cut patches.
    """

    layer: str
    kind: LayerKind
    in_features: int
    out_features: int
    tiles: tuple[CrossbarTile, ...]
    bias: np.ndarray | None = None
    conv: Mapping[str, tuple[int, ...]] | None = None
    weight_shape: tuple[int, ...] = ()

    def quantised_matrix(self) -> np.ndarray:
        """(out, in) matrix assembled from the tiles: what the arrays represent."""
        w = np.zeros((self.out_features, self.in_features))
        for t in self.tiles:
            w[t.out_start:t.out_stop, t.in_start:t.in_stop] = t.weights().T
        return w

    def quantised_weight(self) -> np.ndarray:
        """The quantised weight in the node's own layout (e.g. conv kernels)."""
        return self.quantised_matrix().reshape(self.weight_shape)


@dataclass(frozen=True, eq=False)
class CrossbarMap:
    """Every mapped layer of a graph on a set of arrays."""

    geometry: CrossbarGeometry
    layers: Mapping[str, LayerMapping]
    n_arrays: int

    @property
    def tiles(self) -> tuple[CrossbarTile, ...]:
        return tuple(t for layer in self.layers.values() for t in layer.tiles)

    def to_bytes(self) -> bytes:
        """Deterministic bytes (``compiler/crossbar_io.py``): the RRAM artefact of a saved Program."""
        from .crossbar_io import crossbars_to_bytes

        return crossbars_to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> "CrossbarMap":
        from .crossbar_io import crossbars_from_bytes

        return crossbars_from_bytes(data)


def layer_matrix(node: Node) -> np.ndarray:
    """The (out, in) matrix the arrays store for a synapse node."""
    w = node.weight
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
