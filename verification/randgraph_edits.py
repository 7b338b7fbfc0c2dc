"""Graph surgery for the shrinker: each function returns a smaller or simpler graph.

The shrinker (``shrink.py``) tries these edits in turn and keeps one only if
the result still validates and still fails. So an edit needs to be
*meaningful* (it removes structure or simplifies a parameter) but not
*safe*: an edit that breaks a shape or leaves a cycle without state simply
yields a graph the checker rejects. Edits never mutate their argument.

- ``prune``: drop nodes that no longer reach an Output (and their edges).
- ``bypass``: remove a shape-preserving node (a neuron layer, a Delay),
  wiring its predecessors to its successors; ``fuse`` then composes the
  stateless linear maps left back to back into one Affine (W2 W1, W2 b1 + b2;
  convolutions and pooling as their matrices), so dropping a layer reconnects
  around it with shape-compatible weights; ``absorb`` does the same for a
  linear node that fans out to several synapses.
- ``width_groups`` / ``slice_group``: the neurons of a 1-d vector space (a
  layer's neurons, the rows of the synapses feeding it, the columns of those
  reading it, the Outputs and Delays on it) are sliced together.
- ``simplifications``: CubaLIF -> LIF, no reset delay or recheck, reset to
  zero, Affine or DelayLinear -> Linear, v_leak and v_reset -> 0, per-neuron
  -> uniform parameters, fewer significant digits, coarser weights.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..ir.graph import Graph
from ..ir.nodes import (
    IF, LI, LIF, Affine, AvgPool2d, Conv1d, Conv2d, CubaLIF, Delay, DelayLinear, Flatten, Input, Integrator,
    Linear, Node, Output, Scale, SumPool2d, Threshold,
)
from ..ir.shapes import infer_shapes
from ..compiler.node_matrices import node_matrix
from ..ir.weights import to_dense

#: Nodes whose output has the shape of their input, element by element.
ELEMENTWISE = (LIF, CubaLIF, IF, LI, Integrator, Delay, Scale, Threshold)
#: Synapses with an (out, in) weight matrix: their rows and columns can be sliced.
DENSE = (Affine, Linear, DelayLinear)
#: Stateless linear nodes a chain of which is one matrix plus a constant.
LINEAR = (Affine, Linear, Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten)

Edge = tuple[str, str]


def rebuild(graph: Graph, nodes: dict[str, Node], edges: list[Edge]) -> Graph:
    """A graph with ``nodes`` (in ``graph``'s order, new ones last) and deduplicated edges."""
    order = [n for n in graph.nodes if n in nodes] + [n for n in nodes if n not in graph.nodes]
    seen: dict[Edge, None] = {}
    for a, b in edges:
        if a in nodes and b in nodes:
            seen.setdefault((a, b), None)
    return Graph({n: nodes[n] for n in order}, tuple(seen), graph.metadata)


def prune(graph: Graph) -> Graph:
    """Drop every node (but Inputs) that reaches no Output, and Outputs left without a source."""
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    pred: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        succ[a].append(b)
        pred[b].append(a)
    useful = set(graph.outputs)
    stack = list(useful)
    while stack:
        for p in pred[stack.pop()]:
            if p not in useful:
                useful.add(p)
                stack.append(p)
    nodes = {n: node for n, node in graph.items() if n in useful or isinstance(node, Input)}
    return rebuild(graph, nodes, list(graph.edges))


def bypass(graph: Graph, name: str) -> Graph:
    """Remove ``name``, joining each predecessor to each successor (no self-loops)."""
    preds = [p for p in graph.predecessors(name) if p != name]
    succs = [s for s in graph.successors(name) if s != name]
    edges = [(a, b) for a, b in graph.edges if name not in (a, b)]
    edges += [(p, s) for p in preds for s in succs if p != s]
    nodes = {n: node for n, node in graph.items() if n != name}
    return prune(rebuild(graph, nodes, edges))


def drop_edge(graph: Graph, edge: Edge) -> Graph:
    return prune(rebuild(graph, dict(graph.nodes), [e for e in graph.edges if e != edge]))


def drop_output(graph: Graph, name: str) -> Graph:
    return prune(rebuild(graph, {n: v for n, v in graph.items() if n != name}, list(graph.edges)))


def fuse(graph: Graph, chain: list[str]) -> Graph:
    """Compose a chain of stateless linear nodes into one Affine named after its last node.

    Each node of ``chain`` is the only successor of the one before and has it
    as its only predecessor; the matrices multiply (``M = M_k ... M_1``, the
    constant follows along). A multi-dimensional Input whose only successor
    is the chain's first node becomes flat (C order, as the matrices are), so
    a whole convolutional front end can collapse into one dense matrix.
    """
    shapes = infer_shapes(graph)
    first, last = chain[0], chain[-1]
    matrix = np.eye(int(np.prod(shapes[first][0])))
    constant = np.zeros(matrix.shape[0])
    for name in chain:
        m, c = node_matrix(name, graph.nodes[name], *shapes[name])
        m = to_dense(m)
        matrix, constant = m @ matrix, m @ constant + c
    nodes = {n: node for n, node in graph.items() if n not in chain[:-1]}
    nodes[last] = Affine(weight=matrix, bias=constant)
    for p in graph.predecessors(first):
        if isinstance(nodes.get(p), Input) and graph.successors(p) == (first,) and len(nodes[p].shape) > 1:
            nodes[p] = Input(shape=(int(np.prod(nodes[p].shape)),), metadata=nodes[p].metadata)
    edges = [(a, b) for a, b in graph.edges if a not in chain[:-1] and b not in chain]
    edges += [(p, last) for p in graph.predecessors(first)]
    return rebuild(graph, nodes, edges)


def fusable_chains(graph: Graph) -> Iterator[list[str]]:
    """Chains of two or more stateless linear nodes that ``fuse`` can turn into one flat Affine.

    A chain starts at a linear node whose input is flat, or comes only from
    Inputs that feed nothing but it (``fuse`` flattens those); it follows
    single-successor, single-predecessor links, and ends at its last node
    with a flat output.
    """
    shapes = infer_shapes(graph)
    for start, node in graph.items():
        if not isinstance(node, LINEAR):
            continue
        preds = graph.predecessors(start)
        exclusive_inputs = bool(preds) and all(
            isinstance(graph.nodes[p], Input) and graph.successors(p) == (start,) for p in preds
        )
        if len(shapes[start][0]) != 1 and not exclusive_inputs:
            continue
        chain = [start]
        while len(graph.successors(chain[-1])) == 1:
            nxt = graph.successors(chain[-1])[0]
            if nxt in chain or not isinstance(graph.nodes[nxt], LINEAR) or graph.predecessors(nxt) != (chain[-1],):
                break
            chain.append(nxt)
        while chain and len(shapes[chain[-1]][1]) != 1:
            chain.pop()
        if len(chain) >= 2:
            yield chain


def absorb(graph: Graph, name: str) -> Graph:
    """Compose a flat linear node into each of its successors, then remove it.

    Every successor must be an Affine or Linear fed by ``name`` alone; each
    becomes the Affine of the composed map. One node fewer when a synapse
    fans out (a layer's output matrix feeding both a recurrent and a read-out
    synapse, once the layer itself is gone).
    """
    shapes = infer_shapes(graph)
    m1, c1 = node_matrix(name, graph.nodes[name], *shapes[name])
    m1 = to_dense(m1)
    nodes = {n: node for n, node in graph.items() if n != name}
    for succ in graph.successors(name):
        m2, c2 = node_matrix(succ, graph.nodes[succ], *shapes[succ])
        m2 = to_dense(m2)
        nodes[succ] = Affine(weight=m2 @ m1, bias=m2 @ c1 + c2)
    edges = [(a, b) for a, b in graph.edges if name not in (a, b)]
    edges += [(p, s) for p in graph.predecessors(name) for s in graph.successors(name)]
    return rebuild(graph, nodes, edges)


def absorbable(graph: Graph) -> Iterator[str]:
    """Flat linear nodes whose successors (two or more) are Affine/Linear fed by them alone."""
    shapes = infer_shapes(graph)
    for name, node in graph.items():
        succs = graph.successors(name)
        if not isinstance(node, LINEAR) or len(succs) < 2 or len(shapes[name][0]) != 1 or name in succs:
            continue
        if all(isinstance(graph.nodes[s], (Affine, Linear)) and graph.predecessors(s) == (name,) for s in succs):
            yield name


def fuse_all(graph: Graph) -> Graph:
    """Fuse linear chains until none is left (raises what ``infer_shapes`` raises on a broken graph)."""
    while True:
        chain = next(fusable_chains(graph), None)
        if chain is None:
            return graph
        graph = fuse(graph, chain)


# --- widths --------------------------------------------------------------------------

Port = tuple[str, str]  # (node, "in" | "out" | "io")


def _port(graph: Graph, name: str, side: str) -> Port:
    return (name, "io") if isinstance(graph.nodes[name], ELEMENTWISE + (Input, Output)) else (name, side)


def width_groups(graph: Graph) -> list[list[Port]]:
    """Sets of ports that share one flat vector space and can be sliced together.

    Union-find over edges (a's output port = b's input port); a group is
    sliceable when every port is a 1-d port of a dense synapse, a neuron, a
    Delay, Scale, Threshold, Input or Output (not a convolution or pooling).
    """
    parent: dict[Port, Port] = {}

    def find(p: Port) -> Port:
        while parent.setdefault(p, p) != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for a, b in graph.edges:
        parent[find(_port(graph, a, "out"))] = find(_port(graph, b, "in"))
    for name in graph.nodes:
        find(_port(graph, name, "in")), find(_port(graph, name, "out"))
    groups: dict[Port, list[Port]] = {}
    for p in parent:
        groups.setdefault(find(p), []).append(p)
    shapes = infer_shapes(graph)
    sliceable = []
    for ports in groups.values():
        ok = all(
            isinstance(graph.nodes[n], ELEMENTWISE + (Input, Output) + DENSE)
            and len(shapes[n][0 if side == "in" else 1]) == 1
            for n, side in ports
        )
        if ok:
            order = {n: i for i, n in enumerate(graph.nodes)}
            sliceable.append(sorted(ports, key=lambda p: (order[p[0]], p[1])))
    return sorted(sliceable, key=lambda ports: [p[0] for p in ports])


def group_width(graph: Graph, ports: list[Port]) -> int:
    shapes = infer_shapes(graph)
    name, side = ports[0]
    return int(shapes[name][1 if side == "out" else 0][0])


def slice_group(graph: Graph, ports: list[Port], keep: np.ndarray) -> Graph:
    """Keep only the elements ``keep`` of the vector space ``ports`` share."""
    nodes = dict(graph.nodes)
    for name, side in ports:
        node = nodes[name]
        if isinstance(node, (Input, Output)):
            nodes[name] = node.replace(shape=(len(keep),))
        elif isinstance(node, DENSE):
            take = (lambda m: m[keep, :]) if side == "out" else (lambda m: m[:, keep])
            changes = {"weight": take(node.weight)}
            if isinstance(node, DelayLinear):
                changes["delay"] = take(node.delay)
            if isinstance(node, Affine) and side == "out":
                changes["bias"] = node.bias[keep]
            nodes[name] = node.replace(**changes)
        else:
            nodes[name] = node.replace(**{f: getattr(node, f)[keep] for f in node.array_fields if getattr(node, f).ndim == 1})
    return Graph(nodes, graph.edges, graph.metadata)


# --- parameters ----------------------------------------------------------------------


def round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    """Each value to ``digits`` significant decimal digits (zeros stay zero)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.where(values != 0, np.floor(np.log10(np.abs(values))), 0.0)
    step = 10.0 ** (exponent - digits + 1)
    return np.round(values / step) * step


def _coarse(weight: np.ndarray) -> np.ndarray:
    """Weights to multiples of a quarter of the largest magnitude (small ones become 0)."""
    top = float(np.abs(weight).max())
    return weight if top == 0 else np.round(weight / (top / 4)) * (top / 4)


def simplifications(name: str, node: Node) -> Iterator[tuple[str, Node]]:
    """Simpler versions of one node, most drastic first, each with a description."""
    if isinstance(node, CubaLIF):
        params = node.params()  # the LIF keeps every other field (reset mode and its variants)
        tau, w_in = params.pop("tau_mem"), params.pop("w_in")
        params.pop("tau_syn")
        params["r"] = node.r * w_in  # the same stationary gain: I -> w_in x
        yield "CubaLIF -> LIF", LIF(tau=tau, **params, metadata=node.metadata)
    for flag in ("reset_delay", "reset_recheck"):
        if getattr(node, flag, False):
            yield f"{flag} off", node.replace(**{flag: False})
    if getattr(node, "reset", "zero") == "subtract":
        yield "reset subtract -> zero", node.replace(reset="zero")
    if isinstance(node, (Affine, DelayLinear)):
        yield f"{node.kind} -> Linear", Linear(weight=node.weight, metadata=node.metadata)
    if isinstance(node, (Conv1d, Conv2d)) and np.any(node.bias):
        yield "conv bias -> 0", node.replace(bias=np.zeros_like(node.bias))
    for field in ("v_leak", "v_reset"):
        if np.any(getattr(node, field, 0)):
            yield f"{field} -> 0", node.replace(**{field: np.zeros_like(getattr(node, field))})
    uneven = {f: getattr(node, f) for f in node.array_fields if f not in ("weight", "bias") and np.ptp(getattr(node, f)) > 0}
    if uneven:
        yield "uniform parameters", node.replace(**{f: np.full(v.shape, float(np.median(v))) for f, v in uneven.items()})
    for digits in (1, 2):
        rounded = {f: round_significant(getattr(node, f), digits) for f in node.array_fields}
        if any(not np.array_equal(v, getattr(node, f)) for f, v in rounded.items()):
            yield f"{digits} significant digits", node.replace(**rounded)
    if isinstance(node, DENSE + (Conv1d, Conv2d)):
        coarse = _coarse(node.weight)
        if not np.array_equal(coarse, node.weight):
            yield "weights to quarters of the largest", node.replace(weight=coarse)
