"""The compiled Program: frozen, versioned, saved atomically, loaded back identically.

A Program holds the lowered graph with integer parameters, the numeric format
family, the target (its TOML text verbatim), dt, the normalised source graph,
the pass log, the report (quantisation, feasibility, fidelity) and
target-specific ``artefacts``. On disk (``docs/program-format.md``): a folder,
or a ``.zip`` archive of the same files: ``manifest.json`` (versions, graphs'
structure and scalars, log, report, SHA-256 of every other file),
``arrays.npz`` (every array, exact dtype), ``target.toml`` and
``artefacts/<name>``. Files are written deterministically (sorted keys, fixed
zip timestamps, no pass timings), so compiling and saving the same model twice
gives the same bytes.

An artefact is ``bytes`` or an object with ``to_bytes()`` and a classmethod
``from_bytes(data)`` (a class inside ``spikec``, or one passed to
``register_artefact``); the manifest names its class.
"""
from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..ir.errors import CompileError, InputError, SpikecError
from ..ir.graph import Graph
from ..ir.nodes import Node
from ..ir.weights import is_sparse
from .atomic_write import replace_file, replace_folder
from .bounded_read import (MAX_MANIFEST_BYTES, FolderEntries, ZipEntries, check_entry_name, default_max_bytes,
                           is_zip_bytes, read_npz)
from .pipeline import PassRecord
from .target import Target, parse_target

