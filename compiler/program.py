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
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..ir.errors import CompileError, InputError
from ..ir.graph import Graph
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
            return np.array(value["__array__"], dtype=value["dtype"])
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


def _import_class(path: str) -> type:
    if path in ARTEFACT_CLASSES:
        return ARTEFACT_CLASSES[path]
    module, _, qualname = path.partition(":")
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
            else:
                scalars[f.name] = _jsonable(value)
        nodes.append({"name": name, "class": _class_path(node), "scalars": scalars, "arrays": refs, "metadata": _jsonable(dict(node.metadata))})
    record = {"nodes": nodes, "edges": [list(e) for e in graph.edges], "metadata": _jsonable(dict(graph.metadata))}
    return record, arrays


def graph_from_records(record: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Graph:
    nodes = {}
    for n in record["nodes"]:
        cls = _import_class(n["class"])
        kwargs = {k: _from_json(v) for k, v in n["scalars"].items()}
        kwargs |= {k: arrays[key] for k, key in n["arrays"].items()}
        nodes[n["name"]] = cls(**kwargs, metadata=_from_json(n["metadata"]))
    return Graph(nodes, tuple(tuple(e) for e in record["edges"]), _from_json(record["metadata"]))


# --- files -------------------------------------------------------------------------


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An ``.npz`` with sorted entries and fixed timestamps: same arrays, same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(key + ".npy", _ZIP_DATE), entry.getvalue(), zipfile.ZIP_DEFLATED)
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
    }
    files["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    return files


def save_program(program: Program, path: str | os.PathLike) -> Path:
    """Write all files to a temporary sibling, then rename: a failure leaves nothing behind."""
    path = Path(path)
    files = _files(program)  # serialise first: errors here touch no file
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zip":
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                for rel in sorted(files):
                    zf.writestr(zipfile.ZipInfo(rel, _ZIP_DATE), files[rel], zipfile.ZIP_DEFLATED)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    old = None
    try:
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
        if path.exists():
            old = path.parent / f".{path.name}.old.{os.getpid()}"
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not path.exists():
            os.replace(old, path)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path


def _read_files(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return {n: zf.read(n) for n in zf.namelist()}
    raise InputError(f"{path}: not a compiled program (expected a folder or a .zip archive)")


def program_to_bytes(program: Program) -> bytes:
    """The program as the bytes of its ``.zip`` archive (what ``save(path.zip)`` writes): a work item's payload."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in sorted(_files(program).items()):
            zf.writestr(zipfile.ZipInfo(rel, _ZIP_DATE), data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def program_from_bytes(data: bytes, label: str = "<bytes>") -> Program:
    """The inverse of ``program_to_bytes`` (same checks as ``load_program``)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return _program_from_files({n: zf.read(n) for n in zf.namelist()}, label)


def graph_to_bytes(graph: Graph) -> bytes:
    """A graph as bytes (its manifest record and arrays; exact, unlike NIR): graphs do not pickle."""
    record, arrays = graph_to_records(graph, "graph")
    return _npz_bytes(arrays | {"__record__": np.frombuffer(json.dumps(record, sort_keys=True).encode(), dtype=np.uint8)})


def graph_from_bytes(data: bytes) -> Graph:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    record = json.loads(arrays.pop("__record__").tobytes())
    return graph_from_records(record, arrays)


def load_program(path: str | os.PathLike) -> Program:
    """Load a saved program; checks the format version and every file's hash."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such program: {path}")
    return _program_from_files(_read_files(path), str(path))


def _program_from_files(files: Mapping[str, bytes], path: str) -> Program:
    if "manifest.json" not in files:
        raise InputError(f"{path}: no manifest.json, not a compiled program")
    manifest = json.loads(files["manifest.json"])
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: format {manifest.get('format')!r} version {manifest.get('format_version')!r}; this spikec reads {FORMAT} version {FORMAT_VERSION}")
    for rel, digest in manifest["files"].items():
        if rel not in files or hashlib.sha256(files[rel]).hexdigest() != digest:
            raise InputError(f"{path}: file {rel} is missing or does not match its hash in manifest.json")
    with np.load(io.BytesIO(files["arrays.npz"]), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    target = parse_target(files["target.toml"].decode(), f"{path}/target.toml")
    artefacts: dict[str, Any] = {}
    for name, info in manifest["artefacts"].items():
        data = files[info["file"]]
        artefacts[name] = data if info["class"] is None else _import_class(info["class"]).from_bytes(data)
    return Program(
        family=manifest["family"], target=target, dt_s=manifest["dt_s"],
        graph=graph_from_records(manifest["graph"], arrays), source=graph_from_records(manifest["source"], arrays),
        pass_log=tuple(PassRecord(r["name"], 0.0, r["summary"]) for r in manifest["pass_log"]), report=_from_json(manifest["report"]),
        artefacts=artefacts, spikec_version=manifest["spikec_version"], format_version=manifest["format_version"],
    )
