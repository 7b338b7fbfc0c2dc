"""SpiNNaker delay extensions: delays longer than a synaptic row holds, as sPyNNaker builds them.

A row's delay field holds 1..``row_max`` ticks (``SynapticWordFormat.max_delay``).
sPyNNaker adds a *delay extension* vertex per source vertex: it listens to the
source's spikes and re-sends each one once per *stage* s = 1..S, ``s * row_max``
ticks later, under its own key ``base | ((s - 1) * n_source + i)``; the target
core holds a second (delayed) synaptic matrix keyed by the extension, whose
row ``(s - 1) n + i`` carries the synapses of neuron i with total delay
``D = s * row_max + rest``, ``rest`` = 1..row_max in the row's field
(``quantise_delays.split_delay``: ``s = ceil((D - row_max) / row_max)``, the
fewest stages). A spike of tick t leaves the extension at tick ``t + s row_max``
and lands in the ring buffer at ``t + s row_max + rest = t + D``: the timing of
the undivided synapse, exactly.

Here an extension is a population of ``S * n_source`` atoms (no neuron
parameters) partitioned, placed, keyed and routed like any other; the
quantised network the reference executor runs keeps the undivided delays.
``DelayExtension`` tells the machine which source and stage span an extension
core serves; the core's own ``ExtensionCore`` lists the source keys it hears.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..quantise_delays import DelayLimits, check_representable, split_delays
from .quantise import Population, SpiNNakerNetwork, SynapseList

EXTENSION = "~delay_ext"


@dataclass(frozen=True)
class DelayExtension:
    """An extension population: ``stages`` stages of ``stage_ticks`` for ``source`` (``n_source`` neurons)."""

    name: str
    source: str
    n_source: int
    stages: int
    stage_ticks: int


@dataclass(frozen=True)
class ExtensionCore:
    """What one extension core is loaded with: its source's size and stage span, and for every source
    vertex it hears, ``(key base, key mask, first neuron)`` so a packet's key gives the source neuron."""

    n_source: int
    stage_ticks: int
    sources: tuple[tuple[int, int, int], ...]


def add_delay_extensions(net: SpiNNakerNetwork, limits: DelayLimits) -> tuple[SpiNNakerNetwork, dict[str, DelayExtension]]:
    """``net`` with every projection longer than ``row_max`` re-sourced to its source's extension."""
    long = [p for p in net.projections if p.delay > limits.row_max]
    if not long:
        return net, {}
    for p in long:
        check_representable(p.post, np.array([p.delay]), limits, f"projection {p.pre} -> {p.post}: delay")
    stages_of = {}
    for p in long:
        stages_of[p.pre] = max(stages_of.get(p.pre, 0), int(split_delays(np.array([p.delay]), limits)[0][0]))
    extensions = {p: DelayExtension(p + EXTENSION, p, net.population(p).size, s, limits.stage_span) for p, s in stages_of.items()}
    projections: list[SynapseList] = []
    for p in net.projections:
        if p.delay <= limits.row_max:
            projections.append(p)
            continue
        stages, rest = (int(v[0]) for v in split_delays(np.array([p.delay]), limits))
        ext = extensions[p.pre]
        projections.append(replace(p, pre=ext.name, pre_index=(stages - 1) * ext.n_source + p.pre_index, delay=rest))
    populations = list(net.populations)
    for ext in extensions.values():
        populations.insert(populations.index(net.population(ext.source)) + 1,
                           Population(ext.name, ext.stages * ext.n_source, (ext.stages * ext.n_source,), None, 0))
    return replace(net, populations=tuple(populations), projections=tuple(projections)), extensions


def extension_targets(vertices: tuple[Any, ...], extensions: dict[str, DelayExtension]) -> dict[int, tuple[int, ...]]:
    """Source vertex -> the extension vertices holding a stage of one of its neurons (the extra routes)."""
    out: dict[int, set[int]] = {}
    by_pop: dict[str, list[Any]] = {}
    for v in vertices:
        by_pop.setdefault(v.population, []).append(v)
    for ext in extensions.values():
        for ev in by_pop[ext.name]:
            heard = np.unique(np.arange(ev.lo, ev.hi) % ext.n_source)
            for sv in by_pop[ext.source]:
                if np.any((heard >= sv.lo) & (heard < sv.hi)):
                    out.setdefault(sv.index, set()).add(ev.index)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def extension_cores(vertices: tuple[Any, ...], extensions: dict[str, DelayExtension], key_base: tuple[int, ...],
                    key_mask: int) -> dict[int, ExtensionCore]:
    """Vertex index -> its ``ExtensionCore`` for every extension vertex."""
    out: dict[int, ExtensionCore] = {}
    for ext in extensions.values():
        sources = tuple((key_base[v.index], key_mask, v.lo) for v in vertices if v.population == ext.source)
        for v in vertices:
            if v.population == ext.name:
                out[v.index] = ExtensionCore(ext.n_source, ext.stage_ticks, sources)
    return out


def stage_report(extensions: dict[str, DelayExtension], vertices: tuple[Any, ...], net: SpiNNakerNetwork) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per extension: stages and cost (cores, keys, delayed synaptic words); and the totals."""
    records = []
    for ext in extensions.values():
        words = sum(len(p) for p in net.projections if p.pre == ext.name)
        cores = sum(1 for v in vertices if v.population == ext.name)
        records.append({"source": ext.source, "stages": ext.stages,
                        "cost": {"cores": cores, "keys": ext.stages * ext.n_source, "delayed_row_entries": words}})
    total = {k: sum(r["cost"][k] for r in records) for k in ("cores", "keys", "delayed_row_entries")} if records else {}
    return records, total
