"""Shape inference along every edge.

Shapes exclude time and batch. A node's *intrinsic* shape comes from its own
parameters (a weight matrix, a neuron vector, an Input's shape); otherwise it
follows from its predecessors. Every edge must join equal shapes; a mismatch
names both nodes and both shapes.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import GraphError
from .graph import Graph
from .nodes import (
    MAX_NODE_ELEMENTS, AvgPool2d, MaxPool2d, Conv1d, Conv2d, Delay, DelayLinear, Flatten, Input, Linear, Affine, Node, Output,
    Scale, Shape, SumPool2d, Threshold, NEURON_TYPES,
)

ShapePair = tuple[Shape, Shape]  # (input shape, output shape)

_ELEMENTWISE_FIELD = {Scale: "scale", Threshold: "threshold", Delay: "delay"}


def conv_output_size(n: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_padding(node: Conv1d | Conv2d, dims: int) -> tuple[int, ...]:
    """Explicit per-dimension padding, resolving NIR's 'same' and 'valid'."""
    kernel = node.weight.shape[2:]
    if node.padding == "valid":
        return (0,) * dims
    if node.padding == "same":
        dilation = _broadcast(node.dilation, dims)
        return tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel))
    return _broadcast(node.padding, dims)


def _broadcast(values: Shape, dims: int) -> tuple[int, ...]:
    values = tuple(values)
    if len(values) == 1:
        return values * dims
    if len(values) != dims:
        raise GraphError(f"expected {dims} values, got {values}")
    return values


def conv_geometry(node: Conv1d | Conv2d) -> dict[str, tuple[int, ...]]:
    dims = node.weight.ndim - 2
    return {
        "stride": _broadcast(node.stride, dims),
        "padding": conv_padding(node, dims),
        "dilation": _broadcast(node.dilation, dims),
        "kernel": tuple(node.weight.shape[2:]),
    }


def pool_map_shape(shape: Shape) -> tuple[int, int, int]:
    """The (C, H, W) map a pool reads: a (C, L) or (L,) input is the map (C, 1, L) / (1, 1, L), so a
    1-D pool is the 2-D pool with kernel (1, k) (what the frontends emit for MaxPool1d / AvgPool1d)."""
    shape = tuple(shape)
    return shape if len(shape) == 3 else ((1,) * (3 - len(shape)) + shape[:-1] + (1,) + shape[-1:])[-3:]


def pool_geometry(node: SumPool2d | AvgPool2d | MaxPool2d) -> dict[str, tuple[int, ...]]:
    return {
        "kernel": _broadcast(node.kernel_size, 2),
        "stride": _broadcast(node.stride, 2),
        "padding": _broadcast(node.padding, 2),
    }


def flatten_output(shape: Shape, start_dim: int, end_dim: int) -> Shape:
    n = len(shape)
    start = start_dim % n if n else 0
    end = end_dim % n if n else 0
    middle = math.prod(shape[start : end + 1])
    return tuple(shape[:start]) + (middle,) + tuple(shape[end + 1 :])


def fits_channels(shape: tuple[int, ...], n: int) -> bool:
    """A bias of this shape gives one value per output (or one for all); leading singleton dims
    (NIR's own test graphs write ``bias=[[0, 0, 0]]``) are allowed and dropped by ``normalise``."""
    core = tuple(shape)
    while len(core) > 1 and core[0] == 1:
        core = core[1:]
    return core in ((), (1,), (n,))


class ShapeMismatch(GraphError):
    """An edge joins two different shapes (``src``, ``dst``, ``src_shape``, ``dst_shape``)."""

    def __init__(self, src: str, dst: str, src_shape: Shape, dst_shape: Shape) -> None:
        super().__init__(
            f"shape mismatch on edge {src!r} -> {dst!r}: {src!r} outputs {tuple(src_shape)}, {dst!r} expects {tuple(dst_shape)}",
            node=dst, parameter="shape", value=tuple(src_shape), limit=tuple(dst_shape),
        )
        self.src, self.dst, self.src_shape, self.dst_shape = src, dst, tuple(src_shape), tuple(dst_shape)


