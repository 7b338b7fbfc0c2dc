"""NIR in and out: the one module that imports ``nir``.

NIR carries no reset mode and no reset delay; spikec writes them into node
metadata (``spikec.reset``, ``spikec.reset_delay``) and reads them back, so a
graph survives a round trip through a ``.nir`` file. A bare ``.nir`` file from
another tool gets the reset mode the caller states (default: NIR's own meaning,
reset to ``v_reset``). Nested NIR subgraphs are flattened: an inner node ``b``
of subgraph ``a`` becomes ``a.b``.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import nir
import numpy as np

from .errors import GraphError
from .graph import Graph
from .shapes import ShapeMismatch, infer_shapes
from .weights import canonical_csr, is_sparse, prefer_sparse, to_dense
from .nodes import (
    IF, LI, LIF, MAX_ARRAY_ELEMENTS, MAX_DIMS, allow_array_elements, as_shape, AvgPool2d, Conv1d, Conv2d, CubaLIF, Delay, DelayLinear, Flatten, Input,
    Integrator, Linear, Affine, MaxPool2d, Node, Output, ResetMode, Scale, SumPool2d, Threshold,
)

RESET_KEY = "spikec.reset"
RESET_DELAY_KEY = "spikec.reset_delay"
RESET_RECHECK_KEY = "spikec.reset_recheck"
#: a recurrent bias the snnTorch frontend moved onto the forward synapse (float32 mode adds it back in place)
FOLDED_BIAS_KEY, RECURRENT_BIAS_KEY = "spikec.folded_bias", "spikec.recurrent_bias"
#: Marks the Delay -> Linear branches written for one DelayLinear node (value: its name).
DELAY_LINEAR_KEY = "spikec.delay_linear"
_SPIKING = (nir.LIF, nir.CubaLIF, nir.IF)

#: Deepest nesting of HDF5 groups in a .nir file (each subgraph level takes two: the node and its ``nodes``).
MAX_HDF5_DEPTH = 64
#: Most groups and datasets a .nir file may hold (a hard-linked group counts each time it is reached).
MAX_HDF5_OBJECTS = 200_000
#: Most bytes of one dataset by default: MAX_ARRAY_ELEMENTS float64 values (an explicit max_file_bytes raises it).
MAX_DATASET_BYTES = 8 * MAX_ARRAY_ELEMENTS
#: The default limit on the bytes all datasets of a file may declare together (compressed data can declare far
#: more than the file holds) is a quarter of the memory available, clamped to these bounds
#: (``default_max_file_bytes``; ``max_file_bytes=`` / ``--max-file-bytes`` sets it).
MIN_DEFAULT_FILE_BYTES, MAX_DEFAULT_FILE_BYTES = 256 << 20, 8 << 30
#: Kept for callers of the old fixed limit: the lower bound of the default.
MAX_FILE_DATA_BYTES = MIN_DEFAULT_FILE_BYTES
#: Address space libhdf5 may add while reading one file, beyond twice the bytes its datasets declare. It sizes
#: some buffers from the file itself (a damaged heap reference in a 15 kB file made it allocate 4 GB), so the read
#: runs under this budget: the walk under it alone, the data read under it plus twice the declared bytes.
HDF5_READ_BUDGET_BYTES = 4 * MIN_DEFAULT_FILE_BYTES
#: Deepest nesting of subgraphs in a nir.NIRGraph.
MAX_SUBGRAPH_DEPTH = 30

_NUMERIC = ("weight", "bias", "scale", "tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in",
            "threshold", "delay")
#: The keys of every node type spikec reads: (required, optional); "type" and "metadata" are always allowed.
_SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Input": (("shape",), ()),
    "Output": (("shape",), ()),
    "Affine": (("weight", "bias"), ()),
    "Linear": (("weight",), ()),
    "Scale": (("scale",), ()),
    "Conv1d": (("weight", "stride", "padding", "dilation", "groups", "bias"), ("input_shape",)),
    "Conv2d": (("weight", "stride", "padding", "dilation", "groups", "bias"), ("input_shape",)),
    "SumPool2d": (("kernel_size", "stride", "padding"), ()),
    "AvgPool2d": (("kernel_size", "stride", "padding"), ()),
    "Flatten": (("start_dim", "end_dim"), ("input_type",)),
    "Threshold": (("threshold",), ()),
    "Delay": (("delay",), ()),
    "LI": (("tau", "r", "v_leak"), ()),
    "I": (("r",), ()),
    "IF": (("r", "v_threshold"), ("v_reset",)),
    "LIF": (("tau", "r", "v_leak", "v_threshold"), ("v_reset",)),
    "CubaLIF": (("tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "w_in"), ("v_reset",)),
    "NIRGraph": (("nodes", "edges"), ()),
}


@dataclass(eq=False)
class SpikecMaxPool2d(nir.NIRNode):
    """Max pooling in an in-memory NIRGraph (what the torch frontends build; NIR 1.0.8 has no such primitive).

    ``from_nir`` reads it as spikec's MaxPool2d; ``write_nir`` refuses it (no
    other tool could read it), see ``_node_to_nir``.
    """

    kernel_size: np.ndarray
    stride: np.ndarray
    padding: np.ndarray

    def __post_init__(self) -> None:
        self.input_type = {"input": None}
        self.output_type = {"output": None}


def _plain(value: Any, key: str = "metadata", node: str | None = None) -> Any:
    """numpy scalars and bytes from HDF5 metadata as plain Python values."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError as exc:
            raise GraphError(f"metadata {key!r} is not UTF-8 text", node=node, parameter=key) from exc
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{key}.{k}", node) for k, v in value.items()}
    return value


