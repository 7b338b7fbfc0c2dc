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

from dataclasses import dataclass
from typing import Mapping

from .crossbar_map import CrossbarMap, CrossbarTile, LayerMapping
from .config import CrossbarGeometry


@dataclass
class _Bin:
    rows_used: int = 0
    cols_used: int = 0

    def fits(self, tile: CrossbarTile, geometry: CrossbarGeometry) -> bool:
        return self.rows_used + tile.n_in <= geometry.rows and self.cols_used + tile.n_out <= geometry.weight_cols


def place_tiles(layers: Mapping[str, LayerMapping], geometry: CrossbarGeometry, *, pack: bool = True) -> CrossbarMap:
    """A CrossbarMap with every tile placed on an array (packed if ``pack``)."""
    order = [(name, i) for name, layer in layers.items() for i in range(len(layer.tiles))]
    if pack:
        order.sort(key=lambda key: -(layers[key[0]].tiles[key[1]].n_in * layers[key[0]].tiles[key[1]].n_out))
    bins: list[_Bin] = []
    placed: dict[tuple[str, int], CrossbarTile] = {}
    for name, i in order:
        tile = layers[name].tiles[i]
        index = next((b for b, bin_ in enumerate(bins) if bin_.fits(tile, geometry)), None) if pack else None
        if index is None:
            bins.append(_Bin())
            index = len(bins) - 1
        bin_ = bins[index]
        placed[(name, i)] = tile.placed(index, bin_.rows_used, bin_.cols_used)
        bin_.rows_used += tile.n_in
        bin_.cols_used += tile.n_out
    new_layers = {
        name: LayerMapping(
            layer.layer, layer.kind, layer.in_features, layer.out_features,
            tuple(placed[(name, i)] for i in range(len(layer.tiles))),
            layer.bias, layer.conv, layer.weight_shape,
        )
        for name, layer in layers.items()
    }
    return CrossbarMap(geometry, new_layers, len(bins))


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
