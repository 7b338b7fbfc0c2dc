"""Stateless synaptic chains as matrices: what each neuron layer receives from each source.

Hardware with crossbar-like synapses (Loihi's Dense, crossbar tiles) knows one
operation: a matrix from a source population's spikes to a target population's
input. Between two spiking populations a graph may hold any chain of stateless
linear nodes (Affine, Linear, Scale, Conv, pooling, Flatten); by linearity the
chain is one matrix plus a constant (the biases). ``layer_inputs`` computes,
for every neuron node, the matrix from each source (an Input or a neuron node)
over flattened (C-order) shapes, the constant, and how many back edges the
path crosses (the float reference delays a back edge by one step). A
``Delay`` node delays each element by ``rint(delay / dt)`` steps; a projection
carries the resulting per-synapse delays (paths to one synapse with different
delays become separate projections). ``DelayLinear`` does the same per synapse.
"""
from __future__ import annotations

import functools
import itertools
import weakref
from dataclasses import dataclass

import numpy as np

from ..ir import weights
from ..ir.errors import CompileError
from ..ir.graph import Graph
from ..ir.nodes import (
    Affine, AvgPool2d, Conv1d, Conv2d, Delay, DelayLinear, Flatten, Input, Linear, Node, Output, Scale, SumPool2d, Threshold,
    NEURON_TYPES,
)
from ..ir.shapes import conv_geometry, infer_shapes, pool_geometry, pool_map_shape


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


@dataclass(frozen=True, eq=False)
class Projection:
    """Everything one neuron layer receives from one source: ``matrix @ s_source``.

    ``back_edges`` is the set of back-edge counts over the paths merged here
    (the float reference delays each back edge by one step).
    """

    source: str
    target: str
    matrix: weights.Matrix  # dense, or CSR when large and sparse (ir/weights.py); dense when ``delays`` is set
    back_edges: frozenset[int]
    delays: np.ndarray | None = None  # int steps per synapse (Delay nodes on the path), None if all zero

    @functools.cached_property
    def nonzero(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the nonzero entries in row-major order, computed once."""
        return weights.nonzero(self.matrix)


@dataclass(frozen=True, eq=False)
class LayerInputs:
    """The projections into every neuron (and Output) node, and each node's constant input."""

    projections: dict[str, list[Projection]]
    constants: dict[str, np.ndarray]
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]


def is_source(node: Node) -> bool:
    return isinstance(node, Input) or isinstance(node, NEURON_TYPES)


IDENTITY = object()  # the form of a source feeding a node directly (never materialised for big layers)
_CACHE: "weakref.WeakKeyDictionary[Graph, dict]" = weakref.WeakKeyDictionary()


def _materialise(m: object, n: int) -> weights.Matrix:
    return weights.identity(n) if m is IDENTITY else m


def _plus(a: object, b: weights.Matrix) -> weights.Matrix:
    """``a + b`` where ``a`` may be the 0 a sum starts from."""
    return b if isinstance(a, int) and a == 0 else weights.add(a, b)


def layer_inputs(graph: Graph, dt_s: float | None = None) -> LayerInputs:
    """``_layer_inputs``, computed once per graph object and dt (graphs are frozen)."""
    cached = _CACHE.setdefault(graph, {})
    if dt_s not in cached:
        cached[dt_s] = _layer_inputs(graph, dt_s)
    return cached[dt_s]


Key = tuple[str, int, int]  # (source, back edges, delay steps)


def _delay_forms(name: str, node: Delay, acc: dict[Key, object], n: int, dt_s: float | None) -> dict[Key, np.ndarray]:
    """A Delay node's output forms: each row moves to the key of its own delay."""
    if dt_s is None:
        raise CompileError("a Delay node needs a time step: pass dt_s", node=name, parameter="dt_s")
    steps = np.broadcast_to(np.rint(node.delay / dt_s).astype(np.int64), (n,) if node.delay.size == 1 else node.delay.shape).reshape(-1)
    out: dict[Key, np.ndarray] = {}
    for (s, b, k), m in acc.items():
        m = _materialise(m, n)
        for v in np.unique(steps):
            key = (s, b, k + int(v))
            if weights.is_sparse(m):
                part = weights.compact(weights.scale_rows(m, (steps == v).astype(np.float64)))
            else:
                part = np.where((steps == v)[:, None], m, 0.0)
            out[key] = _plus(out.get(key, 0), part)
    return out


