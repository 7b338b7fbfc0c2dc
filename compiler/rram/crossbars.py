"""The crossbar artefact: tiles, layer mappings and the CrossbarMap, and their bytes (a saved Program's RRAM artefact).

The types live with their serialisation so that neither module imports the
other (``crossbar_map`` computes them).

Layout: a deterministic ``.npz`` (sorted entries, fixed timestamps, no
pickles) holding ``index.json`` (geometry, array count, per layer its kind,
sizes, conv geometry and per tile its ranges, ``w_step`` and placement; JSON
floats round-trip exactly), the level arrays ``tile<j>.pos``/``tile<j>.neg``
(uint16, every cell) of a dense tile, or the signed levels of a sparse one as
CSR ``tile<j>.levels.data/indices/indptr`` (its record says ``"levels": "csr"``;
cells not listed are pairs at g_min), and the biases ``bias.<layer>``. Saving
the same map twice gives the same bytes; loading gives equal tiles.
"""
from __future__ import annotations

import copy
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import numpy as np
import scipy.sparse as sp

from ...ir import weights
from .config import CrossbarGeometry

LayerKind = Literal["dense", "conv"]


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


def level_dtype(max_level: int) -> np.dtype:
    """The smallest signed integer type holding levels -max_level .. max_level (int8 for 16 levels)."""
    for dtype in (np.int8, np.int16, np.int32):
        if max_level <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"conductance level {max_level} does not fit 32 bits")


def compact_levels(k: weights.Matrix) -> weights.Matrix:
    """Signed levels as a tile carries them: CSR when the tile is large and mostly zeros
    (``weights.prefer_sparse``, decided by the content, not by the kind given), else a dense array;
    the smallest integer type that holds them (``level_dtype``), read-only."""
    if weights.is_sparse(k):
        if not k.has_canonical_format or np.any(k.data == 0):
            k = weights.csr(k, np.int64)
        dtype = level_dtype(max(-int(k.data.min(initial=0)), int(k.data.max(initial=0))))
        if weights.prefer_sparse(k.shape, k.nnz):
            return weights.csr(k, dtype)  # itself when it already is canonical, read-only and of that type
        k = k.toarray()
    k = np.asarray(k)
    dtype = level_dtype(int(np.abs(k.astype(np.int64)).max(initial=0)))
    if weights.prefer_sparse(k.shape, int(np.count_nonzero(k))):
        return weights.csr(k, dtype)
    return _readonly(k.astype(dtype))