def _shape(types: Any, key: str, node: str) -> tuple[int, ...]:
    value = types.get(key) if isinstance(types, Mapping) else types
    if value is None:
        return ()
    try:
        return as_shape(value, key)
    except GraphError as exc:
        raise GraphError(str(exc), node=node, parameter=key, value=exc.value, limit=exc.limit) from exc


def _conv_padding(padding: Any, node: str = "") -> Any:
    if isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO" and padding.size == 1:
        padding = padding.reshape(()).item()
    if isinstance(padding, (str, bytes)):
        padding = _plain(padding, "padding", node)
        if padding not in ("same", "valid"):
            raise GraphError(f"padding must be 'same', 'valid' or integers, got {padding!r}", node=node,
                             parameter="padding", value=padding, limit=("same", "valid"))
    return padding


def _node_from_nir(name: str, n: Any, reset: ResetMode) -> Node:
    """One spikec node; any field spikec cannot use raises GraphError naming node and parameter."""
    try:
        return _convert_node(name, n, reset)
    except GraphError as exc:
        if exc.node is not None:
            raise
        raise GraphError(str(exc), node=name, parameter=exc.parameter, value=exc.value, limit=exc.limit) from exc
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        raise GraphError(f"malformed {type(n).__name__} node: {type(exc).__name__}: {exc}", node=name) from exc


def _metadata(name: str, n: Any) -> dict[str, Any]:
    raw = getattr(n, "metadata", None) or {}
    if not isinstance(raw, Mapping):
        raise GraphError(f"metadata must be a mapping, got {type(raw).__name__}", node=name, parameter="metadata")
    meta = {str(k): _plain(v, str(k), name) for k, v in raw.items()}
    if isinstance(n, _SPIKING) and RESET_KEY in meta and (not isinstance(meta[RESET_KEY], str) or meta[RESET_KEY] not in ("zero", "subtract")):
        raise GraphError(f"metadata {RESET_KEY} must be 'zero' or 'subtract', got {meta[RESET_KEY]!r}",
                         node=name, parameter=RESET_KEY, value=repr(meta[RESET_KEY]), limit=("zero", "subtract"))
    return meta


def _convert_node(name: str, n: Any, reset: ResetMode) -> Node:
    meta = _metadata(name, n)
    neuron_kw: dict[str, Any] = {}
    if isinstance(n, _SPIKING):
        neuron_kw = {
            "reset": meta.pop(RESET_KEY, reset),
            "reset_delay": meta.pop(RESET_DELAY_KEY, False),
            "reset_recheck": meta.pop(RESET_RECHECK_KEY, False),
        }
    kw = {"metadata": meta}
    if isinstance(n, nir.Input):
        return Input(shape=_shape(n.input_type, "input", name), **kw)
    if isinstance(n, nir.Output):
        return Output(shape=_shape(n.output_type, "output", name), **kw)
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
        in_shape = _shape(n.input_type, "input", name) or None
        return Flatten(input_shape=in_shape, start_dim=n.start_dim, end_dim=n.end_dim, **kw)
    if isinstance(n, (nir.Conv1d, nir.Conv2d)):
        cls = Conv1d if isinstance(n, nir.Conv1d) else Conv2d
        input_shape = None if n.input_shape is None else _shape(n.input_shape, "input_shape", name)
        padding = _conv_padding(n.padding, name)
        return cls(
            input_shape=input_shape, weight=n.weight, stride=n.stride, padding=padding,
            dilation=n.dilation, groups=n.groups, bias=n.bias, **kw,
        )
    if isinstance(n, (nir.SumPool2d, nir.AvgPool2d)):
        cls = SumPool2d if isinstance(n, nir.SumPool2d) else AvgPool2d
        return cls(kernel_size=np.atleast_1d(n.kernel_size), stride=np.atleast_1d(n.stride), padding=np.atleast_1d(n.padding), **kw)
    if isinstance(n, SpikecMaxPool2d):
        return MaxPool2d(kernel_size=np.atleast_1d(n.kernel_size), stride=np.atleast_1d(n.stride), padding=np.atleast_1d(n.padding), **kw)
    raise GraphError(f"unknown or unsupported NIR primitive {type(n).__name__}", node=name)


