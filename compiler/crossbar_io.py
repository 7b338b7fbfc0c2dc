"""A CrossbarMap as bytes and back: the RRAM artefact of a saved Program.

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
from typing import Any

import numpy as np

from .crossbar_map import CrossbarMap, CrossbarTile, LayerMapping
from .rram_config import CrossbarGeometry

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