def check_geometry(name: str, node: Node) -> None:
    """Array ranks and integer fields that shape inference and the executors rely on."""
    def fail(parameter: str, message: str, value=None, limit=None) -> None:
        raise GraphError(message, node=name, parameter=parameter, value=value, limit=limit)

    if isinstance(node, (Affine, Linear, DelayLinear)):
        if node.weight.ndim != 2 or 0 in node.weight.shape:
            fail("weight", f"weight must be a non-empty (out, in) matrix, got shape {node.weight.shape}", node.weight.shape)
        if isinstance(node, Affine) and not fits_channels(node.bias.shape, node.weight.shape[0]):
            fail("bias", f"bias of shape {node.bias.shape} does not fit {node.weight.shape[0]} outputs", node.bias.shape)
    elif isinstance(node, (Conv1d, Conv2d)):
        dims = 1 if isinstance(node, Conv1d) else 2
        w = node.weight
        if w.ndim != dims + 2 or 0 in w.shape:
            fail("weight", f"{node.kind} weight must be a non-empty {dims + 2}-d array, got shape {w.shape}", w.shape)
        if node.groups < 1 or w.shape[0] % node.groups:
            fail("groups", f"groups must be >= 1 and divide the {w.shape[0]} output channels, got {node.groups}", node.groups, ">= 1")
        if not fits_channels(node.bias.shape, w.shape[0]):
            fail("bias", f"bias of shape {node.bias.shape} does not fit {w.shape[0]} output channels", node.bias.shape)
        for field_name, lo in (("stride", 1), ("dilation", 1), ("padding", 0)):
            value = getattr(node, field_name)
            if isinstance(value, str):
                if value not in ("same", "valid"):
                    fail(field_name, f"padding must be 'same', 'valid' or integers, got {value!r}", value)
                continue
            if len(value) not in (1, dims) or min(value) < lo:
                fail(field_name, f"{field_name} must be 1 or {dims} integers >= {lo}, got {value}", value, f">= {lo}")
        if node.input_shape is not None and len(node.input_shape) not in (dims, dims + 1):
            fail("input_shape", f"input_shape must give {dims} spatial sizes, got {node.input_shape}", node.input_shape)
    elif isinstance(node, (SumPool2d, AvgPool2d, MaxPool2d)):
        for field_name, lo in (("kernel_size", 1), ("stride", 1), ("padding", 0)):
            value = getattr(node, field_name)
            if len(value) not in (1, 2) or min(value) < lo:
                fail(field_name, f"{field_name} must be 1 or 2 integers >= {lo}, got {value}", value, f">= {lo}")
        if isinstance(node, MaxPool2d):
            g = pool_geometry(node)
            if any(2 * p > k for p, k in zip(g["padding"], g["kernel"])):  # torch's rule: no window of padding only
                fail("padding", f"padding {g['padding']} must be at most half the kernel {g['kernel']}", g["padding"],
                     "<= kernel_size / 2")


def check_shape(name: str, shape: Shape, what: str) -> None:
    """Every dimension at least 1, at most MAX_NODE_ELEMENTS elements: checked before anything is allocated."""
    if any(d < 1 for d in shape):
        raise GraphError(f"{what} shape {tuple(shape)} has a dimension below 1", node=name, parameter="shape", value=tuple(shape), limit=">= 1")
    count = math.prod(shape)
    if count > MAX_NODE_ELEMENTS:
        raise GraphError(
            f"{what} shape {tuple(shape)} has {count} elements; the limit is {MAX_NODE_ELEMENTS} per node",
            node=name, parameter="shape", value=tuple(shape), limit=MAX_NODE_ELEMENTS,
        )


def intrinsic_input_shape(node: Node) -> Shape | None:
    """The input shape a node's own parameters fix, or None if it follows its inputs."""
    if isinstance(node, (Input, Output)):
        return node.shape or None
    if isinstance(node, (Affine, Linear, DelayLinear)):
        return (node.weight.shape[1],)
    if isinstance(node, (Conv1d, Conv2d)):
        if node.input_shape is None:
            return None
        return (node.weight.shape[1] * node.groups, *node.input_shape[-(node.weight.ndim - 2):])
    if isinstance(node, Flatten):
        return node.input_shape
    field_name = _ELEMENTWISE_FIELD.get(type(node))
    if field_name is None and isinstance(node, NEURON_TYPES):
        field_name = next(f for f in node.array_fields)
    if field_name is not None:
        shape = getattr(node, field_name).shape
        return shape if shape and int(np.prod(shape)) > 1 else None
    return None