def _graph_parts(graph: Any, where: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A NIRGraph's nodes and edges, checked to be a mapping and (source, target) string pairs."""
    nodes = getattr(graph, "nodes", None)
    if not isinstance(nodes, Mapping):
        raise GraphError(f"graph nodes must be a mapping, got {type(nodes).__name__}", node=where or None, parameter="nodes")
    edges = []
    for edge in getattr(graph, "edges", None) or ():
        if isinstance(edge, (str, bytes)) or len(edge) != 2 or not all(isinstance(e, str) for e in edge):
            raise GraphError(f"an edge must be a (source, target) pair of node names, got {edge!r}",
                             node=where or None, parameter="edges")
        edges.append((edge[0], edge[1]))
    for name in nodes:
        if not isinstance(name, str) or not name:
            raise GraphError(f"node names must be non-empty strings, got {name!r}", node=where or None, parameter="nodes")
    return dict(nodes), edges


def _flatten_nir(graph: Any, prefix: str = "", depth: int = 0) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested NIRGraphs; edges to a subgraph go to its Input nodes' successors."""
    if depth > MAX_SUBGRAPH_DEPTH:
        raise GraphError(f"subgraphs nested more than {MAX_SUBGRAPH_DEPTH} deep (recursive graph?)",
                         node=prefix.rstrip(".") or None, limit=MAX_SUBGRAPH_DEPTH)
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}  # subgraph name (and name.input) -> inner entry nodes
    exit_: dict[str, list[str]] = {}
    graph_nodes, graph_edges = _graph_parts(graph, prefix.rstrip("."))
    for name, n in graph_nodes.items():
        full = prefix + name
        if isinstance(n, nir.NIRGraph):
            inner_nodes, inner_edges = _flatten_nir(n, full + ".", depth + 1)
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
            for k, v in inner_nodes.items():
                if k not in boundary:
                    _add_node(nodes, k, v)
            edges.extend((a, b) for a, b in inner_edges if a not in boundary and b not in boundary)
        else:
            _add_node(nodes, full, n)
    for a, b in graph_edges:
        for src in exit_.get(prefix + a, [prefix + a]):
            for dst in entry.get(prefix + b, [prefix + b]):
                edges.append((src, dst))
    return nodes, edges


def _add_node(nodes: dict[str, Any], name: str, node: Any) -> None:
    if name in nodes:
        raise GraphError("two nodes get this name once subgraphs are flattened", node=name)
    nodes[name] = node


def _fuse_delay_linear_branches(nodes: dict[str, Node], edges: list[tuple[str, str]]) -> tuple[dict[str, Node], list[tuple[str, str]]]:
    """Turn the branches spikec wrote for a DelayLinear back into that one node."""
    groups: dict[str, list[str]] = {}
    for name, node in nodes.items():
        owner = node.metadata.get(DELAY_LINEAR_KEY)
        if owner is not None:
            groups.setdefault(str(owner), []).append(name)
    for owner, members in groups.items():
        delays = sorted(m for m in members if isinstance(nodes[m], Delay))
        linears = [m for m in members if isinstance(nodes[m], Linear)]
        if not delays or len(delays) != len(linears) or len(members) != 2 * len(delays):
            raise GraphError(f"metadata {DELAY_LINEAR_KEY}={owner!r} marks nodes {sorted(members)} that are not "
                             "Delay -> Linear pairs", node=sorted(members)[0], parameter=DELAY_LINEAR_KEY)
        if owner in nodes and owner not in members:
            raise GraphError(f"metadata {DELAY_LINEAR_KEY} names an existing node", node=owner, parameter=DELAY_LINEAR_KEY)
        weight = delay = None
        sources: list[str] = []
        targets: list[str] = []
        for d_name in delays:
            outs = [b for a, b in edges if a == d_name]
            if len(outs) != 1 or outs[0] not in linears:
                raise GraphError(f"a {DELAY_LINEAR_KEY} Delay must feed exactly one Linear of its group, feeds {outs}",
                                 node=d_name, parameter=DELAY_LINEAR_KEY)
            lin_name = outs[0]
            lin = nodes[lin_name]
            shape = getattr(weight, "shape", lin.weight.shape)
            if lin.weight.ndim != 2 or lin.weight.shape != shape or nodes[d_name].delay.shape not in ((shape[1],), (1,), ()):
                raise GraphError(f"a {DELAY_LINEAR_KEY} branch has weight {lin.weight.shape} and delay "
                                 f"{nodes[d_name].delay.shape}, which do not fit together", node=lin_name,
                                 parameter=DELAY_LINEAR_KEY)
            mask = lin.weight != 0
            weight = np.zeros(lin.weight.shape) if weight is None else weight
            delay = np.zeros(lin.weight.shape) if delay is None else delay
            weight = np.where(mask, lin.weight, weight)
            delay = np.where(mask, np.broadcast_to(np.reshape(nodes[d_name].delay, (1, -1)), lin.weight.shape), delay)
            sources += [a for a, b in edges if b == d_name and a not in sources]
            targets += [b for a, b in edges if a == lin_name and b not in targets]
        meta = {k: v for k, v in nodes[delays[0]].metadata.items() if k != DELAY_LINEAR_KEY}
        for m in members:
            del nodes[m]
        nodes[owner] = DelayLinear(weight=weight, delay=delay, metadata=meta)
        edges = [(a, b) for a, b in edges if a not in members and b not in members]
        edges += [(src, owner) for src in sources] + [(owner, dst) for dst in targets]
    return nodes, edges


