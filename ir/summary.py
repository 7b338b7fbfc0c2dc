"""What is in a graph, as plain data: the content of ``spikec inspect``."""
from __future__ import annotations

from typing import Any

import numpy as np

from .graph import Graph
from .nodes import NEURON_TYPES, SYNAPSE_TYPES, Conv1d, Conv2d
from .shapes import infer_shapes
from .weights import count_nonzero, is_sparse


def synapse_count(node: Any, out_shape: tuple[int, ...]) -> int:
    """Non-zero synapses: matrix entries, or kernel taps times output positions for a conv."""
    if isinstance(node, (Conv1d, Conv2d)):
        positions = int(np.prod(out_shape[1:]))
        return int(np.count_nonzero(node.weight)) * positions
    return count_nonzero(node.weight)


def _param_range(value: np.ndarray) -> dict[str, float] | float:
    if is_sparse(value):  # the stored entries and, unless every entry is stored, zero
        full = value.nnz == value.shape[0] * value.shape[1]
        value = value.data if full else np.append(value.data, 0.0)
    if value.size == 0:
        return {}
    lo, hi = float(value.min()), float(value.max())
    return lo if lo == hi else {"min": lo, "max": hi}


def summarise(graph: Graph) -> dict[str, Any]:
    """Nodes (type, shapes, parameter ranges), edges and totals, JSON-serialisable."""
    shapes = infer_shapes(graph)
    order, back = graph.execution_order()
    nodes = []
    neurons = synapses = 0
    for name in order:
        node = graph.nodes[name]
        in_shape, out_shape = shapes[name]
        entry: dict[str, Any] = {
            "name": name,
            "type": node.kind,
            "input_shape": list(in_shape),
            "output_shape": list(out_shape),
        }
        params: dict[str, Any] = {}
        for field_name in node.array_fields:
            value = getattr(node, field_name)
            if value is not None:
                params[field_name] = _param_range(value)
        for key in ("reset", "reset_delay"):
            if hasattr(node, key):
                params[key] = getattr(node, key)
        if params:
            entry["params"] = params
        if isinstance(node, NEURON_TYPES):
            count = int(np.prod(out_shape))
            entry["neurons"] = count
            neurons += count
        if isinstance(node, SYNAPSE_TYPES):
            count = synapse_count(node, out_shape)
            entry["synapses"] = count
            synapses += count
        nodes.append(entry)
    return {
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
        "nodes": nodes,
        "edges": [{"source": a, "target": b, "recurrent": (a, b) in back} for a, b in graph.edges],
        "neurons": neurons,
        "synapses": synapses,
        "metadata": {k: v for k, v in graph.metadata.items() if isinstance(v, (str, int, float, bool))},
    }
