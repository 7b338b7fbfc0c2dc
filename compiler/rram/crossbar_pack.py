"""Placing tiles on arrays, packing small ones together, and the utilisation report.

Without packing every tile takes an array of its own. With packing, tiles
share an array *block-diagonally*: each new tile starts below and to the right
of the previous one, so tiles in one array use disjoint rows and disjoint
columns. That keeps every read exact: driving one tile's rows puts no current
on another tile's columns (their cells sit on other rows), so all tiles of an
array can be read in the same cycle, just as if they had arrays of their own.
The price is that the off-diagonal blocks stay empty; a full 2-d packing would
need time-multiplexed reads, which we do not model.

Tiles are placed first-fit, largest area first (ties in graph order), which is
deterministic. Packing never uses more arrays than not packing.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Mapping

from .crossbar_map import CrossbarMap, CrossbarTile, LayerMapping
from .config import CrossbarGeometry


@dataclass
class _Bin:
    rows_used: int = 0
    cols_used: int = 0


class _FirstFit:
    """First-fit over arrays without scanning them all: the open arrays grouped by the space they have left.

    The first array a tile fits is the lowest-numbered one whose free rows and
    free column pairs both hold it; each group (one free-space shape) keeps its
    arrays in a heap, so the answer is the smallest head among the groups that
    are large enough. An array with no free row or no free column pair holds
    nothing more and leaves the groups. Same placement as scanning every array
    in order, in time proportional to the number of distinct free shapes.
    """

    def __init__(self, geometry: CrossbarGeometry) -> None:
        self.geometry = geometry
        self.bins: list[_Bin] = []
        self.groups: dict[tuple[int, int], list[int]] = {}

    def _free(self, b: _Bin) -> tuple[int, int]:
        return self.geometry.rows - b.rows_used, self.geometry.weight_cols - b.cols_used

    def first(self, tile: CrossbarTile) -> int | None:
        heads = [heap[0] for (rows, cols), heap in self.groups.items() if heap and rows >= tile.n_in and cols >= tile.n_out]
        return min(heads) if heads else None

    def new(self) -> int:
        self.bins.append(_Bin())
        return len(self.bins) - 1

    def use(self, index: int, tile: CrossbarTile, *, grouped: bool) -> tuple[int, int]:
        """Put ``tile`` in array ``index`` (its head of group if ``grouped``); its (row, column pair) there."""
        b = self.bins[index]
        if grouped:
            heapq.heappop(self.groups[self._free(b)])
        at = (b.rows_used, b.cols_used)
        b.rows_used += tile.n_in
        b.cols_used += tile.n_out
        rows, cols = self._free(b)
        if rows > 0 and cols > 0:
            heapq.heappush(self.groups.setdefault((rows, cols), []), index)
        return at


def place_tiles(layers: Mapping[str, LayerMapping], geometry: CrossbarGeometry, *, pack: bool = True) -> CrossbarMap:
    """A CrossbarMap with every tile placed on an array (packed if ``pack``)."""
    order = [(name, i) for name, layer in layers.items() for i in range(len(layer.tiles))]
    if pack:
        order.sort(key=lambda key: -(layers[key[0]].tiles[key[1]].n_in * layers[key[0]].tiles[key[1]].n_out))
    arrays = _FirstFit(geometry)
    placed: dict[tuple[str, int], CrossbarTile] = {}
    for name, i in order:
        tile = layers[name].tiles[i]
        index = arrays.first(tile) if pack else None
        grouped = index is not None
        if index is None:
            index = arrays.new()
        row, col = arrays.use(index, tile, grouped=grouped)
        placed[(name, i)] = tile.placed(index, row, col)
    new_layers = {
        name: LayerMapping(
            layer.layer, layer.kind, layer.in_features, layer.out_features,
            tuple(placed[(name, i)] for i in range(len(layer.tiles))),
            layer.bias, layer.conv, layer.weight_shape,
        )
        for name, layer in layers.items()
    }
    return CrossbarMap(geometry, new_layers, len(arrays.bins))


@dataclass(frozen=True)
class UtilisationReport:
    """How well the arrays are used. Cells count physical devices (2 per weight)."""

    n_arrays: int
    n_arrays_unpacked: int
    cells_used: int
    cells_total: int
    per_array: tuple[float, ...]
    per_layer: Mapping[str, Mapping[str, float]]

    @property
    def utilisation(self) -> float:
        return self.cells_used / self.cells_total if self.cells_total else 0.0

    def to_text(self) -> str:
        g = f"arrays: {self.n_arrays} (without packing {self.n_arrays_unpacked}); "
        lines = [g + f"cells used {self.cells_used} of {self.cells_total} ({100 * self.utilisation:.1f} %)"]
        lines.append(f"{'layer':<16}{'weights':>9}{'tiles':>7}{'arrays':>8}{'rms err':>10}{'max err':>10}")
        for name, row in self.per_layer.items():
            lines.append(
                f"{name:<16}{int(row['weights']):>9}{int(row['tiles']):>7}{int(row['arrays']):>8}"
                f"{row.get('rms_rel', float('nan')):>10.4f}{row.get('max_rel', float('nan')):>10.4f}"
            )
        return "\n".join(lines)


def utilisation_report(
    crossbars: CrossbarMap, errors: Mapping[str, Mapping[str, float]] | None = None,
) -> UtilisationReport:
    """Arrays, cells and (if given) per-layer quantisation error (relative to max |W|)."""
    g = crossbars.geometry
    per_array = [0] * crossbars.n_arrays
    per_layer: dict[str, dict[str, float]] = {}
    for name, layer in crossbars.layers.items():
        for t in layer.tiles:
            per_array[t.array] += t.n_in * t.n_out * g.cells_per_weight
        per_layer[name] = {
            "weights": float(layer.in_features * layer.out_features),
            "tiles": float(len(layer.tiles)),
            "arrays": float(len({t.array for t in layer.tiles})),
            **(errors or {}).get(name, {}),
        }
    cells = g.rows * g.cols
    unpacked = sum(len(layer.tiles) for layer in crossbars.layers.values())
    return UtilisationReport(
        n_arrays=crossbars.n_arrays,
        n_arrays_unpacked=unpacked,
        cells_used=sum(per_array),
        cells_total=cells * crossbars.n_arrays,
        per_array=tuple(c / cells for c in per_array),
        per_layer=per_layer,
    )
