"""The SpiNNaker event tables on disk: a documented, versioned folder another tool can read.

Layout (``docs/spinnaker.md`` describes every field)::

    manifest.json        format_version, machine, synaptic word format, key mask,
                         inputs, outputs, per-core records (vertex, location, key,
                         start tick, neuron model scalars, master population table),
                         per-chip table reports, stage times
    routing_tables.csv   x,y,index,key,mask,route  (hex key/mask/route; index = TCAM order)
    cores.npz            core<i>.words (uint32 synaptic matrix), core<i>.<param> (int64)
    network.npz / network.json   the quantised network (what the reference executor runs)

``load_spinnaker`` reads the folder back into the same objects; saving what was
loaded gives byte-identical files.
"""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...ir.errors import InputError
from .quantise import Population, SpiNNakerNetwork, SynapseList
from .routing_table import RoutingEntry, RoutingTable
from .delays import ExtensionCore
from .format import NeuronParams
from .partition import MachineVertex
from .place import Chip, SpiNNakerMachine
from .readout import readouts_from_data, readouts_to_data
from .route import TableReport
from .rows import CoreSynapses, MasterPopEntry, SynapticWordFormat

_SCALARS = ("model", "reset", "reset_delay", "spike_compare", "bias_start", "shift", "scale", "reset_recheck")


FORMAT_VERSION = "spikec-spinnaker/1"


@dataclass(frozen=True, eq=False)
class CoreData:
    """What one core is loaded with: its neurons' parameters (None for a spike source) and synapses."""

    vertex: MachineVertex
    location: tuple[int, int, int]
    key_base: int
    start_tick: int
    params: NeuronParams | None
    synapses: CoreSynapses | None
    sends: bool = True  # False when no core listens: like sPyNNaker, such a core sends no packets
    extension: ExtensionCore | None = None  # a delay-extension core (``spinnaker_delays``)


@dataclass(frozen=True, eq=False)
class SpiNNakerArtefacts:
    """Everything the machine needs, and nothing from the graph."""

    machine: SpiNNakerMachine
    word_format: SynapticWordFormat
    key_mask: int
    routing_tables: dict[Chip, RoutingTable]
    table_reports: tuple[TableReport, ...]
    cores: tuple[CoreData, ...]  # indexed by vertex index
    inputs: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]  # input -> (shape, vertex indices)
    outputs: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]]  # output -> (kind, shape, vertices)
    ticks_before_output: dict[str, int]  # output -> start tick of its population
    stage_seconds: dict[str, float] = field(default_factory=dict)
    format_version: str = FORMAT_VERSION
    delay_stages: tuple[dict[str, Any], ...] = ()  # per delay extension: source, stages, cost
    readouts: dict[str, Any] = field(default_factory=dict)  # output -> spinnaker_readout.Readout (host-side)
    readout_sources: dict[str, tuple[str, tuple[int, ...], int]] = field(default_factory=dict)  # "pop.kind" -> (kind, vertices, start tick)

    @property
    def max_start_tick(self) -> int:
        return max(c.start_tick for c in self.cores)


@dataclass(frozen=True, eq=False)
class SpiNNakerProgram:
    """Interim program for the SpiNNaker family (until ``compiler/program.py`` carries it)."""

    network: SpiNNakerNetwork
    artefacts: SpiNNakerArtefacts
    target_name: str = ""

    @property
    def family(self) -> str:
        """The numeric format family (the reference dispatch's key)."""
        return "spinnaker"

    def to_bytes(self) -> bytes:
        """The ``spinnaker_io`` folder as a deterministic zip (a Program artefact)."""
        return to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> "SpiNNakerProgram":
        return from_bytes(data)



