"""Semantic lint: parameters that are legal but almost surely wrong.

``validate`` rejects what cannot be run; ``lint`` warns about what runs but
cannot be what the author meant. Three checks, each a pure function of the
graph (and dt):

* a time constant far below dt (tau < dt / 10): under forward Euler at dt the
  neuron forgets everything each step and ``v += dt/tau (...)`` overshoots;
  Norse 1.1's exporter writes exactly this (tau = dt / tau_mem_inv, Norse #411);
* a threshold no input can reach: with every incoming synapse at its largest
  value (graph inputs and spikes in [0, 1], weights and biases as given) the
  membrane's fixed point stays at or below ``v_threshold``, so the neuron never
  fires (the test is strict ``>``);
* a layer no spike can leave: nothing downstream of it reaches an Output, or
  every outgoing synapse has only zero weights.

Warnings never change the graph; ``spikec inspect`` prints them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph import Graph
from .nodes import (
    IF, LI, LIF, Affine, AvgPool2d, Conv1d, Conv2d, CubaLIF, Delay, Flatten, Input, Integrator, Linear,
    Node, Output, Scale, SumPool2d, Threshold, SPIKING_TYPES, SYNAPSE_TYPES,
)
from .shapes import infer_shapes, pool_geometry
from .weights import any_nonzero, is_sparse, nonzero

#: A time constant below dt / TAU_RATIO_LIMIT is flagged.
TAU_RATIO_LIMIT = 10.0
_TIME_CONSTANTS = {LIF: ("tau",), LI: ("tau",), CubaLIF: ("tau_syn", "tau_mem")}

Bounds = tuple[np.ndarray, np.ndarray]  # elementwise (lowest, highest) output of a node


@dataclass(frozen=True)
class LintWarning:
    """One suspicious parameter: where it is, and why it is probably wrong."""

    node: str
    parameter: str | None
    message: str

    def __str__(self) -> str:
        where = f"node '{self.node}'" + (f" ({self.parameter})" if self.parameter else "")
        return f"{where}: {self.message}"


def lint(graph: Graph, dt_s: float | None = None) -> list[LintWarning]:
    """All warnings for ``graph`` stepped at ``dt_s`` (default: ``graph.metadata['dt_s']``).

    Without a dt the time-constant check is skipped. The graph must validate.
    """
    dt_s = dt_s if dt_s is not None else graph.metadata.get("dt_s")
    warnings: list[LintWarning] = []
    if dt_s is not None:
        warnings += check_time_constants(graph, float(dt_s))
    warnings += check_unreachable_thresholds(graph, dt_s)
    warnings += check_dead_layers(graph)
    return warnings


# --- time constants ---------------------------------------------------------------


def check_time_constants(graph: Graph, dt_s: float) -> list[LintWarning]:
    out = []
    for name, node in graph.items():
        for field_name in _TIME_CONSTANTS.get(type(node), ()):
            tau = np.asarray(getattr(node, field_name))
            bad = tau < dt_s / TAU_RATIO_LIMIT
            if bad.any():
                out.append(LintWarning(name, field_name, (
                    f"{int(bad.sum())} of {tau.size} time constants are below dt/{TAU_RATIO_LIMIT:g} "
                    f"(smallest {float(tau.min()):.3g} s, dt {dt_s:.3g} s): the state forgets itself every step "
                    f"and Euler overshoots; was tau written as dt/tau (Norse #411) or in ms?"
                )))
    return out


# --- unreachable thresholds ------------------------------------------------------


def _weighted_range(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Bounds:
    """Sums over the last axis of w * x with x in [lo, hi] (0 * inf counts as 0)."""
    with np.errstate(invalid="ignore"):
        a, b = w * lo, w * hi
    a, b = np.nan_to_num(a, nan=0.0, posinf=np.inf, neginf=-np.inf), np.nan_to_num(b, nan=0.0, posinf=np.inf, neginf=-np.inf)
    with np.errstate(invalid="ignore"):
        bottom, top = np.minimum(a, b).sum(axis=-1), np.maximum(a, b).sum(axis=-1)
    return np.nan_to_num(bottom, nan=-np.inf), np.nan_to_num(top, nan=np.inf)


def _sparse_weighted_range(w: Any, lo: np.ndarray, hi: np.ndarray) -> Bounds:
    """``_weighted_range`` of a CSR matrix: the stored entries only (a zero weight adds 0)."""
    rows, cols = nonzero(w)
    vals = w.data
    with np.errstate(invalid="ignore"):
        a, b = vals * lo[cols], vals * hi[cols]
    a, b = np.nan_to_num(a, nan=0.0, posinf=np.inf, neginf=-np.inf), np.nan_to_num(b, nan=0.0, posinf=np.inf, neginf=-np.inf)
    with np.errstate(invalid="ignore"):
        bottom = np.bincount(rows, np.minimum(a, b), minlength=w.shape[0])
        top = np.bincount(rows, np.maximum(a, b), minlength=w.shape[0])
    return np.nan_to_num(bottom, nan=-np.inf), np.nan_to_num(top, nan=np.inf)


def _synapse_bounds(node: Node, lo: np.ndarray, hi: np.ndarray, out_shape: tuple[int, ...]) -> Bounds:
    """Interval arithmetic through a synapse: each weight times the end of the interval that maximises it."""
    if isinstance(node, (Affine, Linear)):
        if is_sparse(node.weight):
            bottom, top = _sparse_weighted_range(node.weight, lo, hi)
        else:
            bottom, top = _weighted_range(node.weight, lo[None, :], hi[None, :])
        bias = node.bias if isinstance(node, Affine) else 0.0
        return bottom + bias, top + bias
    # Convolution: per output channel, the best case over its input channels anywhere
    # in the input (zero padding included), an upper bound for every position.
    w = node.weight
    c_hi = np.maximum(hi.reshape(hi.shape[0], -1).max(axis=1), 0.0)
    c_lo = np.minimum(lo.reshape(lo.shape[0], -1).min(axis=1), 0.0)
    out_per_group, c_in_g = w.shape[0] // node.groups, w.shape[1]
    first = (np.arange(w.shape[0]) // out_per_group) * c_in_g
    chans = first[:, None] + np.arange(c_in_g)[None, :]  # [O, C_in/g]
    kernel = int(np.prod(w.shape[2:]))
    w_flat = w.reshape(w.shape[0], c_in_g * kernel)
    lo_rep, hi_rep = np.repeat(c_lo[chans], kernel, axis=1), np.repeat(c_hi[chans], kernel, axis=1)
    bottom, top = _weighted_range(w_flat, lo_rep, hi_rep)
    expand = (slice(None),) + (None,) * (len(out_shape) - 1)
    return (np.broadcast_to((bottom + node.bias)[expand], out_shape),
            np.broadcast_to((top + node.bias)[expand], out_shape))


def signal_bounds(graph: Graph) -> dict[str, Bounds]:
    """Elementwise bounds of every node's output, assuming graph inputs in [0, 1].

    Spiking nodes output 0 or 1 whatever their input, which breaks every cycle;
    leaky integrators and delays pass unbounded or bounded values on; a node
    whose bound depends on itself (a cycle without a spiking node) is unbounded.
    """
    shapes = infer_shapes(graph)
    bounds: dict[str, Bounds] = {}
    busy: set[str] = set()
    inf = np.inf

    def unbounded(name: str) -> Bounds:
        shape = shapes[name][1]
        return np.full(shape, -inf), np.full(shape, inf)

    def input_bounds(name: str) -> Bounds:
        in_shape = shapes[name][0]
        lo, hi = np.zeros(in_shape), np.zeros(in_shape)
        for src in graph.predecessors(name):
            s_lo, s_hi = bounds_of(src)
            lo, hi = lo + s_lo, hi + s_hi
        return lo, hi

    def bounds_of(name: str) -> Bounds:
        if name in bounds:
            return bounds[name]
        node = graph.nodes[name]
        out_shape = shapes[name][1]
        if isinstance(node, Input) or isinstance(node, SPIKING_TYPES):
            result = (np.zeros(out_shape), np.ones(out_shape))
        elif name in busy:
            return unbounded(name)
        else:
            busy.add(name)
            result = _bounds_from_input(node, input_bounds(name), out_shape, name)
            busy.discard(name)
        bounds[name] = result
        return result

    def _bounds_from_input(node: Node, lohi: Bounds, out_shape: tuple[int, ...], name: str) -> Bounds:
        lo, hi = lohi
        if isinstance(node, SYNAPSE_TYPES):
            return _synapse_bounds(node, lo, hi, out_shape)
        if isinstance(node, Scale):
            a, b = lo * node.scale, hi * node.scale
            return np.minimum(a, b), np.maximum(a, b)
        if isinstance(node, (Output, Delay)):
            return np.minimum(lo, 0), np.maximum(hi, 0)  # a delay outputs 0 before its first input
        if isinstance(node, Flatten):
            return lo.reshape(out_shape), hi.reshape(out_shape)
        if isinstance(node, (SumPool2d, AvgPool2d)):
            k = int(np.prod(pool_geometry(node)["kernel"])) if isinstance(node, SumPool2d) else 1
            c_lo, c_hi = lo.min(axis=(1, 2)), hi.max(axis=(1, 2))
            return (np.broadcast_to((np.minimum(c_lo, 0) * k)[:, None, None], out_shape),
                    np.broadcast_to((np.maximum(c_hi, 0) * k)[:, None, None], out_shape))
        return unbounded(name)  # LI, Integrator: they accumulate

    for name in graph.nodes:
        bounds_of(name)
    return bounds


def _reachable_membrane(node: Node, x_max: np.ndarray, dt_s: float | None) -> np.ndarray | None:
    """Highest membrane value the neuron can reach with its input never above x_max, or None if unknown."""
    if isinstance(node, LIF):
        if dt_s is None or np.any(dt_s / node.tau > 1):
            return None
        return np.maximum(0.0, node.v_leak + node.r * x_max)
    if isinstance(node, CubaLIF):
        if dt_s is None or np.any(dt_s / node.tau_syn > 1) or np.any(dt_s / node.tau_mem > 1):
            return None
        i_max = np.maximum(0.0, node.w_in * x_max)
        return np.maximum(0.0, node.v_leak + node.r * i_max)
    if isinstance(node, IF):
        return np.where(node.r * x_max > 0, np.inf, 0.0)
    if isinstance(node, Threshold):
        return x_max
    return None


def check_unreachable_thresholds(graph: Graph, dt_s: float | None) -> list[LintWarning]:
    bounds = signal_bounds(graph)
    out = []
    for name, node in graph.items():
        if not isinstance(node, SPIKING_TYPES):
            continue
        x_max = sum((bounds[src][1] for src in graph.predecessors(name)), np.zeros(1))
        v_max = _reachable_membrane(node, np.asarray(x_max, dtype=np.float64), dt_s)
        if v_max is None:
            continue
        field_name = "threshold" if isinstance(node, Threshold) else "v_threshold"
        thr = np.asarray(getattr(node, field_name))
        silent = np.broadcast_to(v_max <= thr, np.broadcast_shapes(np.shape(v_max), thr.shape))
        if silent.any():
            idx = tuple(int(i) for i in np.argwhere(silent)[0])
            out.append(LintWarning(name, field_name, (
                f"{int(silent.sum())} of {silent.size} neurons can never fire: with every input at its largest "
                f"(inputs and spikes in [0, 1]) the membrane stays at or below the threshold "
                f"(at index {idx}: at most {float(np.broadcast_to(v_max, silent.shape)[idx]):.4g} "
                f"vs threshold {float(np.broadcast_to(thr, silent.shape)[idx]):.4g})"
            )))
    return out


# --- dead layers ------------------------------------------------------------------------


def _reaches_output(graph: Graph) -> set[str]:
    alive = set(graph.outputs)
    frontier = list(alive)
    while frontier:
        name = frontier.pop()
        for src in graph.predecessors(name):
            if src not in alive:
                alive.add(src)
                frontier.append(src)
    return alive


def check_dead_layers(graph: Graph) -> list[LintWarning]:
    out = []
    alive = _reaches_output(graph)
    for name, node in graph.items():
        if isinstance(node, Output):
            continue
        if name not in alive:
            out.append(LintWarning(name, None, "its output never reaches an Output node: nothing it computes can be seen"))
            continue
        succ = graph.successors(name)
        if isinstance(node, SPIKING_TYPES) and succ and all(
            isinstance(graph.nodes[s], SYNAPSE_TYPES) and not any_nonzero(graph.nodes[s].weight) for s in succ
        ):
            out.append(LintWarning(name, None, (
                f"every outgoing synapse ({', '.join(succ)}) has only zero weights: no spike can leave this layer"
            )))
    return out