def output_shape(name: str, node: Node, in_shape: Shape) -> Shape:
    """The output shape of ``node`` given its input shape."""
    if isinstance(node, Input):
        return in_shape
    if isinstance(node, (Affine, Linear, DelayLinear)):
        return (node.weight.shape[0],)
    if isinstance(node, (Conv1d, Conv2d)):
        g = conv_geometry(node)
        spatial = in_shape[1:]
        if len(spatial) != len(g["kernel"]):
            raise GraphError(f"convolution expects {len(g['kernel'])} spatial dims, input has shape {in_shape}", node=name)
        out = tuple(
            conv_output_size(n, k, s, p, d)
            for n, k, s, p, d in zip(spatial, g["kernel"], g["stride"], g["padding"], g["dilation"])
        )
        return (node.weight.shape[0], *out)
    if isinstance(node, (SumPool2d, AvgPool2d, MaxPool2d)):
        g = pool_geometry(node)
        if len(in_shape) not in (1, 2, 3):
            raise GraphError(f"pooling expects input (C, H, W), or (C, L) / (L,) for a 1-d pool, got {in_shape}", node=name)
        if len(in_shape) < 3 and (g["kernel"][0], g["stride"][0], g["padding"][0]) != (1, 1, 0):
            raise GraphError(f"a pool over the 1-d input {in_shape} needs kernel (1, k), stride (1, s) and padding (0, p), "
                             f"got kernel {g['kernel']}, stride {g['stride']}, padding {g['padding']}", node=name,
                             parameter="kernel_size", value=g["kernel"])
        c, h, w = pool_map_shape(in_shape)
        out = tuple(conv_output_size(n, k, s, p, 1) for n, k, s, p in zip((h, w), g["kernel"], g["stride"], g["padding"]))
        return (c, *out) if len(in_shape) == 3 else (*in_shape[:-1], out[1])
    if isinstance(node, Flatten):
        n = len(in_shape)
        start, end = node.start_dim, node.end_dim
        if not (-n <= start < n and -n <= end < n) or start % n > end % n:
            raise GraphError(
                f"start_dim {start} and end_dim {end} do not select dims of the input shape {in_shape}",
                node=name, parameter="start_dim", value=(start, end), limit=(-n, n - 1),
            )
        return flatten_output(in_shape, start, end)
    return in_shape


def _broadcasts(node: Node, params_shape: Shape, incoming: Shape) -> bool:
    """Elementwise parameters of a smaller shape that broadcast to the incoming one (NumPy's rule)."""
    if not (isinstance(node, NEURON_TYPES) or type(node) in _ELEMENTWISE_FIELD) or tuple(params_shape) == tuple(incoming):
        return False
    try:
        return np.broadcast_shapes(tuple(params_shape), tuple(incoming)) == tuple(incoming)
    except ValueError:
        return False


def infer_shapes(graph: Graph) -> dict[str, ShapePair]:
    """(input shape, output shape) of every node; raises GraphError on any mismatch."""
    order, back = graph.execution_order()
    shapes: dict[str, ShapePair] = {}
    for name in order:
        node = graph.nodes[name]
        check_geometry(name, node)
        declared = intrinsic_input_shape(node)
        incoming = [(src, shapes[src][1]) for src in graph.predecessors(name) if (src, name) not in back and src in shapes]
        if declared is not None and incoming and _broadcasts(node, declared, incoming[0][1]):
            declared = incoming[0][1]  # e.g. LIF parameters of shape (1, 8, 8) after a conv of 4 channels
        in_shape = declared if declared is not None else (incoming[0][1] if incoming else None)
        if in_shape is None:
            if isinstance(node, Input):
                raise GraphError("Input node has no shape", node=name)
            raise GraphError("cannot infer the input shape: no predecessor has a known shape", node=name)
        check_shape(name, tuple(in_shape), "input")
        for src, src_shape in incoming:
            if tuple(src_shape) != tuple(in_shape):
                raise ShapeMismatch(src, name, src_shape, in_shape)
        out_shape = output_shape(name, node, tuple(in_shape))
        check_shape(name, out_shape, "output")
        shapes[name] = (tuple(in_shape), out_shape)
    for src, dst in back:
        if shapes[src][1] != shapes[dst][0]:
            raise GraphError(
                f"shape mismatch on recurrent edge {src!r} -> {dst!r}: {src!r} outputs {shapes[src][1]}, "
                f"{dst!r} expects {shapes[dst][0]}",
                node=dst,
            )
    return shapes