def from_nir(graph: Any, *, reset: ResetMode = "zero", implicit_flatten: bool = True) -> Graph:
    """A spikec Graph from a ``nir.NIRGraph`` (deep-copied; the argument is not touched).

    ``implicit_flatten`` makes NIR's implicit flattens explicit (``explicit_flattens``); the torch
    frontends turn it off until they have replaced the traced Input's batch-shaped type.
    """
    if not isinstance(graph, nir.NIRGraph):
        raise GraphError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    try:
        graph = copy.deepcopy(graph)
    except RecursionError as exc:
        raise GraphError(f"graph nested too deep to read (limit {MAX_SUBGRAPH_DEPTH} levels of subgraphs)") from exc
    return _own_nir_to_graph(graph, reset=reset, implicit_flatten=implicit_flatten)


def _own_nir_to_graph(graph: Any, *, reset: ResetMode, implicit_flatten: bool = True) -> Graph:
    """``from_nir`` on a graph nobody else holds (read from a file): no copy, so a large model is in memory once."""
    nir_nodes, edges = _flatten_nir(graph)
    nodes = {name: _node_from_nir(name, n, reset) for name, n in nir_nodes.items()}
    nodes, edges = _fuse_delay_linear_branches(nodes, edges)
    raw_meta = getattr(graph, "metadata", None) or {}
    if not isinstance(raw_meta, Mapping):
        raise GraphError(f"graph metadata must be a mapping, got {type(raw_meta).__name__}", parameter="metadata")
    metadata = {str(k): _plain(v, str(k)) for k, v in raw_meta.items()}
    result = Graph(nodes, tuple(edges), metadata)
    return explicit_flattens(result) if implicit_flatten else result


#: Marks a Flatten that ``explicit_flattens`` inserted (value: the dense node it feeds).
IMPLICIT_FLATTEN_KEY = "spikec.implicit_flatten"
_DENSE = (Affine, Linear, DelayLinear)


def explicit_flattens(graph: Graph) -> Graph:
    """Make the flatten NIR graphs leave implicit explicit: a shaped layer (e.g. LIF (4, 8, 8)) feeding a
    dense synapse of as many inputs (Affine 256 -> n) gets a ``Flatten`` '<dense>.flatten' in front of
    that synapse (C order, as ``nn.Flatten`` and nirtorch's conv-to-linear graphs mean).

    Only a shape mismatch of equal element counts into an Affine/Linear/DelayLinear is rewritten; any
    other error is left for ``validate`` to report.
    """
    for _ in range(len(graph.edges) + 1):
        try:
            infer_shapes(graph)
            return graph
        except ShapeMismatch as exc:
            dense = graph.nodes.get(exc.dst)
            if not isinstance(dense, _DENSE) or len(exc.src_shape) < 2 or math.prod(exc.src_shape) != math.prod(exc.dst_shape):
                return graph
            name = f"{exc.dst}.flatten"
            if name in graph.nodes:
                return graph
            flat = Flatten(input_shape=exc.src_shape, start_dim=0, end_dim=-1, metadata={IMPLICIT_FLATTEN_KEY: exc.dst})
            edges = [(a, name if b == exc.dst else b) for a, b in graph.edges] + [(name, exc.dst)]
            graph = Graph({**graph.nodes, name: flat}, tuple(edges), graph.metadata)
        except Exception:  # a broken graph (dangling edge, no shape, ...): validate() reports it
            return graph
    return graph


