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

from ..ir.check import normalise
from ..ir.errors import CompileError
from ..ir.nodes import DelayLinear
from ..ir.graph import Graph
from .crossbar_map import CrossbarMap, map_graph, quantisation_error, quantised_graph
from .crossbar_pack import UtilisationReport, place_tiles, utilisation_report
from .rram_config import RramConfig


@dataclass(frozen=True, eq=False)
class RramMapping:
    """What an RRAM Program carries: the quantised graph, the tiles, the config."""

    graph: Graph
    crossbars: CrossbarMap
    config: RramConfig
    report: UtilisationReport | None = None


def lower_to_crossbars(graph: Graph, config: RramConfig) -> RramMapping:
    """Map, quantise and place every weight matrix of ``graph`` on ``config``'s arrays."""
    graph = normalise(graph)
    for name, node in graph.items():
        if isinstance(node, DelayLinear):  # the RRAM family has no synaptic delay buffer yet (issue 8)
            raise CompileError(
                "per-synapse delays (DelayLinear) are not supported on RRAM targets yet; "
                "use Delay nodes on the layer's input instead", node=name, parameter="delay",
            )
    layers = map_graph(graph, config.geometry)
    crossbars = place_tiles(layers, config.geometry, pack=config.pack)
    errors = {name: quantisation_error(graph.nodes[name], m) for name, m in layers.items()}
    return RramMapping(
        graph=quantised_graph(graph, crossbars.layers),
        crossbars=crossbars,
        config=config,
        report=utilisation_report(crossbars, errors),
    )
