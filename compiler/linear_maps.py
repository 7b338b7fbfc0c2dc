"""What each neuron layer receives from each source, as projections.

Hardware with crossbar-like synapses (Loihi's Dense, crossbar tiles) knows one
operation: a matrix from a source population's spikes to a target population's
input. ``layer_inputs`` reads ``synaptic_paths.collapse`` (which multiplies out
the stateless chain between populations) as, for every neuron and Output node,
the matrix from each source (an Input or a neuron node) over flattened (C-order)
shapes, the steady constant (the biases), and how many back edges the path
crosses (the float reference delays a back edge by one step). A projection
carries per-synapse delays in steps (Delay, DelayLinear nodes); paths to one
synapse with different delays become separate projections.
"""
from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

import numpy as np

from ..ir import weights
from ..ir.graph import Graph
from ..ir.nodes import Output, NEURON_TYPES
from ..ir.shapes import infer_shapes
from .synaptic_paths import Incoming, collapse


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


_CACHE: "weakref.WeakKeyDictionary[Graph, dict]" = weakref.WeakKeyDictionary()


def layer_inputs(graph: Graph, dt_s: float | None = None) -> LayerInputs:
    """The projections and steady constants of every neuron and Output node, computed once per graph
    object and dt (graphs are frozen); a Delay or DelayLinear needs ``dt_s``."""
    cached = _CACHE.setdefault(graph, {})
    if dt_s not in cached:
        targets = [name for name, node in graph.items() if isinstance(node, NEURON_TYPES) or isinstance(node, Output)]
        incoming = collapse(graph, dt_s, targets)
        cached[dt_s] = LayerInputs({name: _projections(name, x) for name, x in incoming.items()},
                                   {name: x.steady for name, x in incoming.items()}, infer_shapes(graph))
    return cached[dt_s]


def _projections(target: str, x: Incoming) -> list[Projection]:
    """Merge forms per source; split a source's synapses over projections only where delays collide."""
    by_source: dict[str, dict[int, list]] = {}
    for key in x.forms:
        s, b, k = key
        entry = by_source.setdefault(s, {}).setdefault(k, [None, set()])
        entry[0] = x.matrix(key) if entry[0] is None else weights.add(entry[0], x.matrix(key))
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
