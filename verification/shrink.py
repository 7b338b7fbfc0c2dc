"""Shrinking: from a big failing graph (or input) to a small one that fails the same way.

A random sweep finds a mismatch on a graph of forty neurons in six layers; a
person needs the two-neuron graph that shows the same bug. ``shrink`` does
what delta debugging does for programs: it tries edits from the most drastic
(drop an output, drop a layer and reconnect around it, drop a recurrent or
skip edge, halve a layer) to the finest (CubaLIF -> LIF, no reset delay, zero
biases and leaks, round parameters), keeps the first edit whose result
validates, is less complex (``complexity``: fewer nodes, edges, parameters,
features, nonzeros, digits) and still fails, and starts over; it stops when
no edit keeps the failure or after ``max_steps`` calls of the predicate. The edits are in
``randgraph_edits.py``. Candidates that fail validation never reach the
predicate; candidates already tried are not tried twice. Everything is
deterministic: the same graph and predicate give the same result.

``shrink_input`` does the same for an input array: fewer batch elements,
fewer steps, fewer spikes (ddmin over the nonzero entries).
"""
from __future__ import annotations

import hashlib
from typing import Callable, Iterator

import numpy as np

from ..ir.check import normalise
from ..ir.errors import SpikecError
from ..ir.graph import Graph
from . import randgraph_edits as edits

Candidate = tuple[str, Callable[[], Graph]]

__all__ = ["complexity", "graph_size", "shrink", "shrink_input"]


def graph_size(graph: Graph) -> tuple[int, int, int]:
    """(nodes, edges, parameters): how big a graph is (input widths count as parameters)."""
    params = sum(int(np.size(getattr(n, f))) for n in graph.nodes.values() for f in n.array_fields)
    params += sum(int(np.prod(graph.nodes[name].shape)) for name in graph.inputs)
    return len(graph.nodes), len(graph.edges), params


def _digits(values: np.ndarray) -> int:
    """Total significant decimal digits of ``values`` (0 for zeros, at most 17 each)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    needed = np.zeros(values.shape, dtype=np.int64)
    pending = values != 0
    for d in range(1, 18):
        exact = pending & (edits.round_significant(values, d) == values)
        needed[exact] = d
        pending &= ~exact
    needed[pending] = 17
    return int(needed.sum())


def complexity(graph: Graph) -> tuple[int, ...]:
    """What every accepted edit must decrease (lexicographically), so shrinking terminates.

    (nodes, edges, parameters, features, nonzero parameters, significant
    digits), where features count CubaLIFs, delayed and subtractive resets,
    biases and per-neuron (non-uniform) parameter arrays.
    """
    features = nonzero = digits = 0
    for node in graph.nodes.values():
        features += node.kind == "CubaLIF" or node.kind == "Affine"
        features += bool(getattr(node, "reset_delay", False)) + bool(getattr(node, "reset_recheck", False))
        features += getattr(node, "reset", "zero") == "subtract"
        for f in node.array_fields:
            value = getattr(node, f)
            features += f not in ("weight", "bias", "delay") and value.size > 1 and np.ptp(value) > 0
            nonzero += int(np.count_nonzero(value))
            digits += _digits(value)
    return (*graph_size(graph), int(features), nonzero, digits)


def fingerprint(graph: Graph) -> str:
    """A hash of the graph's structure and parameters (names, kinds, values, edges)."""
    h = hashlib.sha256()
    for name, node in graph.items():
        h.update(f"{name}:{node.kind}".encode())
        for key, value in node.params().items():
            if isinstance(value, np.ndarray):
                h.update(f"{key}{value.shape}".encode() + np.ascontiguousarray(value).tobytes())
            else:
                h.update(f"{key}={value!r}".encode())
    h.update(repr(sorted(graph.edges)).encode())
    return h.hexdigest()


def _candidates(graph: Graph) -> Iterator[Candidate]:
    """Edits of ``graph``, most drastic first; each builds its graph lazily."""
    for name in graph.outputs if len(graph.outputs) > 1 else ():
        yield f"drop output {name!r}", lambda name=name: edits.drop_output(graph, name)
    for name, node in reversed(list(graph.items())):
        if isinstance(node, edits.ELEMENTWISE):
            yield f"drop layer {name!r}", lambda name=name: edits.fuse_all(edits.bypass(graph, name))
    for a, b in reversed(graph.edges):
        if len(graph.predecessors(b)) > 1:
            yield f"drop edge {a!r} -> {b!r}", lambda e=(a, b): edits.fuse_all(edits.drop_edge(graph, e))
    for chain in list(edits.fusable_chains(graph)):
        yield f"fuse {', '.join(chain)}", lambda chain=chain: edits.fuse(graph, chain)
    for name in list(edits.absorbable(graph)):
        yield f"absorb {name!r} into its successors", lambda name=name: edits.absorb(graph, name)
    for ports in edits.width_groups(graph):
        n = edits.group_width(graph, ports)
        label = "/".join(sorted({p[0] for p in ports}))
        if n > 1:
            half = n // 2
            for keep in (np.arange(half), np.arange(half, n)):
                yield f"keep {len(keep)} of {n} in {label}", lambda ports=ports, keep=keep: edits.slice_group(graph, ports, keep)
        if 1 < n <= 8:
            for i in range(n):
                keep = np.delete(np.arange(n), i)
                yield f"drop element {i} of {label}", lambda ports=ports, keep=keep: edits.slice_group(graph, ports, keep)
    for name, node in graph.items():
        for description, simpler in edits.simplifications(name, node):
            yield f"{name!r}: {description}", lambda name=name, simpler=simpler: graph.replace_nodes({name: simpler})