def _params_record(p: NeuronParams | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {k: (list(getattr(p, k)) if isinstance(getattr(p, k), tuple) else getattr(p, k)) for k in _SCALARS}


def _params_from(record: dict[str, Any] | None, arrays: dict[str, np.ndarray], prefix: str) -> NeuronParams | None:
    if record is None:
        return None
    values = dict(record)
    values["bias_start"] = tuple(values["bias_start"])
    values["shift"] = tuple(values["shift"])
    for name in NeuronParams.array_fields:
        values[name] = arrays[f"{prefix}.{name}"]
    return NeuronParams(**values)


def save_spinnaker(program: SpiNNakerProgram, folder: str | Path) -> Path:
    """Write the program's event tables and network into ``folder`` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    art = program.artefacts
    arrays: dict[str, np.ndarray] = {}
    cores = []
    for i, c in enumerate(art.cores):
        if c.params is not None:
            for name in NeuronParams.array_fields:
                arrays[f"core{i}.{name}"] = np.asarray(getattr(c.params, name))
        if c.synapses is not None:
            arrays[f"core{i}.words"] = c.synapses.words
        cores.append({
            "vertex": asdict(c.vertex), "location": list(c.location), "key_base": c.key_base,
            "start_tick": c.start_tick, "sends": c.sends, "params": _params_record(c.params),
            "master_pop": None if c.synapses is None else [asdict(e) for e in c.synapses.master_pop],
            "extension": None if c.extension is None else {
                "n_source": c.extension.n_source, "stage_ticks": c.extension.stage_ticks,
                "sources": [list(x) for x in c.extension.sources]},
        })
    manifest = {
        "format_version": art.format_version, "target": program.target_name,
        "machine": asdict(art.machine), "word_format": asdict(art.word_format), "key_mask": art.key_mask,
        "inputs": {k: {"shape": list(s), "vertices": list(v)} for k, (s, v) in art.inputs.items()},
        "outputs": {k: {"kind": kind, "shape": list(s), "vertices": list(v), "start_tick": art.ticks_before_output[k]}
                    for k, (kind, s, v) in art.outputs.items()},
        "table_reports": [asdict(r) for r in art.table_reports],
        "cores": cores,
        "delay_stages": list(art.delay_stages),
    }
    if art.readouts:  # outputs after a stateless chain (spinnaker_readout): host-side terms and their sources
        meta, readout_arrays = readouts_to_data(art.readouts)
        manifest["readouts"] = meta
        manifest["readout_sources"] = {k: {"kind": kind, "vertices": list(v), "start_tick": start}
                                       for k, (kind, v, start) in art.readout_sources.items()}
        arrays.update(readout_arrays)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    lines = ["x,y,index,key,mask,route,defaultable"]
    for (x, y), table in sorted(art.routing_tables.items()):
        lines += [f"{x},{y},{i},0x{e.key:08X},0x{e.mask:08X},0x{e.route:X},{int(e.defaultable)}"
                  for i, e in enumerate(table)]
    (folder / "routing_tables.csv").write_text("\n".join(lines) + "\n")
    _save_npz(folder / "cores.npz", arrays)
    _save_network(program.network, folder)
    return folder


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **dict(sorted(arrays.items())))


def _save_network(net: SpiNNakerNetwork, folder: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    pops = []
    for i, p in enumerate(net.populations):
        if p.params is not None:
            for name in NeuronParams.array_fields:
                arrays[f"pop{i}.{name}"] = np.asarray(getattr(p.params, name))
        pops.append({"name": p.name, "size": p.size, "shape": list(p.shape), "start_tick": p.start_tick,
                     "params": _params_record(p.params)})
    projs = []
    for i, s in enumerate(net.projections):
        for name in ("pre_index", "post_index", "weight", "synapse_type"):
            arrays[f"proj{i}.{name}"] = getattr(s, name).astype(np.int64)  # int64 on disk, whatever the type in memory
        projs.append({"pre": s.pre, "post": s.post, "delay": s.delay})
    meta = {"dt_s": net.dt_s, "populations": pops, "projections": projs,
            "outputs": {k: list(v) for k, v in net.outputs.items()}, "notes": list(net.notes)}
    if net.readouts:
        meta["readouts"], readout_arrays = readouts_to_data(net.readouts)
        arrays.update(readout_arrays)
    (folder / "network.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    _save_npz(folder / "network.npz", arrays)


def load_spinnaker(folder: str | Path) -> SpiNNakerProgram:
    """Read a folder written by ``save_spinnaker``."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{folder}: no manifest.json (not a spikec SpiNNaker program)") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{folder}: format {manifest.get('format_version')!r}, this spikec reads {FORMAT_VERSION!r}")
    with np.load(folder / "cores.npz") as data:
        arrays = {k: data[k] for k in data.files}
    cores = []
    for i, c in enumerate(manifest["cores"]):
        syn = None
        if c["master_pop"] is not None:
            syn = CoreSynapses(arrays[f"core{i}.words"], tuple(MasterPopEntry(**e) for e in c["master_pop"]))
        cores.append(CoreData(MachineVertex(**c["vertex"]), tuple(c["location"]), c["key_base"], c["start_tick"],
                              _params_from(c["params"], arrays, f"core{i}"), syn, c["sends"], _extension_from(c.get("extension"))))
    tables: dict[tuple[int, int], list[RoutingEntry]] = {}
    for line in (folder / "routing_tables.csv").read_text().splitlines()[1:]:
        x, y, _, key, mask, route, default = line.split(",")
        tables.setdefault((int(x), int(y)), []).append(
            RoutingEntry(int(key, 16), int(mask, 16), int(route, 16), bool(int(default))))
    art = SpiNNakerArtefacts(
        machine=SpiNNakerMachine(**manifest["machine"]), word_format=SynapticWordFormat(**manifest["word_format"]),
        key_mask=manifest["key_mask"],
        routing_tables={chip: RoutingTable(tuple(es), chip) for chip, es in tables.items()},
        table_reports=tuple(TableReport(**{**r, "chip": tuple(r["chip"])}) for r in manifest["table_reports"]),
        cores=tuple(cores),
        inputs={k: (tuple(v["shape"]), tuple(v["vertices"])) for k, v in manifest["inputs"].items()},
        outputs={k: (v["kind"], tuple(v["shape"]), tuple(v["vertices"])) for k, v in manifest["outputs"].items()},
        ticks_before_output={k: v["start_tick"] for k, v in manifest["outputs"].items()},
        delay_stages=tuple(manifest.get("delay_stages", ())),
        readouts=readouts_from_data(manifest.get("readouts", {}), arrays),
        readout_sources={k: (v["kind"], tuple(v["vertices"]), v["start_tick"]) for k, v in manifest.get("readout_sources", {}).items()},
    )
    return SpiNNakerProgram(_load_network(folder), art, manifest.get("target", ""))


