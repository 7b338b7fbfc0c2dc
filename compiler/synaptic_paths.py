"""One walk that collapses the stateless linear nodes between populations into matrices.

Between two populations (Inputs, neuron nodes), or a population and an Output,
a graph may hold any chain of stateless linear nodes: Linear, Affine, Scale,
Conv, pooling, Flatten, Delay, DelayLinear. By linearity the chain is, per
source population, back-edge count and delay (in steps), one matrix plus
constant terms (the biases). ``collapse`` computes that for the nodes asked
for; two views read it: ``linear_maps.layer_inputs`` (projections onto neuron
layers: Loihi, crossbars, verification) and ``readout.collect_paths`` (host
read-outs; SpiNNaker's synaptic paths). Each folding rule (a node's matrix, a
Delay, a DelayLinear, a back edge, a bias) is written once, here.

Constants are kept two ways because the consumers hold them differently:
``lagged``, keyed by (back edges, delay steps) as the float reference applies
them in time (read-outs, SpiNNaker), and ``steady``, their sum as one bias
register holds it from the first step (Loihi).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from ..ir import weights
from ..ir.errors import CompileError
from ..ir.graph import Graph
from ..ir.nodes import Delay, DelayLinear, Input, Node, NEURON_TYPES
from ..ir.shapes import infer_shapes
from .node_matrices import node_matrix

Key = tuple[str, int, int]  # (source, back edges, delay steps)
Lag = tuple[int, int]  # (back edges, delay steps) of a constant
IDENTITY = object()  # the form of a population wired straight in (never materialised for big layers)


def is_population(node: Node) -> bool:
    """What hardware records or drives: a graph Input or a neuron node."""
    return isinstance(node, Input) or isinstance(node, NEURON_TYPES)


def materialise(m: Any, n: int, dense: bool = False) -> weights.Matrix:
    """A form as a matrix: ``IDENTITY`` is ``weights.identity(n)`` (CSR when large), or ``np.eye(n)`` if ``dense``."""
    if m is IDENTITY:
        return np.eye(n) if dense else weights.identity(n)
    return m


def _plus(a: Any, b: Any) -> Any:
    """``a + b`` where ``a`` may be the 0 a sum starts from (as numpy's ``0 + b``: a dense -0.0 becomes 0.0)."""
    if isinstance(a, int) and a == 0:
        return b if weights.is_sparse(b) else 0.0 + b
    return weights.add(a, b)


@dataclass(frozen=True, eq=False)
class Incoming:
    """What a node receives: ``sum_key forms[key] @ x_source[t - back - delay]`` plus constants.

    ``forms`` maps (source, back edges, delay steps) to a matrix (size, n_source) or ``IDENTITY``."""

    forms: dict[Key, Any]
    lagged: dict[Lag, np.ndarray]
    steady: np.ndarray
    size: int
    dense: bool  # forms are dense ndarrays (host read-outs), else in ``ir/weights.py``'s kinds

    def matrix(self, key: Key) -> weights.Matrix:
        return materialise(self.forms[key], self.size, self.dense)


def element_delay_steps(name: str, node: Delay, dt_s: float | None, n: int) -> np.ndarray:
    """Each element's delay in steps (round half to even), flattened to ``n``."""
    if dt_s is None:
        raise CompileError("a Delay node needs a time step: pass dt_s", node=name, parameter="dt_s")
    steps = np.rint(np.asarray(node.delay) / dt_s).astype(np.int64)
    return np.broadcast_to(steps.reshape(-1), (n,)).copy() if steps.size else np.zeros(n, np.int64)


def _through_delay(name: str, node: Delay, x: Incoming, dt_s: float | None) -> Incoming:
    """Element o of a Delay's output is its input's element o, ``steps[o]`` steps later; the steady
    constant is unchanged."""
    steps = element_delay_steps(name, node, dt_s, x.size)
    if np.all(steps == steps[0]):
        k = int(steps[0])
        return Incoming({(s, b, d + k): m for (s, b, d), m in x.forms.items()},
                        {(b, d + k): c for (b, d), c in x.lagged.items()}, x.steady, x.size, x.dense)
    matrices = {key: materialise(m, x.size, x.dense) for key, m in x.forms.items()}
    forms: dict[Key, Any] = {}
    lagged: dict[Lag, np.ndarray] = {}
    for k in np.unique(steps).tolist():
        rows = steps == k
        for (s, b, d), m in matrices.items():
            part = (weights.compact(weights.scale_rows(m, rows.astype(np.float64))) if weights.is_sparse(m)
                    else np.where(rows[:, None], m, 0.0))
            forms[(s, b, d + k)] = _plus(forms.get((s, b, d + k), 0), part)
        for (b, d), c in x.lagged.items():
            lagged[(b, d + k)] = lagged.get((b, d + k), 0) + np.where(rows, c, 0.0)
    return Incoming(forms, lagged, x.steady, x.size, x.dense)


def _through_delay_linear(name: str, node: DelayLinear, x: Incoming, dt_s: float | None) -> Incoming:
    """``y(t) = sum_k W_k x(t - k)``: each incoming form, through each W_k, k steps later; the steady
    constant goes through W."""
    if dt_s is None:
        raise CompileError("a DelayLinear node needs a time step: pass dt_s", node=name, parameter="dt_s")
    steps = np.broadcast_to(np.rint(np.asarray(node.delay) / dt_s).astype(np.int64), node.weight.shape)
    forms: dict[Key, Any] = {}
    lagged: dict[Lag, np.ndarray] = {}
    for k in np.unique(steps[node.weight != 0]).tolist() if np.any(node.weight) else [None]:
        w_k = np.where(steps == (0 if k is None else k), node.weight, 0.0)
        for (s, b, d), m in x.forms.items():  # all-zero weights (k None): one zero form per input form
            key = (s, b, d + (k or 0))
            forms[key] = _plus(forms.get(key, 0), w_k if m is IDENTITY else weights.matmul(w_k, m))
        for (b, d), c in x.lagged.items() if k is not None else ():
            lagged[(b, d + k)] = lagged.get((b, d + k), 0) + w_k @ c
    return Incoming(forms, lagged, node.weight @ x.steady, node.weight.shape[0], x.dense)


def _through_map(name: str, node: Node, x: Incoming, shapes: dict, dense: bool) -> Incoming:
    """A stateless linear node ``y = M x + bias`` (``node_matrices.node_matrix``)."""
    matrix, bias = node_matrix(name, node, shapes[name][0], shapes[name][1])
    if dense:
        matrix = weights.to_dense(matrix)  # read-outs are host matrices, dense
    forms = {key: matrix if m is IDENTITY else weights.matmul(matrix, m) for key, m in x.forms.items()}
    lagged = {key: matrix @ c for key, c in x.lagged.items()}
    if np.any(bias != 0):
        lagged[(0, 0)] = lagged.get((0, 0), 0) + bias
    return Incoming(forms, lagged, matrix @ x.steady + bias, int(np.prod(shapes[name][1])), dense)


def collapse(graph: Graph, dt_s: float | None, targets: Iterable[str], *, dense: bool = False) -> dict[str, Incoming]:
    """``Incoming`` of each node in ``targets`` over the source populations.

    Forms are computed by memoised recursion over predecessors; recursion stops
    at populations, which every cycle contains, so it terminates. An edge that is
    a back edge of the execution order adds one to the back-edge count of every
    form and constant that crosses it (the float reference delays it one step).
    """
    shapes = infer_shapes(graph)
    _, back = graph.execution_order()
    memo: dict[str, Incoming] = {}

    def incoming(name: str) -> Incoming:
        n = int(np.prod(shapes[name][0]))
        forms: dict[Key, Any] = {}
        lagged: dict[Lag, np.ndarray] = {}
        steady = np.zeros(n)

        def add(key: Key, m: Any) -> None:
            forms[key] = m if key not in forms else weights.add(materialise(forms[key], n, dense), materialise(m, n, dense))

        for src in graph.predecessors(name):
            extra = 1 if (src, name) in back else 0
            if is_population(graph.nodes[src]):
                add((src, extra, 0), IDENTITY)
                continue
            out = output(src)
            for (s, b, d), m in out.forms.items():
                add((s, b + extra, d), m)
            for (b, d), c in out.lagged.items():
                lagged[(b + extra, d)] = lagged.get((b + extra, d), 0) + c
            steady = steady + out.steady
        return Incoming(forms, lagged, steady, n, dense)

    def output(name: str) -> Incoming:
        if name not in memo:
            node, x = graph.nodes[name], incoming(name)
            if isinstance(node, Delay):
                memo[name] = _through_delay(name, node, x, dt_s)
            elif isinstance(node, DelayLinear):
                memo[name] = _through_delay_linear(name, node, x, dt_s)
            else:
                memo[name] = _through_map(name, node, x, shapes, dense)
        return memo[name]

    return {name: incoming(name) for name in targets}
