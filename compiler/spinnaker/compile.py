"""The SpiNNaker compile: quantise, partition, place, allocate keys, route, compress, pack rows.

``compile_spinnaker`` returns the quantised network (what the reference
executor runs) and the ``SpiNNakerArtefacts`` (what the machine loads: routing
tables, keys, per-core neuron parameters, synaptic rows and master population
tables, and the placement map that says where inputs enter and outputs are
recorded). The event-driven machine reads only the artefacts.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from ...ir.errors import CompileError
from ...ir.graph import Graph
from .quantise import SpiNNakerNetwork, quantise_spinnaker
from .routing_table import RoutingTable
from ..quantise_delays import DelayLimits, check_graph_delays, delay_limits
from .delays import ExtensionCore, add_delay_extensions, extension_cores, extension_targets, stage_report
from .format import NeuronParams
from .keys import KeyAllocation, allocate_keys
from .partition import MachineVertex, partition
from .place import Chip, Placements, SpiNNakerMachine, place
from .route import TableReport, build_routing_tables, fit_tables, vertex_targets
from .rows import CoreSynapses, SynapticWordFormat, build_rows
from .io import FORMAT_VERSION, CoreData, SpiNNakerArtefacts, SpiNNakerProgram  # noqa: F401  (the types live with their bytes)

def compile_spinnaker(graph: Graph, target: Any = None, dt_s: float | None = None, *,
                      machine: SpiNNakerMachine | None = None) -> Any:
    """``spikec.compile``'s entry for the spinnaker family: a ``Program`` whose
    ``artefacts["spinnaker"]`` is the ``SpiNNakerProgram`` (saved inside the program).
    """
    from ...ir.check import normalise
    from ..program import Program
    from ..target import load_target
    from ...ir.version import __version__

    target = load_target(target if target is not None else "spinnaker1")
    compiled = compile_event_tables(graph, target, dt_s, machine=machine)
    net, art = compiled.network, compiled.artefacts
    if _auto(target):  # the program's target names the machine chosen
        from ..target import with_chips

        target = with_chips(target, art.machine.n_chips)
    source = normalise(graph).with_metadata(dt_s=net.dt_s)
    report = {"spinnaker": {
        "cores": len(art.cores), "chips": len({c.location[:2] for c in art.cores}),
        "machine": [art.machine.width, art.machine.height], "machine_chips": art.machine.n_chips,
        "machine_label": art.machine.describe(),
        "routing_entries": {f"{r.chip[0]},{r.chip[1]}": [r.entries, r.without_defaults, r.loaded, r.method]
                            for r in art.table_reports},
        "synaptic_bytes": {str(c.location): c.synapses.n_bytes for c in art.cores if c.synapses is not None},
        "notes": list(net.notes), "stage_seconds": dict(art.stage_seconds),
    }}
    report["delays"] = _delay_report(graph, net.dt_s, target, art)
    return Program(family="spinnaker", target=target, dt_s=net.dt_s, graph=source, source=source, report=report,
                   artefacts={"spinnaker": compiled}, spikec_version=__version__)


def _delay_report(graph: Graph, dt_s: float, target: Any, art: SpiNNakerArtefacts) -> dict[str, Any]:
    from ..quantise_delays import delay_report, with_stages

    stages = list(art.delay_stages)
    cost = {k: sum(r["cost"][k] for r in stages) for k in ("cores", "keys", "delayed_row_entries")} if stages else {}
    return with_stages(delay_report(graph, dt_s), delay_limits(target), stages, cost)


def _auto(target: Any) -> bool:
    return getattr(getattr(target, "limits", None), "chips", None) == "auto"


def machine_candidates(target: Any, needed_cores: int) -> list[SpiNNakerMachine]:
    """Real machines of the target's board, smallest first, from the first with ``needed_cores`` cores
    (``--chips auto``), up to ``[limits] max_chips``."""
    from .boards import candidates

    board = getattr(target.numeric, "board", "grid")
    out = []
    per_chip = target.limits.cores_per_chip
    for shape in candidates(board, target.limits.max_chips, -(-needed_cores // per_chip)):
        if shape.n_chips * target.limits.cores_per_chip >= needed_cores:
            out.append(SpiNNakerMachine.from_target(target, chips=shape.n_chips))
            if len(out) == AUTO_TRIES:
                break
    return out


#: ``--chips auto``: machines tried after the first that has the cores (a router may still overflow)
AUTO_TRIES = 3


def compile_event_tables(graph: Graph, target: Any = None, dt_s: float | None = None, *,
                         machine: SpiNNakerMachine | None = None) -> SpiNNakerProgram:
    """Compile ``graph`` for a SpiNNaker target (or an explicit ``machine``) into the event tables.

    With ``[limits] chips = "auto"`` (``--chips auto``) the machine is the
    smallest real one of the target's board layout whose cores hold the
    partitioned network and whose routers hold its tables.
    """
    if machine is None and target is None:
        raise CompileError("compile_spinnaker needs a target or a machine")
    auto = machine is None and _auto(target)
    if machine is None:
        machine = SpiNNakerMachine.from_target(target, chips=1 if auto else None)
    numeric = getattr(target, "numeric", None)
    if dt_s is None and graph.metadata.get("dt_s") is None:  # as Discretise: caller, graph, then target
        dt_s = getattr(target, "default_dt_s", None)
    spike_compare = getattr(numeric, "spike_compare", ">=")
    fmt = SynapticWordFormat.for_core(machine.neurons_per_core, getattr(numeric, "ring_buffer_bits", 14))
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    if getattr(target, "family", None) == "spinnaker":
        limits = delay_limits(target)
        graph_dt = dt_s if dt_s is not None else graph.metadata.get("dt_s")
        if graph_dt:  # each Delay/DelayLinear node's own delay, naming the node and the figure of the chain
            check_graph_delays(graph, graph_dt, limits)
    else:
        limits = DelayLimits(fmt.max_delay, fmt.max_delay, fmt.max_delay, 1, "delay extension")
    original = quantise_spinnaker(graph, dt_s, spike_compare=spike_compare, max_delay=limits.max_total)
    net, extensions = add_delay_extensions(original, limits)
    lap("quantise")
    vertices = partition(net, machine.neurons_per_core, machine.synaptic_bytes_per_core)
    lap("partition")
    if auto:
        machines = machine_candidates(target, len(vertices))
        if not machines:
            raise CompileError(f"the network needs {len(vertices)} cores; no {target.numeric.board} machine of at most "
                               f"[limits] max_chips = {target.limits.max_chips} chips has them",
                               parameter="cores", value=len(vertices), limit=target.limits.max_chips)
    else:
        if target is not None and len(vertices) > machine.n_cores:
            _too_few_cores(target, machine, len(vertices))
        machines = [machine]
    for attempt, machine in enumerate(machines):
        try:
            placements = place(vertices, machine)
            lap("place")
            keys = allocate_keys(vertices)
            lap("keys")
            targets = vertex_targets(net, vertices)
            for src, exts in extension_targets(vertices, extensions).items():
                targets[src] = tuple(sorted(set(targets.get(src, ())) | set(exts)))
            tables = build_routing_tables(machine, vertices, placements, keys, targets)
            lap("route")
            loaded, reports = fit_tables(tables, machine.routing_table_entries)
            lap("compress")
            break
        except CompileError as exc:  # --chips auto: a router overflowed; a larger machine spreads the routes
            if attempt + 1 == len(machines) or exc.parameter != "routing_table_entries":
                raise
    rows = build_rows(net, vertices, keys, fmt)
    lap("rows")
    _check_memory(rows, vertices, machine)
    artefacts = _assemble(net, vertices, placements, keys, loaded, reports, rows, machine, fmt, targets,
                          extension_cores(vertices, extensions, keys.base, keys.mask))
    stages, _ = stage_report(extensions, vertices, net)
    artefacts = replace(artefacts, delay_stages=tuple(stages))
    lap("assemble")
    artefacts.stage_seconds.update(seconds)
    return SpiNNakerProgram(original, artefacts, getattr(target, "name", ""))


def _too_few_cores(target: Any, machine: SpiNNakerMachine, needed: int) -> None:
    fits = machine_candidates(target, needed)
    hint = (f"--chips auto would pick {fits[0].describe()}" if fits else
            f"no {getattr(target.numeric, 'board', 'grid')} machine up to [limits] max_chips = {target.limits.max_chips} has them")
    raise CompileError(
        f"the network needs {needed} cores ({needed} machine vertices); the machine has {machine.n_cores} "
        f"({machine.describe()}): compile with --chips auto ({hint}) or more chips (--chips N, [limits] chips "
        f"in {getattr(target, 'source_path', '') or 'the target file'})",
        parameter="cores", value=needed, limit=machine.n_cores)


def _check_memory(rows: dict[int, CoreSynapses], vertices: tuple[MachineVertex, ...], machine: SpiNNakerMachine) -> None:
    limit = machine.synaptic_bytes_per_core
    if limit is None:
        return
    for index, core in rows.items():
        if core.n_bytes > limit:
            v = vertices[index]
            raise CompileError(f"vertex {v.lo}..{v.hi - 1}: synaptic matrix of {core.n_bytes} bytes exceeds "
                               f"{limit} per core", node=v.population, parameter="synaptic_memory_bytes_per_core",
                               value=core.n_bytes, limit=limit)


def _assemble(net, vertices, placements: Placements, keys: KeyAllocation, loaded, reports, rows, machine, fmt,
              targets, extensions: dict[int, ExtensionCore]) -> SpiNNakerArtefacts:
    cores = []
    for v in vertices:
        pop = net.population(v.population)
        params = None if pop.is_source else pop.params.slice(v.lo, v.hi)
        cores.append(CoreData(v, placements.locations[v.index], keys.base[v.index], pop.start_tick, params,
                              rows.get(v.index), bool(targets.get(v.index)), extensions.get(v.index)))
    by_pop: dict[str, tuple[int, ...]] = {}
    for v in vertices:
        by_pop[v.population] = by_pop.get(v.population, ()) + (v.index,)
    extension_pops = {vertices[i].population for i in extensions}
    inputs = {p.name: (p.shape, by_pop[p.name]) for p in net.populations if p.is_source and p.name not in extension_pops}
    outputs = {name: (kind, net.population(pop).shape, by_pop[pop]) for name, (pop, kind) in net.outputs.items()}
    starts = {name: net.population(pop).start_tick for name, (pop, _) in net.outputs.items()}
    sources = {f"{pop}.{kind}": (kind, by_pop[pop], net.population(pop).start_tick)
               for r in net.readouts.values() for pop, kind in r.sources}
    return SpiNNakerArtefacts(machine, fmt, keys.mask, loaded, reports, tuple(cores), inputs, outputs, starts,
                              readouts=dict(net.readouts), readout_sources=sources)
