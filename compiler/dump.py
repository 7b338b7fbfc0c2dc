"""A readable text dump of a graph (float or lowered): what ``--dump-after PASS`` prints."""
from __future__ import annotations

from dataclasses import fields

import numpy as np

from ..ir.graph import Graph


def _value(value: object) -> str:
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return f"{value.dtype}{list(value.shape)}"
        lo, hi = value.min(), value.max()
        span = f"{lo}" if lo == hi else f"{lo}..{hi}"
        return f"{value.dtype}{list(value.shape)} [{span}]"
    return repr(value)


def describe_graph(graph: Graph) -> str:
    """One line per node in execution order (kind, every field), then the edges."""
    order, back = graph.execution_order()
    lines = [f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges, metadata {dict(graph.metadata)}"]
    for name in order:
        node = graph.nodes[name]
        params = ", ".join(f"{f.name}={_value(getattr(node, f.name))}" for f in fields(node) if f.name != "metadata")
        lines.append(f"  {name}: {node.kind}({params})")
    for a, b in graph.edges:
        lines.append(f"  {a} -> {b}" + ("  (back edge: previous step)" if (a, b) in back else ""))
    return "\n".join(lines)
