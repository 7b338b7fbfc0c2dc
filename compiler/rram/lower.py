"""The RRAM family's lowering: graph -> quantised graph + crossbar tiles + report.

This is the target-specific part of ``compile`` for RRAM targets. It maps
every synapse node onto crossbar tiles (``crossbar_map``), places and packs
the tiles (``crossbar_pack``), and returns the graph whose weights are exactly
what the tiles represent. Neurons, biases and everything else stay in float:
the RRAM family's digital format is the float reference's (``docs/semantics.md``
section 5), so the float reference on ``graph`` is the ideal chip.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.check import normalise
from ...ir.errors import CompileError
from ...ir.graph import Graph
from ...ir.nodes import Delay, DelayLinear, Linear
from .crossbar_map import MAPPED_TYPES, CrossbarMap, LayerMapping, map_layer_with_error, quantised_graph
from .crossbar_pack import UtilisationReport, place_tiles, utilisation_report
from ..quantise_delays import delay_steps
from .config import RramConfig


@dataclass(frozen=True, eq=False)
class RramMapping:
    """What an RRAM Program carries: the quantised graph, the tiles, the config."""

    graph: Graph
    crossbars: CrossbarMap
    config: RramConfig
    report: UtilisationReport | None = None


def expand_delay_linear(graph: Graph, dt_s: float | None) -> Graph:
    """Every ``DelayLinear`` as a tapped delay line: one ``Linear`` per quantised delay (the IR's rounding).

    A crossbar has no per-synapse delay: the digital side delays the layer's
    input in a delay buffer, a chain of ``Delay`` nodes ``k_1, k_2 - k_1, ...``
    steps (each exactly that many steps of dt) so the tap after the j-th holds
    the input ``k_j`` steps ago and the buffer holds ``max(k) + taps`` inputs,
    not one copy per tap. Each tap's synapses are their own tiles; the taps'
    outputs add, as the node's did.
    """
    if not any(isinstance(node, DelayLinear) for node in graph.nodes.values()):
        return graph
    if dt_s is None:
        raise CompileError("a DelayLinear node needs a time step: pass dt_s", parameter="dt_s")
    nodes: dict = {}
    edges = [e for e in graph.edges if not isinstance(graph.nodes[e[0]], DelayLinear) and not isinstance(graph.nodes[e[1]], DelayLinear)]
    for name, node in graph.items():
        if not isinstance(node, DelayLinear):
            nodes[name] = node
            continue
        steps = delay_steps(np.broadcast_to(node.delay, node.weight.shape), dt_s)
        present = node.weight != 0
        previous, before = None, 0
        for k in (np.unique(steps[present]) if present.any() else [0]):
            delay, linear = f"{name}.delay{int(k)}", f"{name}.weight{int(k)}"
            nodes[delay] = Delay(delay=np.full(node.weight.shape[1], (int(k) - before) * dt_s))
            nodes[linear] = Linear(weight=np.where(present & (steps == k), node.weight, 0.0))
            edges += [(p, delay) for p in graph.predecessors(name)] if previous is None else [(previous, delay)]
            edges += [(delay, linear)] + [(linear, s) for s in graph.successors(name)]
            previous, before = delay, int(k)
    return Graph(nodes, tuple(edges), graph.metadata)


def chain_long_delays(graph: Graph, dt_s: float | None, buffer_steps: int | None) -> Graph:
    """Every ``Delay`` longer than one digital delay buffer (``buffer_steps``) as a chain of buffers.

    Buffer j of the chain delays element e by ``clip(D_e - j * buffer_steps, 0,
    buffer_steps)`` whole steps, so the chain's total is ``D_e`` exactly (the
    IR's rounding first) and no buffer holds more than its depth. Node
    ``name`` keeps its name as the chain's last buffer; the others are
    ``name.buffer<j>``.
    """
    if buffer_steps is None or buffer_steps < 1 or dt_s is None:
        return graph
    long = {n for n, node in graph.items() if isinstance(node, Delay) and delay_steps(node.delay, dt_s).max(initial=0) > buffer_steps}
    if not long:
        return graph
    nodes: dict = {}
    edges = [e for e in graph.edges if e[1] not in long]
    for name, node in graph.items():
        if name not in long:
            nodes[name] = node
            continue
        steps = delay_steps(node.delay, dt_s)
        n = -(-int(steps.max()) // buffer_steps)
        previous = None
        for j in range(n):
            part = np.clip(steps - j * buffer_steps, 0, buffer_steps)
            stage = name if j == n - 1 else f"{name}.buffer{j}"
            nodes[stage] = Delay(delay=part * dt_s)
            edges += [(p, stage) for p in graph.predecessors(name)] if previous is None else [(previous, stage)]
            previous = stage
    return Graph(nodes, tuple(edges), graph.metadata)


def expand_delays(graph: Graph, dt_s: float | None = None, delay_buffer_steps: int | None = None,
                  *, normalised: bool = False) -> Graph:
    """The normalised graph with what a crossbar cannot hold rewritten for the digital side:
    ``DelayLinear`` as delay-buffer taps (``expand_delay_linear``), delays longer than one
    buffer as chains (``chain_long_delays``); dt from the argument or the graph.
    ``normalised``: the graph is ``normalise``'s output already (validating a 2,000-node graph again costs seconds)."""
    graph = graph if normalised else normalise(graph)
    dt = dt_s if dt_s is not None else graph.metadata.get("dt_s")
    return chain_long_delays(expand_delay_linear(graph, dt), dt, delay_buffer_steps)


def quantise_layers(graph: Graph, config: RramConfig) -> tuple[dict[str, LayerMapping], dict[str, dict[str, float]]]:
    """Every weight matrix as quantised tiles (``crossbar_map``), and each layer's quantisation error."""
    mapped = {name: map_layer_with_error(name, node, config.geometry) for name, node in graph.items() if isinstance(node, MAPPED_TYPES)}
    return {name: m for name, (m, _) in mapped.items()}, {name: e for name, (_, e) in mapped.items()}


def pack_layers(graph: Graph, layers: dict[str, LayerMapping], errors: dict[str, dict[str, float]], config: RramConfig) -> RramMapping:
    """The tiles placed on arrays (``crossbar_pack``) and the graph whose weights are what they represent."""
    crossbars = place_tiles(layers, config.geometry, pack=config.pack)
    return RramMapping(
        graph=quantised_graph(graph, crossbars.layers),
        crossbars=crossbars,
        config=config,
        report=utilisation_report(crossbars, errors),
    )


def lower_to_crossbars(graph: Graph, config: RramConfig, dt_s: float | None = None,
                       delay_buffer_steps: int | None = None) -> RramMapping:
    """Map, quantise and place every weight matrix of ``graph`` on ``config``'s arrays
    (``DelayLinear`` first becomes delay-buffer branches, ``expand_delay_linear``; a delay
    longer than ``delay_buffer_steps`` a chain of buffers, ``chain_long_delays``): the three
    steps the RRAM pipeline runs as passes (``compiler/rram/compile.py``)."""
    graph = expand_delays(graph, dt_s, delay_buffer_steps)
    layers, errors = quantise_layers(graph, config)
    return pack_layers(graph, layers, errors, config)
