"""The SpiNNaker pipeline: quantise, partition, place, keys, route, compress, rows, as ``Pass`` objects.

Each pass is a frozen dataclass run by ``compiler/pipeline.py``'s Pipeline
(``spikec compile --explain --target spinnaker1`` lists them,
``--dump-after PASS`` stops after one). Between passes the intermediate
products travel in ``CompileState.work`` (a ``SpiNNakerWork``): the quantised
network, machine vertices, placements, keys, tables, rows. The last pass
assembles the ``SpiNNakerArtefacts`` (what the machine loads: routing tables,
keys, per-core neuron parameters, synaptic rows and master population tables,
and the placement map that says where inputs enter and outputs are recorded)
and, for a SpiNNaker target, the Program's report. The event-driven machine
reads only the artefacts; the reference executor runs the quantised network.

``compile_event_tables`` (tests, benchmarks; an explicit ``machine`` allowed)
and ``compile_spinnaker`` run the same passes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Mapping

from ...ir.errors import CompileError
from ...ir.graph import Graph
from ..pipeline import CompileState, Pipeline
from ..quantise_delays import DelayLimits, check_graph_delays, delay_limits
from .delays import DelayExtension, ExtensionCore, add_delay_extensions, extension_cores, extension_targets, stage_report
from .io import FORMAT_VERSION, CoreData, SpiNNakerArtefacts, SpiNNakerProgram  # noqa: F401  (the types live with their bytes)
from .keys import KeyAllocation, allocate_keys
from .partition import MachineVertex, partition
from .place import Chip, Placements, SpiNNakerMachine, place
from .quantise import SpiNNakerNetwork, quantise_spinnaker
from .route import TableReport, build_routing_tables, fit_tables, vertex_targets
from .routing_table import RoutingTable
from .rows import CoreSynapses, SynapticWordFormat, build_rows

#: ``--chips auto``: machines tried after the first that has the cores (a router may still overflow)
AUTO_TRIES = 3


@dataclass(frozen=True, eq=False)
class SpiNNakerWork:
    """What the SpiNNaker passes hand each other (``CompileState.work``); ``seconds`` per stage."""

    machine: SpiNNakerMachine
    auto: bool
    fmt: SynapticWordFormat
    limits: DelayLimits
    original: SpiNNakerNetwork  # before delay extensions: what the reference executor runs
    net: SpiNNakerNetwork  # with the delay-extension populations
    extensions: Mapping[str, DelayExtension]
    machines: tuple[SpiNNakerMachine, ...] = ()  # --chips auto: the candidates, smallest first
    vertices: tuple[MachineVertex, ...] = ()
    placements: Placements | None = None
    keys: KeyAllocation | None = None
    targets: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    tables: Mapping[Chip, RoutingTable] = field(default_factory=dict)
    loaded: Mapping[Chip, RoutingTable] = field(default_factory=dict)
    reports: tuple[TableReport, ...] = ()
    seconds: Mapping[str, float] = field(default_factory=dict)

    def after(self, stage: str, start: float, **changes: Any) -> "SpiNNakerWork":
        """A copy with ``changes`` and the seconds ``stage`` took since ``start``."""
        return replace(self, seconds={**self.seconds, stage: time.perf_counter() - start}, **changes)


def _work(state: CompileState, pass_name: str) -> SpiNNakerWork:
    return state.work_of(SpiNNakerWork, pass_name, QuantiseSpiNNaker.name)


@dataclass(frozen=True)
class QuantiseSpiNNaker:
    """Integer LIF populations and synapse lists (s16.15, ring-buffer shifts), delay-extension populations for long delays."""

    name: ClassVar[str] = "quantise-spinnaker"
    machine: SpiNNakerMachine | None = None  # an explicit machine (tests); else the target's

    def run(self, state: CompileState) -> CompileState:
        start = time.perf_counter()
        target, graph, dt_s, machine = state.target, state.graph, state.dt_s, self.machine
        if machine is None and target is None:
            raise CompileError("compile_spinnaker needs a target or a machine")
        auto = machine is None and _auto(target)
        if machine is None:
            machine = SpiNNakerMachine.from_target(target, chips=1 if auto else None)
        numeric = getattr(target, "numeric", None)
        if dt_s is None and graph.metadata.get("dt_s") is None:  # as Discretise: caller, graph, then target
            dt_s = getattr(target, "default_dt_s", None)
        fmt = SynapticWordFormat.for_core(machine.neurons_per_core, getattr(numeric, "ring_buffer_bits", 14))
        if getattr(target, "family", None) == "spinnaker":
            limits = delay_limits(target)
            graph_dt = dt_s if dt_s is not None else graph.metadata.get("dt_s")
            if graph_dt:  # each Delay/DelayLinear node's own delay, naming the node and the figure of the chain
                check_graph_delays(graph, graph_dt, limits)
        else:
            limits = DelayLimits(fmt.max_delay, fmt.max_delay, fmt.max_delay, 1, "delay extension")
        original = quantise_spinnaker(graph, dt_s, spike_compare=getattr(numeric, "spike_compare", ">="), max_delay=limits.max_total)
        net, extensions = add_delay_extensions(original, limits)
        work = SpiNNakerWork(machine, auto, fmt, limits, original, net, extensions)
        return state.evolve(work=work.after("quantise", start))

    def summary(self, state: CompileState) -> str:
        w = state.work
        return f"{len(w.original.populations)} populations, {len(w.extensions)} delay extensions, dt {w.original.dt_s} s"


@dataclass(frozen=True)
class Partition:
    """Populations cut into machine vertices that fit one core's neurons and synaptic memory; the machine(s) to try."""

    name: ClassVar[str] = "partition"

    def run(self, state: CompileState) -> CompileState:
        start, work, target = time.perf_counter(), _work(state, self.name), state.target
        vertices = partition(work.net, work.machine.neurons_per_core, work.machine.synaptic_bytes_per_core)
        if work.auto:
            machines = machine_candidates(target, len(vertices))
            if not machines:
                raise CompileError(f"the network needs {len(vertices)} cores; no {target.numeric.board} machine of at most "
                                   f"[limits] max_chips = {target.limits.max_chips} chips has them",
                                   parameter="cores", value=len(vertices), limit=target.limits.max_chips)
        else:
            if target is not None and len(vertices) > work.machine.n_cores:
                _too_few_cores(target, work.machine, len(vertices))
            machines = [work.machine]
        work = work.after("partition", start, vertices=vertices, machines=tuple(machines), machine=machines[0])
        return state.evolve(work=work)

    def summary(self, state: CompileState) -> str:
        w = state.work
        return f"{len(w.vertices)} machine vertices" + (f", {len(w.machines)} machines to try" if w.auto else "")


