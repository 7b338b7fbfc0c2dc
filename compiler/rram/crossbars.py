"""The crossbar artefact: tiles, layer mappings and the CrossbarMap, and their bytes (a saved Program's RRAM artefact).

The types live with their serialisation so that neither module imports the
other (``crossbar_map`` computes them).

Layout: a deterministic ``.npz`` (sorted entries, fixed timestamps, no
pickles) holding ``index.json`` (geometry, array count, per layer its kind,
sizes, conv geometry and per tile its ranges, ``w_step`` and placement; JSON
floats round-trip exactly), the level arrays ``tile<j>.pos``/``tile<j>.neg``
(uint16) and the biases ``bias.<layer>``. Saving the same map twice gives the
same bytes; loading gives equal tiles.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, replace
from typing import Any, Literal, Mapping

import numpy as np

from .config import CrossbarGeometry

LayerKind = Literal["dense", "conv"]


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
        """Deterministic bytes (``crossbars_to_bytes`` below): the RRAM artefact of a saved Program."""
        return crossbars_to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> "CrossbarMap":
        return crossbars_from_bytes(data)


_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_TILE_FIELDS = ("in_start", "in_stop", "out_start", "out_stop", "w_step", "array", "array_row", "array_col")


def crossbars_to_bytes(crossbars: CrossbarMap) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    layers: list[dict[str, Any]] = []
    j = 0
    for name, layer in crossbars.layers.items():
        tiles = []
        for t in layer.tiles:
            arrays[f"tile{j}.pos"], arrays[f"tile{j}.neg"] = t.level_pos, t.level_neg
            tiles.append({f: getattr(t, f) for f in _TILE_FIELDS})
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
            tiles.append(CrossbarTile(rec["layer"], level_pos=arrays[f"tile{j}.pos"], level_neg=arrays[f"tile{j}.neg"], **t))
            j += 1
        conv = None if rec["conv"] is None else {k: tuple(v) for k, v in rec["conv"].items()}
        bias = arrays[f"bias.{rec['layer']}"] if rec["has_bias"] else None
        if bias is not None:
            bias.setflags(write=False)
        layers[rec["layer"]] = LayerMapping(rec["layer"], rec["kind"], rec["in_features"], rec["out_features"],
                                            tuple(tiles), bias, conv, tuple(rec["weight_shape"]))
    return CrossbarMap(CrossbarGeometry(**index["geometry"]), layers, index["n_arrays"])
