"""Hostile ``.nir`` files: a real graph read as a tree, mutated, written back.

A ``.nir`` file is HDF5: groups and datasets. ``read_tree`` turns one into
nested dicts (group -> dict, dataset -> numpy value); ``write_tree`` writes any
such tree back with h5py, whatever the types, plus a few things plain values
cannot say (``Huge``: a dataset declared enormous but never written, as a
zip bomb would be; ``HardLink``: a group linked into itself, a recursive
subgraph; ``SoftLink`` and ``ExternalLink``). ``mutate`` applies one
structural mutation drawn from a Hypothesis ``data`` object (or any object
with a ``draw`` method), so a failing case shrinks to the mutation at fault.
``flip_bytes`` and ``truncate`` damage the bytes of a written file.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from hypothesis import strategies as st

Tree = dict[str, Any]


@dataclass(frozen=True)
class Huge:
    """A dataset of this shape, chunked, never written: reading it would allocate it all."""

    shape: tuple[int, ...]
    dtype: str = "f8"


@dataclass(frozen=True)
class HardLink:
    """A hard link to the group at this absolute path (a group containing itself is a cycle)."""

    target: str


@dataclass(frozen=True)
class SoftLink:
    target: str


@dataclass(frozen=True)
class ExternalLink:
    filename: str
    target: str


def read_tree(path: str | Path) -> Tree:
    def walk(group: h5py.Group) -> Tree:
        out: Tree = {}
        for key, item in group.items():
            out[key] = walk(item) if isinstance(item, h5py.Group) else item[()]
        return out

    with h5py.File(path, "r") as f:
        return walk(f)


def write_tree(tree: Tree, path: str | Path) -> None:
    def put(group: h5py.Group, key: str, value: Any) -> None:
        if isinstance(value, dict):
            sub = group.create_group(key)
            for k, v in value.items():
                put(sub, k, v)
        elif isinstance(value, Huge):
            group.create_dataset(key, shape=value.shape, dtype=value.dtype, chunks=(1,) * len(value.shape),
                                 maxshape=value.shape, fillvalue=0 if np.dtype(value.dtype).kind in "fiu" else None)
        elif isinstance(value, HardLink):
            group[key] = group.file[value.target]
        elif isinstance(value, SoftLink):
            group[key] = h5py.SoftLink(value.target)
        elif isinstance(value, ExternalLink):
            group[key] = h5py.ExternalLink(value.filename, value.target)
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        elif isinstance(value, np.ndarray) and value.dtype == object:
            if all(isinstance(v, (bytes, str)) for v in value.flat):
                group.create_dataset(key, data=value.astype(h5py.string_dtype()), dtype=h5py.string_dtype())
            else:  # ragged arrays: HDF5 variable-length data, read back as an object array
                dt = h5py.vlen_dtype(np.dtype("f8"))
                ds = group.create_dataset(key, shape=value.shape, dtype=dt)
                for idx, v in np.ndenumerate(value):
                    ds[idx] = np.asarray(v, dtype="f8").ravel()
        else:
            group.create_dataset(key, data=value)

    # graph first, links after (a link needs its target to exist)
    links: list[tuple[str, str, Any]] = []

    def plain(prefix: str, value: Tree) -> Tree:
        out: Tree = {}
        for k, v in value.items():
            if isinstance(v, (HardLink, SoftLink, ExternalLink)):
                links.append((prefix, k, v))
            elif isinstance(v, dict):
                out[k] = plain(f"{prefix}/{k}", v)
            else:
                out[k] = v
        return out

    body = plain("", tree)
    with h5py.File(path, "w") as f:
        for k, v in body.items():
            put(f, k, v)
        for prefix, k, v in links:
            put(f[prefix or "/"], k, v)


# --- hostile values ----------------------------------------------------------------

NUMERIC_NASTIES = [
    np.array([np.nan]), np.array([np.inf]), np.array([-np.inf]), np.array([0.0]), np.array([-1.0]),
    np.array(1e308), np.array([5e-324]), np.array([], dtype="f8"), np.zeros((0, 3)), np.zeros((2, 0)),
    np.zeros((2, 3, 4, 5, 6)), np.array(0.0), np.array([1 + 2j]), np.array([True, False]),
    np.array([2**62], dtype="i8"), np.array([-(2**63)], dtype="i8"), np.array([7], dtype="u8"),
    np.array([1.0], dtype="f2"), np.array(["abc"], dtype=object), np.array([b"x", b"yy"], dtype=object),
    np.array([[1.0, 2.0], [3.0]], dtype=object), "a string", "same", "valid", b"bytes", np.arange(6).reshape(2, 3),
    np.full((3,), np.nan), {"nested": np.array([1.0])}, {},
]
SHAPE_NASTIES = [
    np.array([10**9, 10**9]), np.array([10**6, 10**6, 10**6]), np.array([2**62, 2**62]), np.array([-3]),
    np.array([0]), np.array([0, 5]), np.array([], dtype="i8"), np.array([1.5]), np.array([np.nan]),
    np.array([np.inf]), np.array(["3"], dtype=object), "12", np.array(7), np.array([3, -3]), np.array([1 + 1j]),
    np.array([True]), np.ones((2, 2), dtype="i8"), np.array([2**31, 2**31]), np.array([1] * 40),
]
HUGE_VALUES = [Huge((10**9, 10**9)), Huge((10**12,)), Huge((2**40, 16)), Huge((10**5, 10**5), "i8"), Huge((10**10,), "S8")]
PARAMS = ("weight", "bias", "tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in", "scale",
          "threshold", "delay", "stride", "padding", "dilation", "groups", "kernel_size", "start_dim", "end_dim",
          "input_shape", "input_type", "shape")
TYPES = (b"Affine", b"Linear", b"Scale", b"Conv1d", b"Conv2d", b"SumPool2d", b"AvgPool2d", b"Flatten", b"Threshold",
         b"Delay", b"LI", b"I", b"IF", b"LIF", b"CubaLIF", b"CubaLI", b"Input", b"Output", b"NIRGraph", b"Bogus", b"",
         b"\xff\xfe")
METADATA_KEYS = ("spikec.reset", "spikec.reset_delay", "spikec.reset_recheck", "spikec.delay_linear", "dt_s", "other")
METADATA_VALUES = ["zero", "subtract", "bogus", np.array(["zero", "x"], dtype=object), np.array([1.0, 2.0]), np.array(1),
                   np.array(True), np.array(np.nan), np.array(-1.0), np.array(1e300), b"\xff\xfe", {"inner": np.array(1)},
                   np.array([np.inf]), np.array(0.0), "1e-4", np.array(1 + 1j), np.zeros((3, 0))]


def _nodes(tree: Tree, depth: int = 0) -> list[Tree]:
    """Every node group of the (possibly nested) graph."""
    graph = tree.get("node")
    if not isinstance(graph, dict):
        return []
    out: list[Tree] = []

    def walk(g: Tree, d: int) -> None:
        nodes = g.get("nodes")
        if not isinstance(nodes, dict):
            return
        for n in nodes.values():
            if isinstance(n, dict):
                out.append(n)
                if d < 5:
                    walk(n, d + 1)

    walk(graph, depth)
    return out


def _graphs(tree: Tree) -> list[Tree]:
    graph = tree.get("node")
    if not isinstance(graph, dict):
        return []
    return [graph] + [n for n in _nodes(tree) if isinstance(n.get("type"), bytes) and n["type"] == b"NIRGraph"]


def _edges_of(graph: Tree) -> list[list[bytes]]:
    edges = graph.get("edges")
    try:
        return [[bytes(a) if not isinstance(a, str) else a.encode(), bytes(b) if not isinstance(b, str) else b.encode()]
                for a, b in np.asarray(edges).reshape(-1, 2).tolist()]
    except Exception:
        return []


def _set_edges(graph: Tree, edges: list[list[bytes]]) -> None:
    graph["edges"] = np.array(edges, dtype=object).reshape(-1, 2) if edges else np.zeros((0, 2), dtype=object)


MUTATIONS = (
    "param_value", "param_delete", "param_huge", "param_add", "type_change", "node_delete", "node_rename",
    "edge_dangling", "edge_delete", "edge_add", "edge_self", "edges_value", "input_shape", "metadata",
    "graph_metadata", "nest", "deep_nest", "recursive_link", "soft_link", "graph_empty", "root_value",
    "version", "scale_values",
)


def mutate(tree: Tree, data: Any) -> str:
    """Apply one mutation drawn from ``data`` to ``tree`` (in place); returns its description."""
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    nodes = _nodes(tree)
    graphs = _graphs(tree)
    if kind.startswith("param") or kind in ("type_change", "input_shape", "metadata", "scale_values"):
        if not nodes:
            return "no nodes"
        node = data.draw(st.sampled_from(nodes), label="node")
        keys = sorted(k for k in node if k != "type")
        if kind == "param_value" and keys:
            key = data.draw(st.sampled_from(keys), label="key")
            node[key] = copy.deepcopy(data.draw(st.sampled_from(NUMERIC_NASTIES), label="value"))
            return f"{kind} {key}"
        if kind == "param_delete" and keys:
            key = data.draw(st.sampled_from(keys), label="key")
            del node[key]
            return f"{kind} {key}"
        if kind == "param_huge" and keys:
            key = data.draw(st.sampled_from(keys), label="key")
            node[key] = data.draw(st.sampled_from(HUGE_VALUES), label="value")
            return f"{kind} {key}"
        if kind == "param_add":
            key = data.draw(st.sampled_from(PARAMS), label="key")
            node[key] = copy.deepcopy(data.draw(st.sampled_from(NUMERIC_NASTIES + SHAPE_NASTIES), label="value"))
            return f"{kind} {key}"
        if kind == "type_change":
            node["type"] = data.draw(st.sampled_from(TYPES), label="type")
            return f"{kind} {node['type']!r}"
        if kind == "input_shape":
            key = data.draw(st.sampled_from(("shape", "input_shape", "input_type", "kernel_size", "stride",
                                             "padding", "dilation", "groups", "start_dim", "end_dim")), label="key")
            node[key] = copy.deepcopy(data.draw(st.sampled_from(SHAPE_NASTIES), label="value"))
            return f"{kind} {key}"
        if kind == "metadata":
            meta = node.setdefault("metadata", {})
            if not isinstance(meta, dict):
                meta = node["metadata"] = {}
            key = data.draw(st.sampled_from(METADATA_KEYS), label="key")
            meta[key] = copy.deepcopy(data.draw(st.sampled_from(METADATA_VALUES), label="value"))
            return f"{kind} {key}"
        if kind == "scale_values" and keys:
            key = data.draw(st.sampled_from(keys), label="key")
            value = node[key]
            if isinstance(value, np.ndarray) and value.dtype.kind in "fiu" and value.size:
                factor = data.draw(st.sampled_from([-1.0, 0.0, 1e-300, 1e300, np.nan, np.inf, -np.inf, 1e6]), label="factor")
                with np.errstate(all="ignore"):
                    node[key] = value.astype("f8") * factor
            return f"{kind} {key}"
        return f"{kind} (no keys)"
    if not graphs:
        tree["node"] = copy.deepcopy(data.draw(st.sampled_from(NUMERIC_NASTIES), label="value"))
        return "graph replaced"
    graph = data.draw(st.sampled_from(graphs), label="graph")
    members = graph.get("nodes") if isinstance(graph.get("nodes"), dict) else {}
    names = sorted(members)
    edges = _edges_of(graph)
    if kind == "node_delete" and names:
        del members[data.draw(st.sampled_from(names), label="name")]
    elif kind == "node_rename" and names:
        old = data.draw(st.sampled_from(names), label="name")
        new = data.draw(st.sampled_from(["x", "a.b", "", ".", "input", "output", "in", "0", "lif1.lif", "n/a"]), label="new")
        if new and "/" not in new and new != "." and new not in members:
            members[new] = members.pop(old)
    elif kind == "edge_dangling" and edges:
        i = data.draw(st.integers(0, len(edges) - 1), label="edge")
        end = data.draw(st.integers(0, 1), label="end")
        edges[i][end] = data.draw(st.sampled_from([b"ghost", b"", b"a.b.c", b"\xff", b"input.input"]), label="name")
        _set_edges(graph, edges)
    elif kind == "edge_delete" and edges:
        del edges[data.draw(st.integers(0, len(edges) - 1), label="edge")]
        _set_edges(graph, edges)
    elif kind == "edge_add" and names:
        a = data.draw(st.sampled_from(names), label="src")
        b = data.draw(st.sampled_from(names), label="dst")
        _set_edges(graph, edges + [[a.encode(), b.encode()]])
    elif kind == "edge_self" and names:
        a = data.draw(st.sampled_from(names), label="node").encode()
        _set_edges(graph, edges + [[a, a]])
    elif kind == "edges_value":
        graph["edges"] = copy.deepcopy(data.draw(st.sampled_from(
            [np.zeros((3,)), np.array([["a", "b", "c"]], dtype=object), np.array([[1, 2]]), "a->b",
             np.zeros((0,)), np.array([[b"a", b"b"]] * 3, dtype=object)] + HUGE_VALUES[:2]), label="edges"))
    elif kind == "graph_metadata":
        meta = graph.setdefault("metadata", {})
        if not isinstance(meta, dict):
            meta = graph["metadata"] = {}
        key = data.draw(st.sampled_from(METADATA_KEYS), label="key")
        meta[key] = copy.deepcopy(data.draw(st.sampled_from(METADATA_VALUES), label="value"))
    elif kind == "nest" and names:
        # wrap the whole graph as a subgraph "sub" of a new outer graph with its own input/output
        inner = dict(graph)
        graph.clear()
        graph.update({"type": b"NIRGraph", "nodes": {"sub": inner}, "edges": np.zeros((0, 2), dtype=object)})
        if data.draw(st.booleans(), label="wire"):
            graph["nodes"]["i"] = {"type": b"Input", "shape": np.array([3])}
            graph["nodes"]["o"] = {"type": b"Output", "shape": np.array([3])}
            _set_edges(graph, [[b"i", b"sub"], [b"sub", b"o"]])
    elif kind == "deep_nest":
        depth = data.draw(st.sampled_from([40, 150]), label="depth")
        inner: Tree = dict(graph)
        for _ in range(depth):
            inner = {"type": b"NIRGraph", "nodes": {"g": inner}, "edges": np.zeros((0, 2), dtype=object)}
        graph.clear()
        graph.update(inner)
    elif kind == "recursive_link":
        members["loop"] = HardLink("/node")
        _set_edges(graph, edges + [[names[0].encode() if names else b"x", b"loop"]])
    elif kind == "soft_link":
        members["soft"] = data.draw(st.sampled_from([SoftLink("/nowhere"), SoftLink("/node"),
                                                     ExternalLink("/etc/passwd", "/x"), ExternalLink("missing.nir", "/node")]), label="link")
    elif kind == "graph_empty":
        graph["nodes"] = {}
        _set_edges(graph, [])
    elif kind == "root_value":
        key = data.draw(st.sampled_from(["nodes", "edges", "type"]), label="key")
        graph[key] = copy.deepcopy(data.draw(st.sampled_from(NUMERIC_NASTIES), label="value"))
    elif kind == "version":
        tree["version"] = copy.deepcopy(data.draw(st.sampled_from(["0.0.0", "99.0", np.array([1.0]), b"\xff"]), label="v"))
    return kind


def flip_bytes(raw: bytes, offsets: list[int], bits: list[int]) -> bytes:
    buf = bytearray(raw)
    for off, bit in zip(offsets, bits):
        buf[off % len(buf)] ^= 1 << (bit % 8)
    return bytes(buf)


def truncate(raw: bytes, length: int) -> bytes:
    return raw[: length % (len(raw) + 1)]