def _place(work: SpiNNakerWork, machine: SpiNNakerMachine | None = None) -> SpiNNakerWork:
    start, machine = time.perf_counter(), machine or work.machine
    return work.after("place", start, machine=machine, placements=place(work.vertices, machine))


def _keys(work: SpiNNakerWork) -> SpiNNakerWork:
    start = time.perf_counter()
    return work.after("keys", start, keys=allocate_keys(work.vertices))


def _route(work: SpiNNakerWork) -> SpiNNakerWork:
    start = time.perf_counter()
    targets = vertex_targets(work.net, work.vertices)
    for src, exts in extension_targets(work.vertices, work.extensions).items():
        targets[src] = tuple(sorted(set(targets.get(src, ())) | set(exts)))
    tables = build_routing_tables(work.machine, work.vertices, work.placements, work.keys, targets)
    return work.after("route", start, targets=targets, tables=tables)


class _Stage:
    """A pass that applies one stage function (``stage``) to the SpiNNaker work."""

    name: ClassVar[str]
    stage: ClassVar[Any]

    def run(self, state: CompileState) -> CompileState:
        return state.evolve(work=type(self).stage(_work(state, self.name)))


@dataclass(frozen=True)
class PlaceSpiNNaker(_Stage):
    """Each machine vertex on a core (chip by chip, sources near their targets)."""

    name: ClassVar[str] = "place-spinnaker"
    stage: ClassVar[Any] = staticmethod(_place)

    def summary(self, state: CompileState) -> str:
        w = state.work
        return f"{len(w.vertices)} cores on {len({loc[:2] for loc in w.placements.locations})} chips of {w.machine.describe()}"


@dataclass(frozen=True)
class Keys(_Stage):
    """A multicast key range (base, mask) per machine vertex."""

    name: ClassVar[str] = "keys"
    stage: ClassVar[Any] = staticmethod(_keys)

    def summary(self, state: CompileState) -> str:
        return f"{len(state.work.vertices)} key ranges, mask {state.work.keys.mask:#010x}"


@dataclass(frozen=True)
class Route(_Stage):
    """Multicast trees from each vertex to the cores that listen, as per-chip routing tables."""

    name: ClassVar[str] = "route"
    stage: ClassVar[Any] = staticmethod(_route)

    def summary(self, state: CompileState) -> str:
        return f"{sum(len(t) for t in state.work.tables.values())} entries on {len(state.work.tables)} chips"


@dataclass(frozen=True)
class Compress:
    """Routing tables within the router's entries: defaultable entries dropped, then ordered-covering compression.

    With ``--chips auto`` a router that still overflows moves the network to the
    next larger machine (placed, keyed and routed again there).
    """

    name: ClassVar[str] = "compress"

    def run(self, state: CompileState) -> CompileState:
        work = _work(state, self.name)
        while True:
            start = time.perf_counter()
            try:
                loaded, reports = fit_tables(work.tables, work.machine.routing_table_entries)
                return state.evolve(work=work.after("compress", start, loaded=loaded, reports=reports))
            except CompileError as exc:  # --chips auto: a router overflowed; a larger machine spreads the routes
                later = work.machines[work.machines.index(work.machine) + 1:]
                if not later or exc.parameter != "routing_table_entries":
                    raise
                work = _route(_keys(_place(work, later[0])))

    def summary(self, state: CompileState) -> str:
        w = state.work
        return f"{sum(len(t) for t in w.loaded.values())} entries loaded (router holds {w.machine.routing_table_entries})"


