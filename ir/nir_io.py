"""NIR in and out: the one module that imports ``nir``.

NIR carries no reset mode and no reset delay; spikec writes them into node
metadata (``spikec.reset``, ``spikec.reset_delay``) and reads them back, so a
graph survives a round trip through a ``.nir`` file. A bare ``.nir`` file from
another tool gets the reset mode the caller states (default: NIR's own meaning,
reset to ``v_reset``). Nested NIR subgraphs are flattened: an inner node ``b``
of subgraph ``a`` becomes ``a.b``.
"""
from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import nir
import numpy as np

from .errors import GraphError
from .graph import Graph
from .shapes import infer_shapes
from .nodes import (
    IF, LI, LIF, AvgPool2d, Conv1d, Conv2d, CubaLIF, Delay, DelayLinear, Flatten, Input, Integrator, Linear,
    Affine, Node, Output, ResetMode, Scale, SumPool2d, Threshold,
)

RESET_KEY = "spikec.reset"
RESET_DELAY_KEY = "spikec.reset_delay"
RESET_RECHECK_KEY = "spikec.reset_recheck"
#: Marks the Delay -> Linear branches written for one DelayLinear node (value: its name).
DELAY_LINEAR_KEY = "spikec.delay_linear"
_SPIKING = (nir.LIF, nir.CubaLIF, nir.IF)


