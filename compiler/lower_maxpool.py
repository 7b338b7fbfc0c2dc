"""Max pooling for hardware: exact over spikes, refused over currents.

Neuromorphic synapses add weighted spikes; none takes a maximum. But the max
of 0/1 spikes over a window is their OR, and an OR is a threshold on their sum:
``max_w s = 1  iff  sum_w s > 0.5``. So a MaxPool2d whose input is spikes (a
spiking node IF/LIF/CubaLIF/Threshold, or a graph Input, which every target
feeds with spikes; possibly through Flatten or Delay) becomes

    SumPool2d (same name, same kernel/stride; zero padding) -> IF '<name>.or'
    (r = 1, v_threshold = 0.5, reset to v_reset = 0 at once)

The IF is the threshold unit hardware has: its input is a non-negative integer
count, its v starts at 0 and is back at 0 after every step (either nothing came
in, or it spiked and reset), so it spikes exactly when the count is >= 1, in
the same step. Padding: torch pads a max with -inf, and no window is all
padding (padding <= kernel / 2, checked in ``ir/shapes.py``), so zero padding in
the sum changes nothing.

A MaxPool2d of currents (the input of a neuron, e.g. snnTorch's tutorial CNNs
``Conv2d -> MaxPool2d -> Leaky``) has no exact form on any target: it is
refused with the layer, why, and the nearest exact rewrite.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..ir.check import normalise
from ..ir.errors import CompileError
from ..ir.graph import Graph
from ..ir.nodes import IF, Delay, Flatten, Input, MaxPool2d, SumPool2d, SPIKING_TYPES
from .pipeline import CompileState

OR_SUFFIX = ".or"


def _spike_source(graph: Graph, name: str) -> tuple[bool, str]:
    """(True, source) if ``name``'s input is one spiking node's output (through Flatten), else (False, why)."""
    _, back = graph.execution_order()
    current = name
    while True:
        preds = graph.predecessors(current)
        if len(preds) != 1:
            return False, f"the sum of {len(preds)} inputs ({', '.join(repr(p) for p in preds)})"
        src = preds[0]
        node = graph.nodes[src]
        if isinstance(node, (Flatten, Delay)) and (src, current) not in back:  # a delayed spike is a spike
            current = src
            continue
        if isinstance(node, SPIKING_TYPES + (Input,)):
            return True, src
        return False, f"from {src!r}, a {node.kind}"


def lower_max_pools(graph: Graph, target_name: str = "hardware") -> Graph:
    """``graph`` with every MaxPool2d over spikes as SumPool2d -> IF; CompileError for a max over currents."""
    pools = [n for n, node in graph.items() if isinstance(node, MaxPool2d)]
    if not pools:
        return graph
    nodes, edges = dict(graph.nodes), list(graph.edges)
    for name in pools:
        spikes, origin = _spike_source(graph, name)
        if not spikes:
            raise CompileError(
                f"MaxPool2d of currents ({origin}) has no exact form on {target_name}: synapses only add weighted "
                "spikes; rewrite: pool after the neuron (max over spikes is exact) or use AvgPool2d",
                node=name, parameter="input", value=origin,
            )
        pool = nodes[name]
        or_name = name + OR_SUFFIX
        if or_name in nodes:
            raise CompileError(f"cannot name the OR unit of this MaxPool2d: a node {or_name!r} exists", node=name)
        nodes[name] = SumPool2d(kernel_size=pool.kernel_size, stride=pool.stride, padding=pool.padding, metadata=pool.metadata)
        nodes[or_name] = IF(r=1.0, v_threshold=0.5, v_reset=0.0, reset="zero", metadata={"spikec.max_pool": name})
        edges = [(or_name if a == name else a, b) for a, b in edges] + [(name, or_name)]
    return normalise(Graph(nodes, tuple(edges), graph.metadata))


@dataclass(frozen=True)
class LowerMaxPools:
    """Max-pools over spikes become SumPool2d -> IF (an exact OR); a max over currents is refused."""

    name: ClassVar[str] = "lower-max-pools"

    def run(self, state: CompileState) -> CompileState:
        return state.evolve(graph=lower_max_pools(state.graph, state.target.name))

    def summary(self, state: CompileState) -> str:
        pools = sum(1 for node in state.graph.nodes.values() if "spikec.max_pool" in node.metadata)
        return f"{pools} max-pool{'s' if pools != 1 else ''} as sum-pool -> IF" if pools else "no max-pool"
