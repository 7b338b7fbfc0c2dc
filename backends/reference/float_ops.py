"""Stateless synaptic operators in float64 numpy, batched: arrays are [B, *shape].

Convolution and pooling follow torch's definitions (cross-correlation, zero
padding, ``groups``), so a spikec graph computes what the torch module did.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pad(x: np.ndarray, padding: tuple[int, ...]) -> np.ndarray:
    if not any(padding):
        return x
    widths = [(0, 0)] * (x.ndim - len(padding)) + [(p, p) for p in padding]
    return np.pad(x, widths)


def _windows(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]) -> np.ndarray:
    """[B, C, *out, *kernel] views of the (already padded) input."""
    dims = len(kernel)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    win = sliding_window_view(x, span, axis=tuple(range(x.ndim - dims, x.ndim)))
    # win has axes [B, C, *positions, *span]; stride the positions, dilate the span
    positions = (slice(None),) * (x.ndim - dims)
    index = positions + tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, d) for d in dilation)
    return win[index]


def conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> np.ndarray:
    """N-d convolution of x [B, C_in, *spatial] with weight [C_out, C_in/groups, *kernel]."""
    kernel = tuple(weight.shape[2:])
    dims = len(kernel)
    win = _windows(_pad(x, padding), kernel, stride, dilation)  # [B, C_in, *out, *k]
    batch = x.shape[0]
    c_out = weight.shape[0]
    c_in_g = weight.shape[1]
    out_g = c_out // groups
    spatial_axes = "".join("xyz"[i] for i in range(dims))
    kernel_axes = "".join("klm"[i] for i in range(dims))
    outs = []
    for g in range(groups):
        w = weight[g * out_g : (g + 1) * out_g]
        xs = win[:, g * c_in_g : (g + 1) * c_in_g]
        outs.append(np.einsum(f"bc{spatial_axes}{kernel_axes},oc{kernel_axes}->bo{spatial_axes}", xs, w, optimize=True))
    y = np.concatenate(outs, axis=1) if groups > 1 else outs[0]
    if bias is not None:
        y = y + bias.reshape((1, c_out) + (1,) * dims)
    assert y.shape[0] == batch
    return y


def sum_pool2d(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...]) -> np.ndarray:
    win = _windows(_pad(x, padding), kernel, stride, (1, 1))
    return win.sum(axis=(-2, -1))


def avg_pool2d(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...]) -> np.ndarray:
    return sum_pool2d(x, kernel, stride, padding) / float(np.prod(kernel))


def max_pool2d(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...]) -> np.ndarray:
    """torch's max pooling: padding is -inf, so a padded element is never the max."""
    if any(padding):
        widths = [(0, 0)] * (x.ndim - 2) + [(p, p) for p in padding]
        x = np.pad(x, widths, constant_values=-np.inf)
    return _windows(x, kernel, stride, (1, 1)).max(axis=(-2, -1))