FORMAT = "spikec-program"
FORMAT_VERSION = 1
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, eq=False)
class Program:
    """The result of ``spikec.compile``; what every backend runs."""

    family: str
    target: Target
    dt_s: float | None
    graph: Graph
    source: Graph
    pass_log: tuple[PassRecord, ...] = ()
    report: Mapping[str, Any] = field(default_factory=dict)
    artefacts: Mapping[str, Any] = field(default_factory=dict)
    spikec_version: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def numeric(self) -> Any:
        return self.target.numeric

    @property
    def fidelity(self) -> Mapping[str, Any] | None:
        return self.report.get("fidelity")

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically to a folder, or to an archive if ``path`` ends in ``.zip``."""
        return save_program(self, path)

    def same_as(self, other: "Program") -> bool:
        """Equal manifests (structure, scalars, report, log) and equal arrays and artefacts."""
        a, b = _files(self), _files(other)
        return a.keys() == b.keys() and all(a[k] == b[k] for k in a)


# --- graphs as JSON + arrays -------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"__tuple__": [_jsonable(v) for v in value]}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise CompileError(f"cannot store a value of type {type(value).__name__} in a program manifest")


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(_from_json(v) for v in value["__tuple__"])
        if "__array__" in value:
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "biufc":
                raise InputError(f"manifest array of dtype {dtype}: only numbers are stored")
            return np.array(value["__array__"], dtype=dtype)
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _class_path(obj: Any) -> str:
    cls = type(obj) if not isinstance(obj, type) else obj
    return f"{cls.__module__}:{cls.__qualname__}"


#: artefact classes allowed from outside ``spikec`` (``register_artefact``), by class path
ARTEFACT_CLASSES: dict[str, type] = {}


def register_artefact(cls: type) -> type:
    """Allow ``load_program`` to rebuild artefacts of ``cls`` (usable as a class decorator)."""
    ARTEFACT_CLASSES[_class_path(cls)] = cls
    return cls


#: modules renamed when compiler/ was split into families (issue 17): programs saved before still load
MOVED_MODULES: dict[str, str] = {
    "spikec.compiler.crossbar_io": "spikec.compiler.rram.crossbars",
    "spikec.compiler.crossbar_map": "spikec.compiler.rram.crossbar_map",
    "spikec.compiler.crossbar_pack": "spikec.compiler.rram.crossbar_pack",
    "spikec.compiler.feasibility": "spikec.compiler.loihi.feasibility",
    "spikec.compiler.loihi_delay_relays": "spikec.compiler.loihi.delay_relays",
    "spikec.compiler.loihi_fusion": "spikec.compiler.loihi.fusion",
    "spikec.compiler.loihi_nodes": "spikec.compiler.loihi.nodes",
    "spikec.compiler.loihi_populations": "spikec.compiler.loihi.populations",
    "spikec.compiler.loihi_scaling": "spikec.compiler.loihi.scaling",
    "spikec.compiler.place_loihi": "spikec.compiler.loihi.place",
    "spikec.compiler.quantise_loihi": "spikec.compiler.loihi.quantise",
    "spikec.compiler.quantise_spinnaker": "spikec.compiler.spinnaker.quantise",
    "spikec.compiler.routing_check": "spikec.compiler.spinnaker.routing_check",
    "spikec.compiler.routing_compress": "spikec.compiler.spinnaker.routing_compress",
    "spikec.compiler.routing_table": "spikec.compiler.spinnaker.routing_table",
    "spikec.compiler.rram_compile": "spikec.compiler.rram.compile",
    "spikec.compiler.rram_config": "spikec.compiler.rram.config",
    "spikec.compiler.rram_devices": "spikec.compiler.rram.devices",
    "spikec.compiler.rram_lower": "spikec.compiler.rram.lower",
    "spikec.compiler.spinnaker_boards": "spikec.compiler.spinnaker.boards",
    "spikec.compiler.spinnaker_compile": "spikec.compiler.spinnaker.compile",
    "spikec.compiler.spinnaker_delays": "spikec.compiler.spinnaker.delays",
    "spikec.compiler.spinnaker_format": "spikec.compiler.spinnaker.format",
    "spikec.compiler.spinnaker_io": "spikec.compiler.spinnaker.io",
    "spikec.compiler.spinnaker_keys": "spikec.compiler.spinnaker.keys",
    "spikec.compiler.spinnaker_partition": "spikec.compiler.spinnaker.partition",
    "spikec.compiler.spinnaker_place": "spikec.compiler.spinnaker.place",
    "spikec.compiler.spinnaker_readout": "spikec.compiler.spinnaker.readout",
    "spikec.compiler.spinnaker_route": "spikec.compiler.spinnaker.route",
    "spikec.compiler.spinnaker_rows": "spikec.compiler.spinnaker.rows",
}


def _import_class(path: str) -> type:
    if path in ARTEFACT_CLASSES:
        return ARTEFACT_CLASSES[path]
    module, _, qualname = path.partition(":")
    module = MOVED_MODULES.get(module, module)
    if not (module == "spikec" or module.startswith("spikec.")):
        raise InputError(f"program names class {path!r} outside spikec; refusing to import it")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def graph_to_records(graph: Graph, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A graph as (JSON record, arrays keyed ``<prefix>/<node>/<field>``)."""
    arrays: dict[str, np.ndarray] = {}
    nodes = []
    for name, node in graph.items():
        scalars, refs = {}, {}
        for f in fields(node):
            if f.name == "metadata":
                continue
            value = getattr(node, f.name)
            if isinstance(value, np.ndarray):
                key = f"{prefix}/{name}/{f.name}"
                arrays[key] = value
                refs[f.name] = key
            elif is_sparse(value):  # CSR: its three arrays, and the shape in the record
                key = f"{prefix}/{name}/{f.name}"
                for part in CSR_PARTS:
                    arrays[f"{key}.{part}"] = getattr(value, part)
                refs[f.name] = {"csr": key, "shape": [int(d) for d in value.shape]}
            else:
                scalars[f.name] = _jsonable(value)
        nodes.append({"name": name, "class": _class_path(node), "scalars": scalars, "arrays": refs, "metadata": _jsonable(dict(node.metadata))})
    record = {"nodes": nodes, "edges": [list(e) for e in graph.edges], "metadata": _jsonable(dict(graph.metadata))}
    return record, arrays


CSR_PARTS = ("data", "indices", "indptr")


def _csr_from(arrays: Mapping[str, np.ndarray], ref: Mapping[str, Any], node: str) -> Any:
    """A sparse field from its three arrays, checked in full (a damaged file must not index out of bounds)."""
    import scipy.sparse as sp

    try:
        key, shape = str(ref["csr"]), tuple(int(d) for d in ref["shape"])
        parts = [arrays[f"{key}.{part}"] for part in CSR_PARTS]
        if len(shape) != 2 or min(shape) < 0 or any(p.ndim != 1 or p.dtype.kind not in "iuf" for p in parts) \
                or parts[1].dtype.kind == "f" or parts[2].dtype.kind == "f":
            raise ValueError("wrong shape or dtypes")
        m = sp.csr_array(tuple(parts), shape=shape)
        m.check_format(full_check=True)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"node {node!r}: a sparse matrix whose arrays do not form a CSR matrix ({exc})") from exc
    return m


