"""A synapse node on crossbars: tiles read, partial sums added, bias added.

Dense layers read each tile with the slice of inputs on its rows and add the
partial sums of tiles that share outputs (the digital accumulation of a split
column). Convolutions cut the input into patches (im2col, patch order
``(C_in, *kernel)`` to match ``weight.reshape(C_out, -1)``) and read the
arrays once per output position; all positions of a step are one batch of
reads.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...compiler.rram.crossbar_map import LayerMapping
from .analog import ProgrammedTile

TileReader = Callable[[ProgrammedTile, np.ndarray], np.ndarray]


def dense_on_tiles(layer: LayerMapping, tiles: tuple[ProgrammedTile, ...], x: np.ndarray, read: TileReader) -> np.ndarray:
    """(N, in_features) -> (N, out_features) through the tiles."""
    y = np.zeros((x.shape[0], layer.out_features))
    for p in tiles:
        t = p.tile
        y[:, t.out_start:t.out_stop] += read(p, x[:, t.in_start:t.in_stop])
    return y


def patches(x: np.ndarray, conv: dict[str, tuple[int, ...]]) -> tuple[np.ndarray, tuple[int, ...]]:
    """im2col: x [B, C, *spatial] -> ([B * P, C * prod(kernel)], output spatial shape)."""
    kernel, stride, padding, dilation = conv["kernel"], conv["stride"], conv["padding"], conv["dilation"]
    dims = len(kernel)
    if any(padding):
        x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    win = sliding_window_view(x, span, axis=tuple(range(2, 2 + dims)))
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, d) for d in dilation)
    win = win[index]  # [B, C, *out, *kernel]
    out_shape = win.shape[2:2 + dims]
    order = (0,) + tuple(range(2, 2 + dims)) + (1,) + tuple(range(2 + dims, 2 + 2 * dims))
    cols = win.transpose(order)  # [B, *out, C, *kernel]
    return cols.reshape(x.shape[0] * int(np.prod(out_shape)), -1), out_shape


def layer_on_tiles(layer: LayerMapping, tiles: tuple[ProgrammedTile, ...], x: np.ndarray, read: TileReader) -> np.ndarray:
    """One synapse node's output for x [B, *in_shape], bias included."""
    if layer.kind == "dense":
        y = dense_on_tiles(layer, tiles, x, read)
        return y if layer.bias is None else y + layer.bias
    cols, out_shape = patches(x, layer.conv)
    y = dense_on_tiles(layer, tiles, cols, read)  # [B * P, C_out]
    y = y.reshape(x.shape[0], *out_shape, layer.out_features)
    y = np.moveaxis(y, -1, 1)
    if layer.bias is not None:
        y = y + layer.bias.reshape((1, -1) + (1,) * len(out_shape))
    return y