def default_max_file_bytes() -> int:
    """A quarter of ``MemAvailable``, at least 256 MiB and at most 8 GiB (the bytes a .nir file's datasets may declare).

    Reading holds the datasets, nir's copy and spikec's float64 copy: about three
    times the limit at the peak, so a quarter leaves room for the compile.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    return max(MIN_DEFAULT_FILE_BYTES, min(MAX_DEFAULT_FILE_BYTES, available // 4))
    except (OSError, ValueError, IndexError):
        pass
    return MIN_DEFAULT_FILE_BYTES


@dataclass(frozen=True)
class ReadLimits:
    """What one .nir read may declare: bytes in all datasets, and bytes / values per dataset."""

    file_bytes: int
    dataset_bytes: int
    array_elements: int

    @staticmethod
    def of(max_file_bytes: int | None) -> "ReadLimits":
        """The default (per-array caps as in ``ir/nodes.py``), or an explicit limit that also raises them."""
        if max_file_bytes is None:
            return ReadLimits(default_max_file_bytes(), MAX_DATASET_BYTES, MAX_ARRAY_ELEMENTS)
        if isinstance(max_file_bytes, bool) or not isinstance(max_file_bytes, int) or max_file_bytes <= 0:
            raise GraphError(f"max_file_bytes must be a positive number of bytes, got {max_file_bytes!r}",
                             parameter="max_file_bytes", value=max_file_bytes, limit="> 0")
        elements = max(MAX_ARRAY_ELEMENTS, max_file_bytes // 8)
        return ReadLimits(max_file_bytes, max(MAX_DATASET_BYTES, max_file_bytes), elements)


def read_nir(path: str | os.PathLike, *, reset: ResetMode = "zero", max_file_bytes: int | None = None) -> Graph:
    """Read a ``.nir`` file. Type checks are ours (``validate``), not NIR's asserts.

    ``max_file_bytes`` bounds the bytes all its datasets may declare (default
    ``default_max_file_bytes()``: a quarter of the available memory, 256 MiB-8 GiB);
    a file over it is refused before any dataset is read. Given explicitly, it also
    raises the per-array caps (2^24 values by default) to ``max_file_bytes / 8``
    values for the rest of the process, so that a large dense layer loads and compiles.
    """
    path = Path(path)
    if not path.exists():
        raise GraphError(f"no such file: {path}")
    limits = ReadLimits.of(max_file_bytes)
    if max_file_bytes is not None:
        allow_array_elements(limits.array_elements)
    tree = _read_hdf5(path, limits)
    node = tree.get("node")
    if not isinstance(node, dict):
        raise GraphError(f"{path}: not a NIR file (no 'node' group)")
    _check_tree(node, "")
    try:
        graph = nir.dict2NIRNode(node)
    except Exception as exc:  # nir's own constructors assert and raise many types
        raise GraphError(f"cannot read {path} as NIR: {type(exc).__name__}: {exc}".replace("\n", " ")) from exc
    if not isinstance(graph, nir.NIRGraph):
        raise GraphError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    return _own_nir_to_graph(graph, reset=reset)


def _where(parts: list[str]) -> tuple[str | None, str]:
    """(spikec node name, key) of an HDF5 path like node/nodes/sub/nodes/lif/tau."""
    names, i = [], 0
    while i < len(parts):
        if parts[i] == "nodes" and i + 1 < len(parts):
            names.append(parts[i + 1])
            i += 2
        else:
            i += 1
    return (".".join(names) or None), (parts[-1] if parts else "")


def _read_hdf5(path: Path, limits: ReadLimits | None = None, *, skip_numbers_above: int | None = None) -> dict[str, Any]:
    """The file as nested dicts (bytes as str), refusing before reading anything too big, too deep or linked away.

    Two passes: the first walks the groups and checks every dataset's declared
    size against ``limits``, the second reads the data; a refused file costs no data read.
    ``skip_numbers_above`` (bytes) leaves larger numeric datasets unread (the CLI's crash probe).
    """
    import h5py

    limits = limits or ReadLimits.of(None)
    if not path.is_file():  # a FIFO would block the open forever; /dev/zero never ends
        raise GraphError(f"cannot read {path} as NIR: not a regular file (a folder, device or pipe)")
    try:
        f = h5py.File(path, "r", rdcc_nbytes=0)  # no chunk cache: each chunk is read once (a cache per open dataset held 6 MB per layer)
    except Exception as exc:
        raise GraphError(f"cannot read {path} as NIR: not an HDF5 file or damaged ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc
    count = 0
    seen: set[int] = set()
    total = [0]  # bytes of data declared so far
    pending: list[tuple[dict[str, Any], str, Any, str | None, str]] = []  # datasets to read after the walk

    def walk(group: Any, parts: list[str]) -> dict[str, Any]:
        nonlocal count
        out: dict[str, Any] = {}
        for key in group.keys():
            here = parts + [key]
            node, leaf = _where(here)
            link = group.get(key, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise GraphError(f"{path}: /{'/'.join(here)} is a {type(link).__name__}; a NIR file holds only groups and datasets",
                                 node=node, parameter=leaf)
            count += 1
            if count > MAX_HDF5_OBJECTS:
                raise GraphError(f"{path}: more than {MAX_HDF5_OBJECTS} HDF5 objects (hard-link loop?)", limit=MAX_HDF5_OBJECTS)
            item = group[key]
            if isinstance(item, h5py.Group):
                if hash(item.id) in seen:
                    raise GraphError(f"{path}: /{'/'.join(here)} links to a group already read (hard-link loop or shared "
                                     "subgraph)", node=node, parameter=leaf)
                seen.add(hash(item.id))
                if len(here) > MAX_HDF5_DEPTH:
                    raise GraphError(f"{path}: groups nested deeper than {MAX_HDF5_DEPTH} (recursive subgraph?)",
                                     node=node, parameter=leaf, limit=MAX_HDF5_DEPTH)
                out[key] = walk(item, here)
            elif isinstance(item, h5py.Dataset):
                _check_dataset(path, item, node, leaf, total, limits)
                pending.append((out, key, item, node, leaf))
            else:
                raise GraphError(f"{path}: /{'/'.join(here)} is a {type(item).__name__}, not a group or dataset", node=node, parameter=leaf)
        return out

    try:
        with f:
            with _address_space_budget(HDF5_READ_BUDGET_BYTES):
                tree = walk(f, [])
            with _address_space_budget(HDF5_READ_BUDGET_BYTES + 2 * total[0]):
                for out, key, item, node, leaf in pending:
                    if skip_numbers_above is not None and item.dtype.kind in "biuf" \
                            and math.prod(item.shape) * item.dtype.itemsize > skip_numbers_above:
                        continue
                    out[key] = _read_dataset(path, item, node, leaf)
            return tree
    except GraphError:
        raise
    except RecursionError as exc:
        raise GraphError(f"{path}: groups nested too deep to read (limit {MAX_HDF5_DEPTH})") from exc
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError... on a damaged file
        raise GraphError(f"cannot read {path} as NIR: damaged HDF5 ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc


@contextlib.contextmanager
def _address_space_budget(extra: int) -> Iterator[None]:
    """Lower the soft RLIMIT_AS to the current size + ``extra`` for the duration (Linux; elsewhere a no-op).

    A failed allocation inside libhdf5 then becomes an HDF5 error, reported as a
    GraphError, instead of gigabytes taken for a damaged file. Process-wide while
    it lasts (a few milliseconds for a NIR file).
    """
    try:
        import resource

        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    budget = current + extra
    lower = (soft == resource.RLIM_INFINITY or soft > budget) and (hard == resource.RLIM_INFINITY or hard >= budget)
    if lower:
        resource.setrlimit(resource.RLIMIT_AS, (budget, hard))
    try:
        yield
    finally:
        if lower:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _check_dataset(path: Path, item: Any, node: str | None, key: str, total: list[int], limits: ReadLimits) -> None:
    """Refuse a dataset whose declared size is over the per-array caps or takes the file over its limit."""
    shape = item.shape
    if shape is None:  # HDF5 null dataspace
        raise GraphError(f"{path}: dataset {key!r} is empty (null dataspace)", node=node, parameter=key)
    size = math.prod(shape)
    nbytes = size * item.dtype.itemsize
    if len(shape) > MAX_DIMS or size > limits.array_elements or nbytes > limits.dataset_bytes:
        raise GraphError(
            f"dataset {key!r} declares shape {tuple(shape)} ({size} elements, {nbytes} bytes); the limit is "
            f"{limits.array_elements} elements, {limits.dataset_bytes} bytes and {MAX_DIMS} dimensions per array "
            "(--max-file-bytes / max_file_bytes= raises it)",
            node=node, parameter=key, value=tuple(shape), limit=limits.array_elements,
        )
    total[0] += nbytes
    if total[0] > limits.file_bytes:
        raise GraphError(f"{path}: datasets declare more than {limits.file_bytes} bytes together, the limit per file "
                         "(raise it with --max-file-bytes or load_nir(..., max_file_bytes=...))",
                         node=node, parameter=key, value=total[0], limit=limits.file_bytes)


#: Rows of a weight matrix read at a time when it may be carried sparse (``_read_weight``).
WEIGHT_READ_CHUNK_ELEMENTS = 2**22


def _read_weight(item: Any) -> Any:
    """A large 2-d ``weight`` dataset, read in row blocks: CSR when mostly zeros (``ir/weights.py``), else dense.

    NIR's matrices are dense on disk; reading block by block keeps a sparse
    layer from ever existing as a dense float64 matrix in memory.
    """
    rows, cols = item.shape
    step = max(1, WEIGHT_READ_CHUNK_ELEMENTS // max(cols, 1))
    data, indices, counts, nnz = [], [], [], 0
    for start in range(0, rows, step):
        block = np.asarray(item[start:start + step])
        if block.dtype.kind not in "biuf":
            return item[()]  # checked (and refused) by validate, as for a small matrix
        mask = block != 0
        nnz += int(np.count_nonzero(mask))
        if not prefer_sparse((rows, cols), nnz):  # dense after all: read it whole
            return item[()]
        counts.append(mask.sum(axis=1))
        indices.append(np.nonzero(mask)[1].astype(np.int32))
        data.append(block[mask].astype(np.float64))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int32)
    return canonical_csr(np.concatenate(data), np.concatenate(indices), indptr, (rows, cols))


def _read_dataset(path: Path, item: Any, node: str | None, key: str) -> Any:
    if key == "weight" and item.ndim == 2 and prefer_sparse(item.shape, 0):
        return _read_weight(item)
    value = item[()]
    if isinstance(value, bytes):
        try:
            value = value.decode("utf8")
        except UnicodeDecodeError as exc:
            raise GraphError(f"{path}: dataset {key!r} is not UTF-8 text", node=node, parameter=key) from exc
    return value


def _check_tree(node: dict[str, Any], name: str) -> None:
    """Keys and value kinds of one node of the file (and of every subgraph), before nir sees it."""
    where = name or None
    kind = node.get("type")
    if not isinstance(kind, str):
        raise GraphError(f"node has no 'type' string (got {type(kind).__name__})", node=where, parameter="type")
    if kind not in _SCHEMA:
        raise GraphError(f"unknown or unsupported NIR primitive {kind!r} (known: {', '.join(_SCHEMA)})",
                         node=where, parameter="type", value=kind)
    required, optional = _SCHEMA[kind]
    if kind in ("Conv1d", "Conv2d"):
        node.setdefault("input_shape", None)  # optional in NIR files; nir's constructor wants the argument
    for key in required:
        if key not in node:
            raise GraphError(f"{kind} node lacks its {key!r}", node=where, parameter=key)
    for key in node:
        if key not in required + optional + ("type", "metadata"):
            raise GraphError(f"{kind} node has an unknown key {key!r} (allowed: {', '.join(required + optional)})",
                             node=where, parameter=key)
    if "metadata" in node and not isinstance(node["metadata"], dict):
        raise GraphError("metadata must be a group", node=where, parameter="metadata")
    for key, value in node.items():
        if key in ("type", "metadata", "nodes", "edges") or value is None:
            continue
        if key in _NUMERIC:
            ok = (isinstance(value, (np.ndarray, np.generic)) or is_sparse(value)) and value.dtype.kind in "biuf"
        elif key == "padding" and isinstance(value, str):
            ok = value in ("same", "valid")
        else:  # shapes and integers
            ok = isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "iuf"
            if ok:
                _shape(value, key, name)  # finite, integral, few dims: nir's constructors compute with them
        if not ok:
            shown = value if isinstance(value, str) else getattr(value, "dtype", type(value).__name__)
            raise GraphError(f"{kind} parameter {key} has the wrong type ({shown})", node=where, parameter=key, value=str(shown))
    for key in ("groups", "start_dim", "end_dim"):
        if key in node and np.size(node[key]) != 1:
            raise GraphError(f"{kind} parameter {key} must be one integer, got shape {np.shape(node[key])}",
                             node=where, parameter=key, value=np.shape(node[key]))
    for key in ("shape", "input_shape", "input_type", "stride", "padding", "dilation", "kernel_size"):
        if key in node and not isinstance(node[key], str) and np.ndim(node[key]) > 1:
            raise GraphError(f"{kind} parameter {key} must be a list of integers, got shape {np.shape(node[key])}",
                             node=where, parameter=key, value=np.shape(node[key]))
    for key, lo in (("stride", 1), ("dilation", 1), ("kernel_size", 1), ("padding", 0)):
        value = node.get(key)
        if isinstance(value, np.ndarray) and value.size and value.min() < lo:  # nir divides by them
            raise GraphError(f"{kind} {key} must be integers >= {lo}, got {value.tolist()}", node=where, parameter=key,
                             value=value.tolist(), limit=f">= {lo}")
    if kind in ("Affine", "Linear") and np.ndim(node["weight"]) != 2:
        raise GraphError(f"{kind} weight must be an (out, in) matrix, got shape {np.shape(node['weight'])}",
                         node=where, parameter="weight", value=np.shape(node["weight"]))
    if kind in ("Conv1d", "Conv2d") and np.ndim(node["weight"]) != int(kind[-2]) + 2:
        raise GraphError(f"{kind} weight must be {int(kind[-2]) + 2}-d, got shape {np.shape(node['weight'])}",
                         node=where, parameter="weight", value=np.shape(node["weight"]))
    if kind == "NIRGraph":
        nodes, edges = node["nodes"], node["edges"]
        if not isinstance(nodes, dict):
            raise GraphError("a graph's 'nodes' must be a group", node=where, parameter="nodes")
        ok = isinstance(edges, np.ndarray) and (edges.size == 0 or (edges.ndim == 2 and edges.shape[1] == 2 and edges.dtype.kind == "O"))
        if not ok:
            raise GraphError(f"a graph's 'edges' must be a list of (source, target) names, got {getattr(edges, 'shape', edges)!r}",
                             node=where, parameter="edges")
        pairs = []
        for a, b in edges.reshape(-1, 2).tolist():
            try:
                pairs.append([x.decode("utf8") if isinstance(x, bytes) else x for x in (a, b)])
            except UnicodeDecodeError as exc:
                raise GraphError("an edge names a node in bytes that are not UTF-8", node=where, parameter="edges") from exc
            if not all(isinstance(x, str) for x in pairs[-1]):
                raise GraphError(f"an edge must join two node names, got {(a, b)!r}", node=where, parameter="edges")
        node["edges"] = pairs
        node["type_check"] = False  # nir would check nested graphs by its asserts; validate() checks them
        for child, value in nodes.items():
            if not isinstance(value, dict):
                raise GraphError("a node must be a group", node=f"{name}.{child}" if name else child)
            _check_tree(value, f"{name}.{child}" if name else child)


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
        return nir.Affine(weight=to_dense(node.weight), bias=a(node.bias), **kw)  # NIR's matrices are dense
    if isinstance(node, Linear):
        return nir.Linear(weight=to_dense(node.weight), **kw)
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
        if cls is nir.Conv1d and input_shape is not None:  # NIR's Conv1d takes the length alone (an int)
            input_shape = int(input_shape.reshape(-1)[0])
        padding = node.padding if isinstance(node.padding, str) else a(node.padding)
        return cls(
            input_shape=input_shape, weight=a(node.weight), stride=a(node.stride), padding=padding,
            dilation=a(node.dilation), groups=node.groups, bias=a(node.bias), **kw,
        )
    if isinstance(node, (SumPool2d, AvgPool2d)):
        cls = nir.SumPool2d if isinstance(node, SumPool2d) else nir.AvgPool2d
        return cls(kernel_size=a(node.kernel_size), stride=a(node.stride), padding=a(node.padding), **kw)
    if isinstance(node, MaxPool2d):
        raise GraphError(
            "MaxPool2d has no NIR 1.0.8 primitive, so no other tool could read it; a max over spikes is exact as "
            "SumPool2d -> IF: spikec.compiler.lower_maxpool.lower_max_pools(graph) rewrites it, and that graph saves",
            parameter="kind", value="MaxPool2d",
        )
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
            try:
                nodes[name] = _node_to_nir(node)
            except GraphError as exc:
                raise GraphError(str(exc), node=name, parameter=exc.parameter, value=exc.value, limit=exc.limit) from exc
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


def load_nir(source: Any, *, reset: ResetMode = "zero", max_file_bytes: int | None = None) -> Graph:
    """A normalised Graph from a ``.nir`` path or a ``nir.NIRGraph``.

    ``reset`` states the reset mode of spiking neurons whose NIR node does not
    record one (NIR has no field for it; spikec's own files do).
    ``max_file_bytes`` bounds the bytes a file's datasets may declare together
    (default: a quarter of the available memory, 256 MiB-8 GiB); given, it also
    raises the per-array cap to ``max_file_bytes / 8`` values (docs/hostile-input.md).
    """
    from .check import normalise

    if isinstance(source, (str, os.PathLike)):
        graph = read_nir(source, reset=reset, max_file_bytes=max_file_bytes)
    else:
        graph = from_nir(source, reset=reset)
    return normalise(graph)
