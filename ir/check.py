"""Validation and normalisation: the graph every pass and executor may assume.

``validate`` raises one ``GraphError`` naming the node, the parameter and what
is wrong. ``normalise`` returns a graph whose scalar neuron parameters are
broadcast to the layer width and whose shape fields (Conv input_shape, Flatten
input_shape, Input/Output shape) are filled in.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from .errors import GraphError
from .graph import Graph, check_edges
from .nodes import (
    RESET_MODES, Affine, Conv1d, Conv2d, CubaLIF, Flatten, Input, LI, LIF, Node, Output, NEURON_TYPES,
    Delay, DelayLinear, Scale, Threshold,
)
from .shapes import infer_shapes
from .weights import is_sparse

TIME_CONSTANTS = ("tau", "tau_mem", "tau_syn")


def check_parameters(name: str, node: Node) -> None:
    for field_name in node.array_fields:
        value = getattr(node, field_name)
        if value is None:
            continue
        if is_sparse(value):  # the implicit zeros are finite; the stored entries are checked
            value = value.data
        bad = ~np.isfinite(value)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise GraphError(
                f"parameter {field_name} is not finite ({value[idx]!r} at index {idx})",
                node=name, parameter=field_name, value=float(value[idx]),
            )
        if field_name in TIME_CONSTANTS and (value <= 0).any():
            raise GraphError(
                f"time constant {field_name} must be positive, got {float(value.min())!r} s",
                node=name, parameter=field_name, value=float(value.min()), limit="> 0",
            )
        if field_name == "delay" and (value < 0).any():
            raise GraphError(
                f"delay must be non-negative, got {float(value.min())!r} s",
                node=name, parameter="delay", value=float(value.min()), limit=">= 0",
            )
    if isinstance(node, DelayLinear) and node.delay.shape != node.weight.shape:
        raise GraphError(
            f"delay matrix of shape {node.delay.shape} does not match the weight matrix {node.weight.shape}",
            node=name, parameter="delay", value=node.delay.shape, limit=node.weight.shape,
        )
    reset = getattr(node, "reset", None)
    if reset is not None and (not isinstance(reset, str) or reset not in RESET_MODES):
        raise GraphError(f"reset must be one of {RESET_MODES}, got {reset!r}", node=name, parameter="reset", value=reset)
    if getattr(node, "reset_recheck", False) and (reset != "subtract" or node.reset_delay):
        raise GraphError(
            "reset_recheck applies only to an immediate subtractive reset (reset='subtract', reset_delay=False)",
            node=name, parameter="reset_recheck", value=True,
        )


def check_cycles_have_state(graph: Graph) -> None:
    """Every cycle must pass through a stateful node, else a step has no fixed point."""
    # a cycle avoids every stateful node iff it survives their removal (a strongly connected
    # component with a stateful member may still hold a stateless cycle, e.g. a self-loop)
    stateless = [n for n, node in graph.nodes.items() if not node.stateful]
    g = nx.DiGraph()
    g.add_nodes_from(stateless)
    g.add_edges_from((a, b) for a, b in graph.edges if a in g and b in g)
    for component in nx.strongly_connected_components(g):
        members = sorted(component)
        if len(members) > 1 or g.has_edge(members[0], members[0]):
            raise GraphError(
                f"cycle {' -> '.join(members)} has no stateful node (neuron or delay) to break it",
                node=members[0],
            )


def check_metadata(graph: Graph) -> None:
    """Graph metadata spikec interprets: ``dt_s``, if present, is a positive finite number of seconds."""
    dt = graph.metadata.get("dt_s")
    if dt is None:
        return
    ok = isinstance(dt, (int, float, np.integer, np.floating)) and not isinstance(dt, (bool, np.bool_))
    if not ok or not np.isfinite(dt) or dt <= 0:
        raise GraphError(f"graph metadata dt_s must be a positive finite number of seconds, got {dt!r}",
                         parameter="dt_s", value=repr(dt), limit="> 0")


def validate(graph: Graph) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Check the graph; returns the inferred shapes of every node."""
    check_metadata(graph)
    check_edges(graph)
    for name, node in graph.items():
        check_parameters(name, node)
    check_cycles_have_state(graph)
    return infer_shapes(graph)


def _broadcast_params(name: str, node: Node, shape: tuple[int, ...]) -> Node:
    changes = {}
    for field_name in node.array_fields:
        value = getattr(node, field_name)
        if value is None or value.shape == shape:
            continue
        try:
            changes[field_name] = np.broadcast_to(value, shape)
        except ValueError as exc:
            raise GraphError(
                f"parameter {field_name} of shape {value.shape} does not fit the layer shape {shape}",
                node=name, parameter=field_name,
            ) from exc
    return node.replace(**changes) if changes else node


def _canonical_bias(bias: np.ndarray, n: int) -> np.ndarray:
    """Leading singleton dims of a bias dropped (``[[0, 0, 0]]`` -> ``[0, 0, 0]``); 0-d and 1-d biases kept."""
    return bias if bias.ndim <= 1 else np.broadcast_to(bias.reshape(-1), (n,))


def normalise(graph: Graph) -> Graph:
    """Validate, then broadcast parameters and fill shape fields. Idempotent."""
    shapes = validate(graph)
    new_nodes: dict[str, Node] = {}
    for name, node in graph.items():
        in_shape, out_shape = shapes[name]
        if isinstance(node, NEURON_TYPES + (Scale, Threshold, Delay)):
            node = _broadcast_params(name, node, in_shape)
        elif isinstance(node, (Conv1d, Conv2d)):
            node = node.replace(input_shape=in_shape[1:], bias=_canonical_bias(node.bias, node.weight.shape[0]))
        elif isinstance(node, Affine):
            bias = _canonical_bias(node.bias, node.weight.shape[0])
            node = node if bias is node.bias else node.replace(bias=bias)  # not re-checking an unchanged weight
        elif isinstance(node, Flatten):
            node = node.replace(input_shape=in_shape)
        elif isinstance(node, Input):
            node = node.replace(shape=in_shape)
        elif isinstance(node, Output):
            node = node.replace(shape=in_shape)
        new_nodes[name] = node
    return Graph(new_nodes, graph.edges, graph.metadata)