@dataclass(frozen=True, eq=False)
class CrossbarTile:
    """One block of a layer's matrix on one array.

    ``in_start:in_stop`` are the layer inputs (array rows), ``out_start:out_stop``
    the layer outputs (array column pairs). ``levels`` holds the signed level
    ``k`` of each weight, shape (inputs, outputs): the G+ cell is at level
    ``max(k, 0)``, the G- cell at ``max(-k, 0)`` (``level_pos``/``level_neg``,
    0 .. levels-1), so a zero weight is a pair of cells at ``g_min``. A large
    sparse tile stores only its programmed pairs (CSR, ``compact_levels``);
    the simulator still programs and ages every cell of the tile.
    ``array``, ``array_row`` and ``array_col`` place the tile (``array_col`` counts
    column pairs); -1 means not yet placed.
    """

    layer: str
    in_start: int
    in_stop: int
    out_start: int
    out_stop: int
    w_step: float
    levels: weights.Matrix
    array: int = -1
    array_row: int = 0
    array_col: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", compact_levels(self.levels))

    @classmethod
    def from_pairs(cls, layer: str, in_start: int, in_stop: int, out_start: int, out_stop: int, w_step: float,
                   level_pos: np.ndarray, level_neg: np.ndarray, **placement: int) -> "CrossbarTile":
        """A tile from its G+ and G- level arrays (at most one of each pair above 0)."""
        pos, neg = np.asarray(level_pos, dtype=np.int64), np.asarray(level_neg, dtype=np.int64)
        if pos.shape != neg.shape or (pos < 0).any() or (neg < 0).any() or ((pos > 0) & (neg > 0)).any():
            raise ValueError("level arrays must have one shape, be non-negative and program at most one cell of a pair")
        return cls(layer, in_start, in_stop, out_start, out_stop, w_step, pos - neg, **placement)

    @property
    def n_in(self) -> int:
        return self.in_stop - self.in_start

    @property
    def n_out(self) -> int:
        return self.out_stop - self.out_start

    @property
    def is_sparse(self) -> bool:
        return weights.is_sparse(self.levels)

    @property
    def nnz(self) -> int:
        """Weights programmed (pairs with a cell above g_min)."""
        return self.levels.nnz if self.is_sparse else int(np.count_nonzero(self.levels))

    @property
    def signed_levels(self) -> np.ndarray:
        """k = level_pos - level_neg, int32, shape (inputs, outputs), dense."""
        return np.ascontiguousarray(weights.to_dense(self.levels), dtype=np.int32)

    @property
    def level_pos(self) -> np.ndarray:
        """Level of each G+ cell (uint16, dense, (inputs, outputs))."""
        return np.maximum(self.signed_levels, 0).astype(np.uint16)

    @property
    def level_neg(self) -> np.ndarray:
        """Level of each G- cell (uint16, dense, (inputs, outputs))."""
        return np.maximum(-self.signed_levels, 0).astype(np.uint16)

    def weights(self) -> np.ndarray:
        """The quantised weights this tile represents, (inputs, outputs), dense."""
        return self.signed_levels * self.w_step

    def target_conductances_us(self, g_min_us: float, g_max_us: float, levels: int) -> tuple[np.ndarray, np.ndarray]:
        """(G+, G-) the programmer aims for, in uS, for every cell (dense)."""
        dg = (g_max_us - g_min_us) / (levels - 1)
        return g_min_us + self.level_pos * dg, g_min_us + self.level_neg * dg

    def placed(self, array: int, row: int, col: int) -> "CrossbarTile":
        tile = copy.copy(self)  # the levels are compact and read-only already: shared, not re-checked
        for name, value in (("array", array), ("array_row", row), ("array_col", col)):
            object.__setattr__(tile, name, int(value))
        return tile


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
        """(out, in) matrix assembled from the tiles, dense: what the arrays represent."""
        w = np.zeros((self.out_features, self.in_features))
        for t in self.tiles:
            w[t.out_start:t.out_stop, t.in_start:t.in_stop] = t.weights().T
        return w

    def quantised(self) -> weights.Matrix:
        """``quantised_matrix`` in the kind the IR carries it: CSR when large and mostly zeros
        (``weights.prefer_sparse``), assembled from the tiles' programmed pairs without a dense copy."""
        shape = (self.out_features, self.in_features)
        if not weights.prefer_sparse(shape, sum(t.nnz for t in self.tiles)):
            return self.quantised_matrix()
        rows, cols, vals = [], [], []
        for t in self.tiles:
            k = weights.csr(t.levels, t.levels.dtype)
            rows.append(t.out_start + k.indices.astype(np.int64))
            cols.append(t.in_start + np.repeat(np.arange(t.n_in, dtype=np.int64), np.diff(k.indptr)))
            vals.append(k.data.astype(np.float64) * t.w_step)
        m = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)
        return weights.csr(m)

    def quantised_weight(self) -> weights.Matrix:
        """The quantised weight in the node's own layout (conv kernels dense; matrices as ``quantised``)."""
        if self.kind == "conv":
            return self.quantised_matrix().reshape(self.weight_shape)
        return self.quantised()


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
        """Deterministic bytes (``crossbars_to_bytes`` below): the RRAM artefact of a saved Program."""
        return crossbars_to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> "CrossbarMap":
        return crossbars_from_bytes(data)