def _extension_from(record: dict[str, Any] | None) -> ExtensionCore | None:
    if record is None:
        return None
    return ExtensionCore(record["n_source"], record["stage_ticks"], tuple(tuple(x) for x in record["sources"]))


def _load_network(folder: Path) -> SpiNNakerNetwork:
    meta = json.loads((folder / "network.json").read_text())
    with np.load(folder / "network.npz") as data:
        arrays = {k: data[k] for k in data.files}
    pops = tuple(Population(p["name"], p["size"], tuple(p["shape"]), _params_from(p["params"], arrays, f"pop{i}"),
                            p["start_tick"]) for i, p in enumerate(meta["populations"]))
    projs = tuple(SynapseList(s["pre"], s["post"], *(arrays[f"proj{i}.{n}"] for n in
                                                      ("pre_index", "post_index", "weight", "synapse_type")), s["delay"])
                  for i, s in enumerate(meta["projections"]))
    return SpiNNakerNetwork(meta["dt_s"], pops, projs, {k: tuple(v) for k, v in meta["outputs"].items()},
                            tuple(meta["notes"]), readouts_from_data(meta.get("readouts", {}), arrays))


def describe(program: SpiNNakerProgram) -> str:
    """What ``spikec inspect`` shows: chips and cores, table entries, synaptic memory, fan-in/out."""
    art = program.artefacts
    chips = sorted({c.location[:2] for c in art.cores})
    lines = [f"SpiNNaker program ({art.format_version}), machine {art.machine.describe()}",
             f"cores used: {len(art.cores)} on {len(chips)} chips"]
    lines.append("routing entries per chip (all / without defaultable / loaded, method):")
    for r in sorted(art.table_reports, key=lambda r: r.chip):
        lines.append(f"  chip {r.chip}: {r.entries} / {r.without_defaults} / {r.loaded} ({r.method})")
    syn = [(c, c.synapses) for c in art.cores if c.synapses is not None]
    if syn:
        worst = max(syn, key=lambda cs: cs[1].n_bytes)
        lines.append(f"synaptic memory: {sum(s.n_bytes for _, s in syn)} bytes in total, largest core "
                     f"{worst[0].location} {worst[1].n_bytes} bytes ({worst[1].words.size} words)")
    fan_out: dict[str, int] = {}
    fan_in: dict[str, int] = {}
    for proj in program.network.projections if program.network is not None else ():
        if len(proj):
            fan_out[proj.pre] = max(fan_out.get(proj.pre, 0), int(np.bincount(proj.pre_index).max()))
            fan_in[proj.post] = max(fan_in.get(proj.post, 0), int(np.bincount(proj.post_index).max()))
    if fan_in:
        lines.append(f"largest fan-in {max(fan_in.values())} ({max(fan_in, key=fan_in.get)}), "
                     f"largest fan-out {max(fan_out.values())} ({max(fan_out, key=fan_out.get)}) per projection")
    return "\n".join(lines)


_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def to_bytes(program: SpiNNakerProgram) -> bytes:
    """The folder ``save_spinnaker`` writes, as a zip with fixed timestamps (same program, same bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_spinnaker(program, Path(tmp) / "spinnaker")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.iterdir()):
                zf.writestr(zipfile.ZipInfo(path.name, _ZIP_DATE), path.read_bytes())
        return buffer.getvalue()


def from_bytes(data: bytes) -> SpiNNakerProgram:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                if "/" in name or name.startswith("."):
                    raise InputError(f"unexpected file {name!r} in a SpiNNaker artefact")
                (Path(tmp) / name).write_bytes(zf.read(name))
        return load_spinnaker(tmp)