def graph_from_records(record: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Graph:
    nodes = {}
    for n in record["nodes"]:
        cls = _import_class(n["class"])
        if not (isinstance(cls, type) and issubclass(cls, Node)):
            raise InputError(f"node {n['name']!r} names class {n['class']!r}, which is not a graph node type")
        kwargs = {k: _from_json(v) for k, v in n["scalars"].items()}
        kwargs |= {k: _csr_from(arrays, key, n["name"]) if isinstance(key, Mapping) else arrays[key] for k, key in n["arrays"].items()}
        nodes[n["name"]] = cls(**kwargs, metadata=_from_json(n["metadata"]))
    return Graph(nodes, tuple(tuple(e) for e in record["edges"]), _from_json(record["metadata"]))


# --- files -------------------------------------------------------------------------


#: Entries of at least this many bytes (64 KiB) are deflated at zlib level 1 instead of the default 6: saving a
#: 10^5-neuron program spent 93 % of its 22 s in zlib at level 6 (deterministic either way: the level
#: follows the size, so the same arrays still give the same bytes, and small programs are as before).
FAST_DEFLATE_BYTES = 2**16


def _deflate_level(size: int) -> int | None:
    return 1 if size >= FAST_DEFLATE_BYTES else None


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An ``.npz`` with sorted entries and fixed timestamps: same arrays, same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            data = entry.getvalue()
            zf.writestr(zipfile.ZipInfo(key + ".npy", _ZIP_DATE), data, zipfile.ZIP_DEFLATED, _deflate_level(len(data)))
    return buf.getvalue()


def _artefact_bytes(name: str, value: Any) -> tuple[bytes, str | None]:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), None
    if hasattr(value, "to_bytes") and hasattr(type(value), "from_bytes"):
        return value.to_bytes(), _class_path(value)
    raise CompileError(f"artefact '{name}' of type {type(value).__name__} cannot be saved: give it to_bytes() and from_bytes()")