def _plain(value: Any) -> Any:
    """numpy scalars and bytes from HDF5 metadata as plain Python values."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _shape(types: dict, key: str) -> tuple[int, ...]:
    value = types.get(key)
    return () if value is None else tuple(int(v) for v in np.atleast_1d(value))


def _conv_padding(padding: Any) -> Any:
    if isinstance(padding, (str, bytes)):
        return _plain(padding)
    return padding


def _node_from_nir(name: str, n: Any, reset: ResetMode) -> Node:
    meta = {k: _plain(v) for k, v in (getattr(n, "metadata", None) or {}).items()}
    neuron_kw: dict[str, Any] = {}
    if isinstance(n, _SPIKING):
        neuron_kw = {
            "reset": meta.pop(RESET_KEY, reset),
            "reset_delay": bool(meta.pop(RESET_DELAY_KEY, False)),
            "reset_recheck": bool(meta.pop(RESET_RECHECK_KEY, False)),
        }
    kw = {"metadata": meta}
    if isinstance(n, nir.Input):
        return Input(shape=_shape(n.input_type, "input"), **kw)
    if isinstance(n, nir.Output):
        return Output(shape=_shape(n.output_type, "output"), **kw)
    if isinstance(n, nir.Affine):
        return Affine(weight=n.weight, bias=n.bias, **kw)
    if isinstance(n, nir.Linear):
        return Linear(weight=n.weight, **kw)
    if isinstance(n, nir.Scale):
        return Scale(scale=n.scale, **kw)
    if isinstance(n, nir.CubaLIF):
        return CubaLIF(
            tau_syn=n.tau_syn, tau_mem=n.tau_mem, r=n.r, v_leak=n.v_leak, v_threshold=n.v_threshold,
            v_reset=n.v_reset, w_in=n.w_in, **neuron_kw, **kw,
        )
    if isinstance(n, nir.LIF):
        return LIF(tau=n.tau, r=n.r, v_leak=n.v_leak, v_threshold=n.v_threshold, v_reset=n.v_reset, **neuron_kw, **kw)
    if isinstance(n, nir.IF):
        return IF(r=n.r, v_threshold=n.v_threshold, v_reset=n.v_reset, **neuron_kw, **kw)
    if isinstance(n, nir.LI):
        return LI(tau=n.tau, r=n.r, v_leak=n.v_leak, **kw)
    if isinstance(n, nir.I):
        return Integrator(r=n.r, **kw)
    if isinstance(n, nir.Threshold):
        return Threshold(threshold=n.threshold, **kw)
    if isinstance(n, nir.Delay):
        return Delay(delay=n.delay, **kw)
    if isinstance(n, nir.Flatten):
        in_shape = _shape(n.input_type, "input") or None
        return Flatten(input_shape=in_shape, start_dim=int(n.start_dim), end_dim=int(n.end_dim), **kw)
    if isinstance(n, (nir.Conv1d, nir.Conv2d)):
        cls = Conv1d if isinstance(n, nir.Conv1d) else Conv2d
        input_shape = None if n.input_shape is None else np.atleast_1d(n.input_shape)
        return cls(
            input_shape=input_shape, weight=n.weight, stride=np.atleast_1d(n.stride),
            padding=_conv_padding(n.padding) if isinstance(n.padding, (str, bytes)) else np.atleast_1d(n.padding),
            dilation=np.atleast_1d(n.dilation), groups=int(n.groups), bias=n.bias, **kw,
        )
    if isinstance(n, (nir.SumPool2d, nir.AvgPool2d)):
        cls = SumPool2d if isinstance(n, nir.SumPool2d) else AvgPool2d
        return cls(kernel_size=np.atleast_1d(n.kernel_size), stride=np.atleast_1d(n.stride), padding=np.atleast_1d(n.padding), **kw)
    raise GraphError(f"unknown or unsupported NIR primitive {type(n).__name__}", node=name)


def _flatten_nir(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested NIRGraphs; edges to a subgraph go to its Input nodes' successors."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}  # subgraph name (and name.input) -> inner entry nodes
    exit_: dict[str, list[str]] = {}
    for name, n in graph.nodes.items():
        full = prefix + name
        if isinstance(n, nir.NIRGraph):
            inner_nodes, inner_edges = _flatten_nir(n, full + ".")
            ins = [k for k, v in n.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in n.nodes.items() if isinstance(v, nir.Output)]
            for k in ins:
                targets = [b for a, b in inner_edges if a == f"{full}.{k}"]
                entry.setdefault(full, []).extend(targets)
                entry[f"{full}.{k}"] = targets
            for k in outs:
                sources = [a for a, b in inner_edges if b == f"{full}.{k}"]
                exit_.setdefault(full, []).extend(sources)
                exit_[f"{full}.{k}"] = sources
            boundary = {f"{full}.{k}" for k in ins + outs}
            nodes.update({k: v for k, v in inner_nodes.items() if k not in boundary})
            edges.extend((a, b) for a, b in inner_edges if a not in boundary and b not in boundary)
        else:
            nodes[full] = n
    for a, b in graph.edges:
        for src in exit_.get(prefix + a, [prefix + a]):
            for dst in entry.get(prefix + b, [prefix + b]):
                edges.append((src, dst))
    return nodes, edges


def _fuse_delay_linear_branches(nodes: dict[str, Node], edges: list[tuple[str, str]]) -> tuple[dict[str, Node], list[tuple[str, str]]]:
    """Turn the branches spikec wrote for a DelayLinear back into that one node."""
    groups: dict[str, list[str]] = {}
    for name, node in nodes.items():
        owner = node.metadata.get(DELAY_LINEAR_KEY)
        if owner is not None:
            groups.setdefault(str(owner), []).append(name)
    for owner, members in groups.items():
        delays = sorted(m for m in members if isinstance(nodes[m], Delay))
        weight = delay = None
        sources: list[str] = []
        targets: list[str] = []
        for d_name in delays:
            (lin_name,) = [b for a, b in edges if a == d_name]
            lin = nodes[lin_name]
            mask = lin.weight != 0
            weight = np.zeros(lin.weight.shape) if weight is None else weight
            delay = np.zeros(lin.weight.shape) if delay is None else delay
            weight = np.where(mask, lin.weight, weight)
            delay = np.where(mask, np.broadcast_to(nodes[d_name].delay[None, :], lin.weight.shape), delay)
            sources += [a for a, b in edges if b == d_name and a not in sources]
            targets += [b for a, b in edges if a == lin_name and b not in targets]
        meta = {k: v for k, v in nodes[delays[0]].metadata.items() if k != DELAY_LINEAR_KEY}
        for m in members:
            del nodes[m]
        nodes[owner] = DelayLinear(weight=weight, delay=delay, metadata=meta)
        edges = [(a, b) for a, b in edges if a not in members and b not in members]
        edges += [(src, owner) for src in sources] + [(owner, dst) for dst in targets]
    return nodes, edges


def from_nir(graph: Any, *, reset: ResetMode = "zero") -> Graph:
    """A spikec Graph from a ``nir.NIRGraph`` (deep-copied; the argument is not touched)."""
    if not isinstance(graph, nir.NIRGraph):
        raise GraphError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    graph = copy.deepcopy(graph)
    nir_nodes, edges = _flatten_nir(graph)
    nodes = {name: _node_from_nir(name, n, reset) for name, n in nir_nodes.items()}
    nodes, edges = _fuse_delay_linear_branches(nodes, edges)
    metadata = {k: _plain(v) for k, v in (getattr(graph, "metadata", None) or {}).items()}
    return Graph(nodes, tuple(edges), metadata)


def read_nir(path: str | os.PathLike, *, reset: ResetMode = "zero") -> Graph:
    """Read a ``.nir`` file. Type checks are ours (``validate``), not NIR's asserts."""
    path = Path(path)
    if not path.exists():
        raise GraphError(f"no such file: {path}")
    try:
        graph = nir.read(str(path), type_check=False)
    except Exception as exc:  # h5py and nir raise many types on a bad file
        raise GraphError(f"cannot read {path} as NIR: {type(exc).__name__}: {exc}") from exc
    return from_nir(graph, reset=reset)


