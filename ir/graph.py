"""The graph: named nodes, directed edges, graph inputs and outputs.

A ``Graph`` is frozen. Passes return new graphs. Recurrent edges are allowed;
``execution_order`` says which edges are *back edges*: those carry the source's
output of the previous time step, which breaks every cycle (the convention of
NIRTorch and Lava: a recurrent connection takes effect one step later).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from .errors import GraphError
from .nodes import Input, Node, Output

Edge = tuple[str, str]


@dataclass(frozen=True, eq=False)
class Graph:
    nodes: Mapping[str, Node]
    edges: tuple[Edge, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))
        object.__setattr__(self, "edges", tuple((str(a), str(b)) for a, b in self.edges))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    # --- structure (indexed once per graph: a 10^6-neuron chain has thousands of nodes) ---------
    @cached_property
    def inputs(self) -> tuple[str, ...]:
        return tuple(n for n, node in self.nodes.items() if isinstance(node, Input))

    @cached_property
    def outputs(self) -> tuple[str, ...]:
        return tuple(n for n, node in self.nodes.items() if isinstance(node, Output))

    @cached_property
    def _neighbours(self) -> tuple[Mapping[str, tuple[str, ...]], Mapping[str, tuple[str, ...]]]:
        """(predecessors, successors) of every node that has any, in edge order."""
        pred: dict[str, list[str]] = {}
        succ: dict[str, list[str]] = {}
        for a, b in self.edges:
            pred.setdefault(b, []).append(a)
            succ.setdefault(a, []).append(b)
        return ({k: tuple(v) for k, v in pred.items()}, {k: tuple(v) for k, v in succ.items()})

    def predecessors(self, name: str) -> tuple[str, ...]:
        return self._neighbours[0].get(name, ())

    def successors(self, name: str) -> tuple[str, ...]:
        return self._neighbours[1].get(name, ())

    def items(self) -> Iterator[tuple[str, Node]]:
        return iter(self.nodes.items())

    def replace_nodes(self, new_nodes: Mapping[str, Node]) -> "Graph":
        """A copy with some nodes swapped (same names, same edges)."""
        return Graph({**self.nodes, **new_nodes}, self.edges, self.metadata)

    def with_metadata(self, **items: Any) -> "Graph":
        return Graph(self.nodes, self.edges, {**self.metadata, **items})

    def same_as(self, other: "Graph") -> bool:
        """Structural equality: same node names, equal nodes, same edge set."""
        return (
            set(self.nodes) == set(other.nodes)
            and all(node.same_as(other.nodes[n]) for n, node in self.nodes.items())
            and sorted(self.edges) == sorted(other.edges)
        )

    # --- time -----------------------------------------------------------------------
    def execution_order(self) -> tuple[tuple[str, ...], frozenset[Edge]]:
        """Nodes in the order one time step evaluates them, and the back edges.

        A depth-first search from the inputs (in graph order, successors in edge
        order) finds the back edges; the remaining edges form a DAG whose
        topological order is the evaluation order. Deterministic for a given graph.
        """
        succ: dict[str, list[str]] = {n: [] for n in self.nodes}
        for a, b in self.edges:
            succ[a].append(b)
        state: dict[str, int] = {}  # 1 = on stack, 2 = done
        back: set[Edge] = set()
        postorder: list[str] = []
        inputs = set(self.inputs)
        roots = list(self.inputs) + [n for n in self.nodes if n not in inputs]
        for root in roots:
            if root in state:
                continue
            stack: list[tuple[str, Iterator[str]]] = [(root, iter(succ[root]))]
            state[root] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    state[node] = 2
                    postorder.append(node)
                elif state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(succ[nxt])))
        return tuple(reversed(postorder)), frozenset(back)


def check_edges(graph: Graph) -> None:
    """Every edge joins two existing nodes; inputs have no predecessors, outputs no successors."""
    for a, b in graph.edges:
        for end in (a, b):
            if end not in graph.nodes:
                raise GraphError(f"edge ({a!r} -> {b!r}) refers to a node that does not exist", node=end)
    if not graph.inputs:
        raise GraphError("graph has no Input node")
    if not graph.outputs:
        raise GraphError("graph has no Output node")
    for name in graph.inputs:
        if graph.predecessors(name):
            raise GraphError("an Input node cannot receive edges", node=name)
    for name in graph.outputs:
        if graph.successors(name):
            raise GraphError("an Output node cannot send edges", node=name)
        if not graph.predecessors(name):
            raise GraphError("Output node is not connected to anything", node=name)
    inputs = set(graph.inputs)
    for name in graph.nodes:
        if name not in inputs and not graph.predecessors(name):
            raise GraphError("node has no incoming edge (dangling)", node=name)
