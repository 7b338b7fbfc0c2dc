"""Convolutions and sum-pooling as sparse connection matrices.

Why not Lava's own ``lava.proc.conv.process.Conv``: its fixed-point model
(lava-nc 0.10.0, ``lava/proc/conv/models.py``) never applies ``weight_exp``,
does not clip or truncate weights as Dense does, and clamps activations to
24 bits instead of Dense's arithmetic; it also lays tensors out as (X, Y, C).
So it is not bit-accurate with the Dense arithmetic spikec's Loihi format
defines. The backend instead unrolls each convolution into the equivalent
connection matrix and runs it as Lava's ``Sparse``, which is.

Indices follow C order of spikec's shapes: input (C_in, H, W) flattened,
output (C_out, H', W') flattened; the matrix is (out, in) like ``Dense``.
Results are COO triplets (rows, cols, values) so nothing needs scipy here.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

Coo = tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]


def _out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv2d_coo(
    weight: np.ndarray, input_shape: Sequence[int], stride: Sequence[int], padding: Sequence[int],
    dilation: Sequence[int], groups: int = 1,
) -> Coo:
    """The (C_out*H'*W', C_in*H*W) matrix of a 2-d convolution with ``weight``
    (C_out, C_in/groups, KH, KW); zero weights are left out."""
    c_out, c_in_g, kh, kw = weight.shape
    c_in, h, w = (int(v) for v in input_shape)
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    oh, ow = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    out_per_group = c_out // groups
    oc, ic, ki, kj, y, x = np.meshgrid(
        np.arange(c_out), np.arange(c_in_g), np.arange(kh), np.arange(kw), np.arange(oh), np.arange(ow),
        indexing="ij",
    )
    iy = y * sh - ph + ki * dh
    ix = x * sw - pw + kj * dw
    channel = (oc // out_per_group) * c_in_g + ic
    values = weight[oc, ic, ki, kj]
    keep = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w) & (values != 0)
    rows = (oc * oh + y) * ow + x
    cols = (channel * h + iy) * w + ix
    return rows[keep].ravel(), cols[keep].ravel(), values[keep].ravel(), (c_out * oh * ow, c_in * h * w)


def conv1d_coo(
    weight: np.ndarray, input_shape: Sequence[int], stride: Sequence[int], padding: Sequence[int],
    dilation: Sequence[int], groups: int = 1,
) -> Coo:
    """A 1-d convolution as the 2-d one with height 1."""
    c_in, n = (int(v) for v in input_shape)
    return conv2d_coo(weight[:, :, None, :], (c_in, 1, n), (1, stride[0]), (0, padding[0]), (1, dilation[0]), groups)


def sum_pool2d_coo(
    channels: int, input_shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
    padding: Sequence[int], value: int = 1,
) -> Coo:
    """Sum pooling as a depthwise convolution with all-``value`` kernels."""
    weight = np.zeros((channels, 1, kernel[0], kernel[1]), dtype=np.int64) + value
    return conv2d_coo(weight, (channels, *input_shape[-2:]), stride, padding, (1, 1), groups=channels)


def coo_to_dense(coo: Coo) -> np.ndarray:
    rows, cols, values, shape = coo
    dense = np.zeros(shape, dtype=np.asarray(values).dtype)
    np.add.at(dense, (rows, cols), values)
    return dense