def _valid(build: Callable[[], Graph]) -> Graph | None:
    try:
        return normalise(build())
    except SpikecError:
        return None


def shrink(
    graph: Graph,
    still_fails: Callable[[Graph], bool],
    *,
    max_steps: int = 1000,
    log: list[str] | None = None,
) -> Graph:
    """A small graph on which ``still_fails`` holds, reduced from ``graph`` greedily.

    ``max_steps`` bounds the calls of ``still_fails`` (besides the first, on
    ``graph`` itself, which must hold: else ``SpikecError``). ``log``, if
    given, receives one line per accepted edit. Exceptions the predicate
    raises propagate: catch them inside it if a crash is the failure sought.
    The result is normalised; its metadata is ``graph``'s, with the
    reproducer moved to ``spikec.shrunk_from``.
    """
    current = normalise(graph)
    if not still_fails(current):
        raise SpikecError("shrink: the predicate does not hold on the original graph")
    tried = {fingerprint(current)}
    cost = complexity(current)
    steps = 0
    progress = True
    while progress and steps < max_steps:
        progress = False
        for description, build in _candidates(current):
            candidate = _valid(build)
            if candidate is None:
                continue
            key = fingerprint(candidate)
            if key in tried:
                continue
            tried.add(key)
            candidate_cost = complexity(candidate)
            if candidate_cost >= cost:
                continue
            steps += 1
            if still_fails(candidate):
                current, cost, progress = candidate, candidate_cost, True
                if log is not None:
                    log.append(f"{description}: {graph_size(current)[0]} nodes")
                break
            if steps >= max_steps:
                break
    return _mark_shrunk(current)


def _mark_shrunk(graph: Graph) -> Graph:
    meta = dict(graph.metadata)
    origin = meta.pop("spikec.random.reproducer", None)
    if origin is not None:
        meta["spikec.shrunk_from"] = origin
    return Graph(graph.nodes, graph.edges, meta)


# --- inputs --------------------------------------------------------------------------


def _input_candidates(x: np.ndarray, batched: bool, chunks: int) -> Iterator[tuple[str, np.ndarray]]:
    if batched and x.shape[1] > 1:
        for b in range(x.shape[1]):
            yield f"batch element {b} only", x[:, b : b + 1]
    steps = x.shape[0]
    cut = steps // 2
    while cut >= 1:
        yield f"first {steps - cut} steps", x[: steps - cut]
        yield f"last {steps - cut} steps", x[cut:]
        cut //= 2
    active = np.argwhere(x != 0)
    n = len(active)
    if n:
        for part in np.array_split(np.arange(n), min(chunks, n)):
            fewer = x.copy()
            fewer[tuple(active[part].T)] = 0
            yield f"{len(part)} fewer spikes", fewer


def _array_key(x: np.ndarray) -> bytes:
    return hashlib.sha256(repr(x.shape).encode() + np.ascontiguousarray(x).tobytes()).digest()


def shrink_input(
    x: np.ndarray, still_fails: Callable[[np.ndarray], bool], *, max_steps: int = 500, batched: bool = False,
) -> np.ndarray:
    """A smaller time-first input on which ``still_fails`` holds.

    Tries a single batch element (``batched``: x is ``[T, B, ...]``), shorter
    prefixes and suffixes in time, then removes spikes ddmin-style (in 2, 4,
    8, ... chunks down to single spikes). Deterministic; ``max_steps`` bounds
    the predicate calls after the first.
    """
    current = np.asarray(x)
    if not still_fails(current):
        raise SpikecError("shrink_input: the predicate does not hold on the original input")
    chunks, steps = 2, 0
    tried = {_array_key(current)}
    while steps < max_steps:
        accepted = False
        for _, candidate in _input_candidates(current, batched, chunks):
            if steps >= max_steps:
                break
            key = _array_key(candidate)
            if key in tried:
                continue
            tried.add(key)
            steps += 1
            if still_fails(candidate):
                current, accepted = candidate, True
                break
        if accepted:
            chunks = max(2, chunks - 1)
        elif chunks < np.count_nonzero(current):
            chunks = min(2 * chunks, int(np.count_nonzero(current)))
        else:
            break
    return current