_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CSR_PARTS = ("data", "indices", "indptr")
_TILE_FIELDS = ("in_start", "in_stop", "out_start", "out_stop", "w_step", "array", "array_row", "array_col")


def crossbars_to_bytes(crossbars: CrossbarMap) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    layers: list[dict[str, Any]] = []
    j = 0
    for name, layer in crossbars.layers.items():
        tiles = []
        for t in layer.tiles:
            record = {f: getattr(t, f) for f in _TILE_FIELDS}
            if t.is_sparse:  # the programmed pairs only: signed levels as CSR
                record["levels"] = "csr"
                for part in _CSR_PARTS:
                    arrays[f"tile{j}.levels.{part}"] = getattr(t.levels, part)
            else:
                arrays[f"tile{j}.pos"], arrays[f"tile{j}.neg"] = t.level_pos, t.level_neg
            tiles.append(record)
            j += 1
        if layer.bias is not None:
            arrays[f"bias.{name}"] = layer.bias
        layers.append({
            "layer": name, "kind": layer.kind, "in_features": layer.in_features, "out_features": layer.out_features,
            "has_bias": layer.bias is not None, "weight_shape": list(layer.weight_shape), "tiles": tiles,
            "conv": None if layer.conv is None else {k: list(v) for k, v in layer.conv.items()},
        })
    g = crossbars.geometry
    index = {"geometry": {"rows": g.rows, "cols": g.cols, "levels": g.levels, "cells_per_weight": g.cells_per_weight},
             "n_arrays": crossbars.n_arrays, "layers": layers}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("index.json", _ZIP_DATE), json.dumps(index, sort_keys=True).encode(), zipfile.ZIP_DEFLATED)
        for key in sorted(arrays):
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(key + ".npy", _ZIP_DATE), entry.getvalue(), zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _levels_csr(arrays: Mapping[str, np.ndarray], key: str, shape: tuple[int, int]) -> sp.csr_array:
    """A sparse tile's signed levels from its three arrays, checked in full (integers, in bounds)."""
    parts = [arrays[f"{key}.{part}"] for part in _CSR_PARTS]
    if any(p.ndim != 1 or p.dtype.kind not in "iu" for p in parts):
        raise ValueError(f"{key}: level arrays must be 1-d integers")
    m = sp.csr_array(tuple(parts), shape=shape)
    m.check_format(full_check=True)
    return m


def crossbars_from_bytes(data: bytes) -> CrossbarMap:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        index = json.loads(zf.read("index.json"))
        arrays = {n[:-4]: np.lib.format.read_array(io.BytesIO(zf.read(n)), allow_pickle=False)
                  for n in zf.namelist() if n.endswith(".npy")}
    layers: dict[str, LayerMapping] = {}
    j = 0
    for rec in index["layers"]:
        tiles = []
        for t in rec["tiles"]:
            fields = {f: t[f] for f in _TILE_FIELDS}
            if t.get("levels") == "csr":
                shape = (t["in_stop"] - t["in_start"], t["out_stop"] - t["out_start"])
                tiles.append(CrossbarTile(rec["layer"], levels=_levels_csr(arrays, f"tile{j}.levels", shape), **fields))
            else:
                tiles.append(CrossbarTile.from_pairs(rec["layer"], level_pos=arrays[f"tile{j}.pos"],
                                                     level_neg=arrays[f"tile{j}.neg"], **fields))
            j += 1
        conv = None if rec["conv"] is None else {k: tuple(v) for k, v in rec["conv"].items()}
        bias = arrays[f"bias.{rec['layer']}"] if rec["has_bias"] else None
        if bias is not None:
            bias.setflags(write=False)
        layers[rec["layer"]] = LayerMapping(rec["layer"], rec["kind"], rec["in_features"], rec["out_features"],
                                            tuple(tiles), bias, conv, tuple(rec["weight_shape"]))
    return CrossbarMap(CrossbarGeometry(**index["geometry"]), layers, index["n_arrays"])
