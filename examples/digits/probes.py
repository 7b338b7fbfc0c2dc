"""Seeing inside the network on every target: an Output after each neuron layer.

Backends return only graph outputs. To draw per-layer rasters and count each
layer's spikes and synaptic operations the same way on every target, the
graph gets one extra Output per neuron layer (``probe_<layer>``) before it is
compiled. A probe computes nothing: on Loihi it is a spike/voltage monitor,
on SpiNNaker a recorded population, on RRAM a digital tap; the network's own
output is unchanged.
"""
from __future__ import annotations

import spikec
from spikec.ir.graph import Graph
from spikec.ir.nodes import NEURON_TYPES, Output

PREFIX = "probe_"


def neuron_layers(graph: Graph) -> list[str]:
    """Neuron layers in execution order (input side first)."""
    order, _ = graph.execution_order()
    return [n for n in order if isinstance(graph.nodes[n], NEURON_TYPES)]


def with_layer_probes(graph: Graph) -> Graph:
    """``graph`` plus ``probe_<layer>`` Outputs on every neuron layer (normalised)."""
    layers = neuron_layers(graph)
    nodes = dict(graph.nodes) | {PREFIX + n: Output() for n in layers}
    edges = tuple(graph.edges) + tuple((n, PREFIX + n) for n in layers)
    return spikec.normalise(Graph(nodes, edges, graph.metadata))


def layer_of(output: str) -> str | None:
    return output[len(PREFIX):] if output.startswith(PREFIX) else None


def layer_activity(outputs: dict, inputs: dict) -> dict:
    """Source population -> what it emitted: the inputs plus every probed layer."""
    activity = dict(inputs)
    activity.update({layer_of(k): v for k, v in outputs.items() if layer_of(k) is not None})
    return activity