@dataclass(frozen=True)
class Rows:
    """Synaptic rows and master population tables per core; assembles the artefacts (and the Program's report)."""

    name: ClassVar[str] = "rows"

    def run(self, state: CompileState) -> CompileState:
        work = _work(state, self.name)
        start = time.perf_counter()
        rows = build_rows(work.net, work.vertices, work.keys, work.fmt)
        work = work.after("rows", start)
        start = time.perf_counter()
        machine, net = work.machine, work.net
        _check_memory(rows, work.vertices, machine)
        artefacts = _assemble(net, work.vertices, work.placements, work.keys, work.loaded, work.reports, rows, machine, work.fmt,
                              work.targets, extension_cores(work.vertices, work.extensions, work.keys.base, work.keys.mask))
        stages, _ = stage_report(work.extensions, work.vertices, net)
        artefacts = replace(artefacts, delay_stages=tuple(stages))
        work = work.after("assemble", start)
        artefacts.stage_seconds.update(work.seconds)
        compiled = SpiNNakerProgram(work.original, artefacts, getattr(state.target, "name", ""))
        if getattr(state.target, "family", None) != "spinnaker":  # an explicit machine without a target (tests)
            return state.evolve(work=work, artefacts={"spinnaker": compiled})
        return _program_state(state, work, compiled)

    def summary(self, state: CompileState) -> str:
        art = state.artefacts["spinnaker"].artefacts
        rows = sum(c.synapses.n_bytes for c in art.cores if c.synapses is not None)
        return f"{len(art.cores)} cores loaded, {rows} bytes of synaptic rows"


def _program_state(state: CompileState, work: SpiNNakerWork, compiled: SpiNNakerProgram) -> CompileState:
    """The state a SpiNNaker Program is made of: the machine chosen, the normalised graph, the report."""
    from ...ir.check import normalise
    from ..target import with_chips

    target, net, art = state.target, compiled.network, compiled.artefacts
    if _auto(target):  # the program's target names the machine chosen
        target = with_chips(target, art.machine.n_chips)
    source = normalise(state.graph).with_metadata(dt_s=net.dt_s)
    report = {"spinnaker": {
        "cores": len(art.cores), "chips": len({c.location[:2] for c in art.cores}),
        "machine": [art.machine.width, art.machine.height], "machine_chips": art.machine.n_chips,
        "machine_label": art.machine.describe(),
        "routing_entries": {f"{r.chip[0]},{r.chip[1]}": [r.entries, r.without_defaults, r.loaded, r.method]
                            for r in art.table_reports},
        "synaptic_bytes": {str(c.location): c.synapses.n_bytes for c in art.cores if c.synapses is not None},
        "notes": list(net.notes), "stage_seconds": dict(art.stage_seconds),
    }}
    report["delays"] = _delay_report(state.graph, net.dt_s, target, art)
    return state.evolve(work=work, family="spinnaker", target=target, dt_s=net.dt_s, graph=source, notes=report,
                        artefacts={"spinnaker": compiled})


def spinnaker_passes(machine: SpiNNakerMachine | None = None) -> tuple[Any, ...]:
    """The SpiNNaker family's pipeline (``compiler/api.py``'s ``PIPELINES["spinnaker"]``)."""
    return (QuantiseSpiNNaker(machine), Partition(), PlaceSpiNNaker(), Keys(), Route(), Compress(), Rows())


def compile_event_tables(graph: Graph, target: Any = None, dt_s: float | None = None, *,
                         machine: SpiNNakerMachine | None = None) -> SpiNNakerProgram:
    """Compile ``graph`` for a SpiNNaker target (or an explicit ``machine``) into the event tables.

    With ``[limits] chips = "auto"`` (``--chips auto``) the machine is the
    smallest real one of the target's board layout whose cores hold the
    partitioned network and whose routers hold its tables.
    """
    state = CompileState(source=graph, graph=graph, target=target, dt_s=dt_s)
    state, _ = Pipeline("spinnaker", spinnaker_passes(machine)).run(state)
    return state.artefacts["spinnaker"]


def compile_spinnaker(graph: Graph, target: Any = None, dt_s: float | None = None, *,
                      machine: SpiNNakerMachine | None = None) -> Any:
    """A ``Program`` whose ``artefacts["spinnaker"]`` is the ``SpiNNakerProgram`` (saved inside the program)."""
    from ...ir.version import __version__
    from ..program import Program
    from ..target import load_target

    target = load_target(target if target is not None else "spinnaker1")
    state = CompileState(source=graph, graph=graph, target=target, dt_s=dt_s)
    state, log = Pipeline("spinnaker", spinnaker_passes(machine)).run(state)
    return Program(family="spinnaker", target=state.target, dt_s=state.dt_s, graph=state.graph, source=state.graph,
                   pass_log=log, report=dict(state.notes), artefacts=dict(state.artefacts), spikec_version=__version__)


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