def _files(program: Program) -> dict[str, bytes]:
    """Every file of the saved program, by relative path."""
    graph_rec, arrays = graph_to_records(program.graph, "graph")
    source_rec, source_arrays = graph_to_records(program.source, "source")
    files: dict[str, bytes] = {"arrays.npz": _npz_bytes(arrays | source_arrays), "target.toml": program.target.source_text.encode()}
    artefacts = {}
    for name in sorted(program.artefacts):
        data, cls = _artefact_bytes(name, program.artefacts[name])
        files[f"artefacts/{name}"] = data
        artefacts[name] = {"file": f"artefacts/{name}", "class": cls}
    manifest = {
        "format": FORMAT, "format_version": program.format_version, "spikec_version": program.spikec_version,
        "family": program.family, "target": program.target.name, "dt_s": program.dt_s,
        "graph": graph_rec, "source": source_rec,
        "pass_log": [{"name": r.name, "summary": r.summary} for r in program.pass_log],  # no timings: same compile, same bytes
        "report": _jsonable(dict(program.report)),
        "artefacts": artefacts,
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())},
        "sizes": {k: len(v) for k, v in sorted(files.items())},  # checked before a reader reads the file
    }
    files["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    return files


def save_program(program: Program, path: str | os.PathLike) -> Path:
    """Serialise first, write a hidden temporary sibling, then rename it into place (``atomic_write``).

    A failure (full disk, read-only folder, Ctrl-C) leaves the previous program
    untouched and no temporary file; the error is one ``OutputError``.
    """
    path = Path(path)
    files = _files(program)  # serialise first: errors here touch no file
    if path.suffix == ".zip":
        def write_zip(fh: Any) -> None:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                for rel in sorted(files):
                    zf.writestr(zipfile.ZipInfo(rel, _ZIP_DATE), files[rel], zipfile.ZIP_DEFLATED, _deflate_level(len(files[rel])))
        return replace_file(path, write_zip, what="program")
    return replace_folder(path, files, is_ours=lambda p: (p / "manifest.json").is_file())


def program_to_bytes(program: Program) -> bytes:
    """The program as the bytes of its ``.zip`` archive (what ``save(path.zip)`` writes): a work item's payload."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in sorted(_files(program).items()):
            zf.writestr(zipfile.ZipInfo(rel, _ZIP_DATE), data, zipfile.ZIP_DEFLATED, _deflate_level(len(data)))
    return buf.getvalue()


def graph_to_bytes(graph: Graph) -> bytes:
    """A graph as bytes (its manifest record and arrays; exact, unlike NIR): graphs do not pickle."""
    record, arrays = graph_to_records(graph, "graph")
    return _npz_bytes(arrays | {"__record__": np.frombuffer(json.dumps(record, sort_keys=True).encode(), dtype=np.uint8)})


def graph_from_bytes(data: bytes, label: str = "<graph bytes>") -> Graph:
    arrays = read_npz(io.BytesIO(data), label, max(len(data), default_max_bytes()))
    record = json.loads(arrays.pop("__record__").tobytes())
    return graph_from_records(record, arrays)




# --- reading: the manifest first, then only the entries it names, each bounded and hashed -----------

#: Largest program spikec reads by default (bytes of all entries together, uncompressed, and of the
#: arrays decoded from them): ``bounded_read.default_max_bytes()``; ``--max-program-bytes`` or
#: ``load_program(max_bytes=...)`` changes it.
_HINT = " (raise it with --max-program-bytes, or load_program(max_bytes=...))"
_MANIFEST_KEYS = ("family", "target", "dt_s", "graph", "source", "pass_log", "report", "artefacts", "spikec_version")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def load_program(path: str | os.PathLike, *, max_bytes: int | None = None) -> Program:
    """Load a saved program: bounded (``max_bytes``, default ``default_max_bytes()``), every hash checked.

    The manifest is read first (at most ``MAX_MANIFEST_BYTES``); then only the
    files it names, each checked against its stored and declared size before
    it is read and against its SHA-256 after. Unknown, unsafe, duplicate and
    linked entries are refused (``docs/hostile-input.md``).
    """
    path = Path(path)
    limit = default_max_bytes() if max_bytes is None else max_bytes
    label = str(path)
    if path.is_dir():
        return _program_from_entries(FolderEntries.open(path, label), label, limit)
    if not path.exists():
        raise InputError(f"no such program: {path}")
    if not path.is_file():
        raise InputError(f"{path}: not a compiled program (expected a folder or a .zip archive)")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with fh:
        if fh.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise InputError(f"{path}: not a compiled program (expected a folder or a .zip archive)")
        entries = ZipEntries.open(fh, label, limit, _HINT)
        with entries.zf:
            return _program_from_entries(entries, label, limit)


def program_from_bytes(data: bytes, label: str = "<bytes>", *, max_bytes: int | None = None) -> Program:
    """The inverse of ``program_to_bytes`` (same checks as ``load_program``)."""
    limit = default_max_bytes() if max_bytes is None else max_bytes
    entries = ZipEntries.open(io.BytesIO(data), label, limit, _HINT)
    with entries.zf:
        return _program_from_entries(entries, label, limit)


def _check_manifest(manifest: Any, label: str) -> None:
    if not isinstance(manifest, dict):
        raise InputError(f"{label}: manifest.json is not a JSON object")
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{label}: format {manifest.get('format')!r} version {manifest.get('format_version')!r}; "
                         f"this spikec reads {FORMAT} version {FORMAT_VERSION}")
    files, sizes = manifest.get("files"), manifest.get("sizes", {})
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) and _SHA256.fullmatch(v) for k, v in files.items()):
        raise InputError(f"{label}: manifest.json 'files' must map each file to its SHA-256 (64 hex digits)")
    if not isinstance(sizes, dict) or not all(type(v) is int and v >= 0 for v in sizes.values()) or not set(sizes) <= set(files):
        raise InputError(f"{label}: manifest.json 'sizes' must map files named in 'files' to byte counts")
    for key in ("arrays.npz", "target.toml"):
        if key not in files:
            raise InputError(f"{label}: manifest.json names no {key}")
    missing = [k for k in _MANIFEST_KEYS if k not in manifest]
    if missing:
        raise InputError(f"{label}: manifest.json lacks {', '.join(missing)}")


def _read_manifest(entries: Any, label: str, limit: int) -> dict[str, Any]:
    if "manifest.json" not in entries.sizes:
        raise InputError(f"{label}: no manifest.json, not a compiled program")
    size, cap = entries.sizes["manifest.json"], min(MAX_MANIFEST_BYTES, limit)
    if size > cap:
        raise InputError(f"{label}: entry 'manifest.json': holds {size} bytes, over the limit of {cap} bytes",
                         parameter="manifest.json", value=size, limit=cap)
    try:
        manifest = json.loads(entries.read("manifest.json", size))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{label}: manifest.json is not valid JSON ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc
    _check_manifest(manifest, label)
    return manifest


def _program_from_entries(entries: Any, label: str, limit: int) -> Program:
    manifest = _read_manifest(entries, label, limit)
    named, declared = manifest["files"], manifest.get("sizes", {})
    for rel in sorted(entries.sizes):
        if rel != "manifest.json" and rel not in named:
            raise InputError(f"{label}: entry {rel!r} is not named in manifest.json: unknown entries are refused", parameter=rel)
    total = entries.sizes["manifest.json"]
    for rel in sorted(named):  # every size checked before any entry is read
        check_entry_name(label, rel)
        if rel not in entries.sizes:
            raise InputError(f"{label}: file {rel} named in manifest.json is missing", parameter=rel)
        size = entries.sizes[rel]
        if rel in declared and declared[rel] != size:
            raise InputError(f"{label}: entry {rel!r}: stored as {size} bytes, manifest.json declares {declared[rel]}",
                             parameter=rel, value=size, limit=declared[rel])
        total += size
        if total > limit:
            raise InputError(f"{label}: entry {rel!r}: brings the program to {total} bytes, over the limit of {limit} bytes{_HINT}",
                             parameter=rel, value=total, limit=limit)
    files: dict[str, bytes] = {}
    for rel in sorted(named):
        files[rel] = entries.read(rel, entries.sizes[rel])
        if hashlib.sha256(files[rel]).hexdigest() != named[rel]:
            raise InputError(f"{label}: file {rel} does not match its hash in manifest.json (damaged or edited)", parameter=rel)
    arrays = read_npz(io.BytesIO(files["arrays.npz"]), f"{label}/arrays.npz", limit, _HINT)
    return _program_from_files(manifest, files, arrays, label, limit - sum(a.nbytes for a in arrays.values()))


def _program_from_files(manifest: Mapping[str, Any], files: Mapping[str, bytes], arrays: Mapping[str, np.ndarray],
                        label: str, budget: int) -> Program:
    try:
        text = files["target.toml"].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: target.toml is not UTF-8 text (byte {exc.start})") from exc
    target = parse_target(text, f"{label}/target.toml")
    try:
        artefacts: dict[str, Any] = {}
        for name, info in manifest["artefacts"].items():
            data = files[info["file"]]
            if info["class"] is not None:
                cls = _import_class(info["class"])
                if not isinstance(cls, type) or not hasattr(cls, "from_bytes"):
                    raise InputError(f"{label}: artefact '{name}' names {info['class']!r}, which has no from_bytes")
                if is_zip_bytes(data):  # an artefact format that is itself a zip (SpiNNaker): its directory bounded too
                    inner = ZipEntries.open(io.BytesIO(data), f"{label}/{info['file']}", budget, _HINT)
                    inner.zf.close()
                    if sum(inner.sizes.values()) > budget:
                        raise InputError(f"{label}: entry {info['file']!r}: its archive declares {sum(inner.sizes.values())} "
                                         f"bytes, over the {budget} bytes left of the limit{_HINT}", parameter=info["file"], limit=budget)
                artefacts[name] = cls.from_bytes(data)
            else:
                artefacts[name] = data
        return Program(
            family=str(manifest["family"]), target=target, dt_s=manifest["dt_s"],
            graph=graph_from_records(manifest["graph"], arrays), source=graph_from_records(manifest["source"], arrays),
            pass_log=tuple(PassRecord(r["name"], 0.0, r["summary"]) for r in manifest["pass_log"]), report=_from_json(manifest["report"]),
            artefacts=artefacts, spikec_version=manifest["spikec_version"], format_version=manifest["format_version"],
        )
    except SpikecError as exc:
        if str(exc).startswith(label):
            raise
        raise type(exc)(f"{label}: {exc}", parameter=exc.parameter, value=exc.value, limit=exc.limit) from exc
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError, zipfile.BadZipFile) as exc:
        raise InputError(f"{label}: malformed manifest.json or artefact ({type(exc).__name__}: {exc})".replace("\n", " ")[:500]) from exc