def _node_to_nir(node: Node) -> Any:
    meta = dict(node.metadata)
    if isinstance(node, (LIF, CubaLIF, IF)):
        meta[RESET_KEY] = node.reset
        meta[RESET_DELAY_KEY] = bool(node.reset_delay)
        if node.reset_recheck:
            meta[RESET_RECHECK_KEY] = True
    kw = {"metadata": meta}
    a = np.asarray
    if isinstance(node, Input):
        return nir.Input(input_type={"input": a(node.shape)}, **kw)
    if isinstance(node, Output):
        return nir.Output(output_type={"output": a(node.shape)}, **kw)
    if isinstance(node, Affine):
        return nir.Affine(weight=a(node.weight), bias=a(node.bias), **kw)
    if isinstance(node, Linear):
        return nir.Linear(weight=a(node.weight), **kw)
    if isinstance(node, Scale):
        return nir.Scale(scale=a(node.scale), **kw)
    if isinstance(node, CubaLIF):
        return nir.CubaLIF(
            tau_syn=a(node.tau_syn), tau_mem=a(node.tau_mem), r=a(node.r), v_leak=a(node.v_leak),
            v_threshold=a(node.v_threshold), v_reset=a(node.v_reset), w_in=a(node.w_in), **kw,
        )
    if isinstance(node, LIF):
        return nir.LIF(tau=a(node.tau), r=a(node.r), v_leak=a(node.v_leak), v_threshold=a(node.v_threshold), v_reset=a(node.v_reset), **kw)
    if isinstance(node, IF):
        return nir.IF(r=a(node.r), v_threshold=a(node.v_threshold), v_reset=a(node.v_reset), **kw)
    if isinstance(node, LI):
        return nir.LI(tau=a(node.tau), r=a(node.r), v_leak=a(node.v_leak), **kw)
    if isinstance(node, Integrator):
        return nir.I(r=a(node.r), **kw)
    if isinstance(node, Threshold):
        return nir.Threshold(threshold=a(node.threshold), **kw)
    if isinstance(node, Delay):
        return nir.Delay(delay=a(node.delay), **kw)
    if isinstance(node, Flatten):
        in_type = {"input": None if node.input_shape is None else a(node.input_shape)}
        return nir.Flatten(input_type=in_type, start_dim=node.start_dim, end_dim=node.end_dim, **kw)
    if isinstance(node, (Conv1d, Conv2d)):
        cls = nir.Conv1d if isinstance(node, Conv1d) else nir.Conv2d
        input_shape = None if node.input_shape is None else a(node.input_shape)
        padding = node.padding if isinstance(node.padding, str) else a(node.padding)
        return cls(
            input_shape=input_shape, weight=a(node.weight), stride=a(node.stride), padding=padding,
            dilation=a(node.dilation), groups=node.groups, bias=a(node.bias), **kw,
        )
    if isinstance(node, (SumPool2d, AvgPool2d)):
        cls = nir.SumPool2d if isinstance(node, SumPool2d) else nir.AvgPool2d
        return cls(kernel_size=a(node.kernel_size), stride=a(node.stride), padding=a(node.padding), **kw)
    raise GraphError(f"node type {type(node).__name__} has no NIR form")


def _delay_linear_branches(name: str, node: DelayLinear) -> dict[str, Any]:
    """One ``Delay -> Linear`` pair per distinct delay (NIR's form of per-synapse delays)."""
    meta = {**node.metadata, DELAY_LINEAR_KEY: name}
    values = np.unique(node.delay[node.weight != 0]) if np.any(node.weight) else np.zeros(1)
    branches: dict[str, Any] = {}
    for k, value in enumerate(values):
        weight = np.where((node.delay == value) & (node.weight != 0), node.weight, 0.0)
        branches[f"{name}.delay{k}"] = nir.Delay(delay=np.full(node.weight.shape[1], value), metadata=dict(meta))
        branches[f"{name}.weight{k}"] = nir.Linear(weight=weight, metadata=dict(meta))
    return branches


def to_nir(graph: Graph) -> Any:
    """A ``nir.NIRGraph`` equal to ``graph`` (reset mode kept in metadata).

    A DelayLinear becomes parallel ``Delay -> Linear`` branches, one per
    distinct delay, marked so that ``from_nir`` fuses them back.
    """
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entries: dict[str, list[str]] = {}  # NIR nodes that receive a spikec node's input
    exits: dict[str, list[str]] = {}  # NIR nodes that produce its output
    for name, node in graph.items():
        if not isinstance(node, DelayLinear):
            nodes[name] = _node_to_nir(node)
            entries[name] = exits[name] = [name]
            continue
        branches = _delay_linear_branches(name, node)
        nodes.update(branches)
        entries[name] = [b for b in branches if isinstance(branches[b], nir.Delay)]
        exits[name] = [b for b in branches if isinstance(branches[b], nir.Linear)]
        edges += list(zip(entries[name], exits[name]))
    edges += [(src, dst) for a, b in graph.edges for src in exits[a] for dst in entries[b]]
    try:
        shapes = infer_shapes(graph)
    except GraphError:
        shapes = {}
    for name, (in_shape, out_shape) in shapes.items():
        n = nodes.get(name)
        if n is None:  # a DelayLinear, written as branches
            continue
        if n.input_type.get("input") is None:
            n.input_type = {"input": np.asarray(in_shape)}
        if n.output_type.get("output") is None:
            n.output_type = {"output": np.asarray(out_shape)}
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False, metadata=dict(graph.metadata))


def write_nir(graph: Graph, path: str | os.PathLike) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", suffix=".nir.tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        nir.write(tmp, to_nir(graph))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
