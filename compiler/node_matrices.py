"""Stateless linear nodes as matrices over flattened (C-order) shapes.

A synapse only adds weighted spikes, so every stateless node between two
populations (Affine, Linear, Scale, Conv, pooling, Flatten) must be a matrix
plus a constant; ``node_matrix`` gives it (or names why there is none), and
``synaptic_paths`` multiplies the chain out.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..ir import weights
from ..ir.errors import CompileError
from ..ir.nodes import Affine, AvgPool2d, Conv1d, Conv2d, Flatten, Linear, Node, Output, Scale, SumPool2d, Threshold
from ..ir.shapes import conv_geometry, pool_geometry, pool_map_shape


def conv_matrix(node: Conv1d | Conv2d, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> weights.Matrix:
    """The matrix (out_flat, in_flat) of a convolution (torch cross-correlation, zero padding); CSR when large."""
    g = conv_geometry(node)
    w = node.weight
    c_out, c_in_g = w.shape[:2]
    out_g = c_out // node.groups
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    out_pos = np.indices(out_shape[1:]).reshape(len(out_shape) - 1, -1)  # [dims, P]
    for kernel_idx in itertools.product(*(range(k) for k in g["kernel"])):
        in_pos = [
            out_pos[d] * g["stride"][d] - g["padding"][d] + kernel_idx[d] * g["dilation"][d]
            for d in range(len(kernel_idx))
        ]
        valid = np.all([(p >= 0) & (p < in_shape[1 + d]) for d, p in enumerate(in_pos)], axis=0)
        in_spatial = np.ravel_multi_index([p[valid] for p in in_pos], in_shape[1:])
        out_spatial = np.flatnonzero(valid)
        n_out_sp, n_in_sp = int(np.prod(out_shape[1:])), int(np.prod(in_shape[1:]))
        for co in range(c_out):
            group = co // out_g
            for ci in range(c_in_g):
                value = w[(co, ci) + kernel_idx]
                if value != 0:
                    rows.append(co * n_out_sp + out_spatial)
                    cols.append((group * c_in_g + ci) * n_in_sp + in_spatial)
                    vals.append(np.full(out_spatial.size, value))
    shape = (int(np.prod(out_shape)), int(np.prod(in_shape)))
    cat = lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype)  # noqa: E731
    return weights.from_triplets(cat(rows, np.int64), cat(cols, np.int64), cat(vals, np.float64), shape)


def pool_matrix(node: SumPool2d | AvgPool2d, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """Sum (or mean, padding counted as zeros) over each window, per channel (a 1-d input: over (C, 1, L))."""
    g = pool_geometry(node)
    kh, kw = g["kernel"]
    value = 1.0 if isinstance(node, SumPool2d) else 1.0 / (kh * kw)
    (channels, h_in, w_in), (_, h_out, w_out) = pool_map_shape(in_shape), pool_map_shape(out_shape)
    c, oy, ox, ky, kx = (a.reshape(-1) for a in np.indices((channels, h_out, w_out, kh, kw)))
    iy = oy * g["stride"][0] - g["padding"][0] + ky
    ix = ox * g["stride"][1] - g["padding"][1] + kx
    ok = (iy >= 0) & (iy < h_in) & (ix >= 0) & (ix < w_in)
    rows = ((c * h_out + oy) * w_out + ox)[ok]
    cols = ((c * h_in + iy) * w_in + ix)[ok]
    shape = (int(np.prod(out_shape)), int(np.prod(in_shape)))
    return weights.from_triplets(rows, cols, np.full(rows.size, value), shape)


def node_matrix(name: str, node: Node, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[weights.Matrix, np.ndarray]:
    """(matrix, constant) of one stateless linear node over flattened shapes."""
    n_out = int(np.prod(out_shape))
    zero = np.zeros(n_out)
    if isinstance(node, Affine):
        return node.weight, node.bias.reshape(-1)
    if isinstance(node, Linear):
        return node.weight, zero
    if isinstance(node, Scale):
        return weights.diagonal(np.broadcast_to(node.scale, in_shape).reshape(-1)), zero
    if isinstance(node, (Conv1d, Conv2d)):
        bias = np.repeat(node.bias.reshape(-1), int(np.prod(out_shape[1:])))
        return conv_matrix(node, in_shape, out_shape), bias
    if isinstance(node, (SumPool2d, AvgPool2d)):
        return pool_matrix(node, in_shape, out_shape), zero
    if isinstance(node, (Flatten, Output)):
        return weights.identity(n_out), zero
    if isinstance(node, Threshold):
        # e.g. a NIR graph's LI -> Threshold: integrators, then a spike test on a membrane that never resets
        raise CompileError(
            "a Threshold spikes on a membrane it never resets (an integrator followed by a spike test), but this "
            "target's neurons compare only their own v and the hardware resets v on every spike (Lava's LIF, "
            "sPyNNaker's models), so no population computes it; rewrite: a LIF with a subtractive reset and a "
            "self-connection that adds the threshold back (exact, docs/frontends.md), or compile for an RRAM target",
            node=name, parameter="kind", value=node.kind,
        )
    if node.kind == "MaxPool2d":
        raise CompileError("MaxPool2d has no synaptic matrix (synapses only add weighted spikes): spikec.compile "
                           "rewrites a max over spikes as SumPool2d -> IF and refuses one over currents "
                           "(compiler/lower_maxpool.py)", node=name)
    raise CompileError(f"{node.kind} cannot be lowered to a synaptic matrix", node=name)