def _delay_linear_forms(name: str, node: DelayLinear, acc: dict[Key, object], n: int, dt_s: float | None) -> dict[Key, np.ndarray]:
    """A DelayLinear's output forms: the weights of each distinct delay move to that delay's key."""
    if dt_s is None:
        raise CompileError("a DelayLinear node needs a time step: pass dt_s", node=name, parameter="dt_s")
    steps = np.broadcast_to(np.rint(node.delay / dt_s).astype(np.int64), node.weight.shape)
    out: dict[Key, np.ndarray] = {}
    for (s, b, k), m in acc.items():
        for v in np.unique(steps[node.weight != 0]) if np.any(node.weight) else [0]:
            w = np.where(steps == v, node.weight, 0.0)
            key = (s, b, k + int(v))
            out[key] = _plus(out.get(key, 0), w if m is IDENTITY else weights.matmul(w, m))
    return out


def _projections(target: str, acc: dict[Key, object], n: int) -> list[Projection]:
    """Merge forms per source; split a source's synapses over projections only where delays collide."""
    by_source: dict[str, dict[int, list]] = {}
    for (s, b, k), m in acc.items():
        entry = by_source.setdefault(s, {}).setdefault(k, [0, set()])
        entry[0] = _plus(entry[0], _materialise(m, n))
        entry[1].add(b)
    out: list[Projection] = []
    for s, per_delay in by_source.items():
        if set(per_delay) == {0}:
            m, bs = per_delay[0]
            out.append(Projection(s, target, m, frozenset(bs)))
            continue
        # per-synapse delays are dense arrays: a delayed sparse projection is carried dense here
        per_delay = {k: [weights.to_dense(m), bs] for k, (m, bs) in per_delay.items()}
        used = sum((m != 0).astype(int) for m, _ in per_delay.values())
        if used.max(initial=0) <= 1:  # every synapse has one delay: one projection
            matrix = sum(m for m, _ in per_delay.values())
            delays = sum(np.where(m != 0, k, 0) for k, (m, _) in per_delay.items())
            bs = set().union(*(b for _, b in per_delay.values()))
            out.append(Projection(s, target, matrix, frozenset(bs), delays.astype(np.int64)))
        else:
            for k, (m, bs) in sorted(per_delay.items()):
                out.append(Projection(s, target, m, frozenset(bs), np.full(m.shape, k, np.int64) if k else None))
    return out


def _layer_inputs(graph: Graph, dt_s: float | None) -> LayerInputs:
    """Collapse every stateless chain into one matrix per (source, target) pair.

    Forms are computed by memoised recursion over predecessors; recursion stops
    at sources (Inputs, neurons), which every cycle contains, so it terminates.
    """
    shapes = infer_shapes(graph)
    _, back = graph.execution_order()
    forms: dict[str, tuple[dict[Key, np.ndarray], np.ndarray]] = {}

    def incoming(name: str) -> tuple[dict[Key, object], np.ndarray]:
        n_in = int(np.prod(shapes[name][0]))
        acc: dict[Key, object] = {}
        const = np.zeros(n_in)
        for src in graph.predecessors(name):
            extra = 1 if (src, name) in back else 0
            if is_source(graph.nodes[src]):
                key = (src, extra, 0)
                acc[key] = IDENTITY if key not in acc else weights.add(_materialise(acc[key], n_in), weights.identity(n_in))
                continue
            src_forms, src_const = output_form(src)
            for (s, b, k), m in src_forms.items():
                key = (s, b + extra, k)
                acc[key] = m if key not in acc else weights.add(_materialise(acc[key], n_in), _materialise(m, n_in))
            const = const + src_const
        return acc, const

    def output_form(name: str) -> tuple[dict[Key, np.ndarray], np.ndarray]:
        if name not in forms:
            acc, const = incoming(name)
            node = graph.nodes[name]
            if isinstance(node, Delay):
                forms[name] = (_delay_forms(name, node, acc, int(np.prod(shapes[name][0])), dt_s), const)
            elif isinstance(node, DelayLinear):
                forms[name] = (_delay_linear_forms(name, node, acc, int(np.prod(shapes[name][0])), dt_s), node.weight @ const)
            else:
                matrix, bias = node_matrix(name, node, shapes[name][0], shapes[name][1])
                forms[name] = ({key: matrix if m is IDENTITY else weights.matmul(matrix, m) for key, m in acc.items()},
                               matrix @ const + bias)
        return forms[name]

    projections: dict[str, list[Projection]] = {}
    constants: dict[str, np.ndarray] = {}
    for name, node in graph.items():
        if not (isinstance(node, NEURON_TYPES) or isinstance(node, Output)):
            continue
        acc, const = incoming(name)
        projections[name] = _projections(name, acc, int(np.prod(shapes[name][0])))
        constants[name] = const
    return LayerInputs(projections, constants, shapes)
