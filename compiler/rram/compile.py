"""The RRAM pipeline (map, quantise, pack as ``Pass`` objects): a Program whose artefact is the crossbar map.

``map-crossbars`` checks the delays against the digital delay buffer and
rewrites what an array cannot hold (``DelayLinear`` taps, chained buffers);
``quantise-crossbars`` turns every weight matrix into quantised conductance
tiles; ``pack-crossbars`` places the tiles on arrays and makes the Program.

The Program's ``graph`` is the normalised graph with every mapped weight
replaced by what its tiles represent (``crossbar_map.quantised_graph``); its
numeric family is ``rram``, whose digital format is the float reference's
(``docs/semantics.md`` section 5), so ``spikec.run(program, x,
backend="reference")`` runs the float executor on that graph: the ideal chip.
``artefacts["crossbars"]`` is the ``CrossbarMap`` (tiles, levels, scales,
placement) the RRAM backend reads; the device and periphery figures come from
``program.target``. ``report["crossbars"]`` holds the utilisation report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from ...ir.check import normalise
from ...ir.graph import Graph
from ...ir.nodes import Delay
from ..pipeline import CompileState, Pipeline
from ..program import Program
from ..quantise_delays import check_graph_delays, delay_limits, delay_report, delay_steps, with_stages
from .config import RramConfig
from .crossbar_map import LayerMapping
from .lower import expand_delays, pack_layers, quantise_layers
from ..target import Target


def report_dict(mapping: Any) -> dict[str, Any]:
    """The utilisation report as plain data (for the manifest and ``spikec inspect``)."""
    r = mapping.report
    return {
        "arrays": r.n_arrays, "arrays_without_packing": r.n_arrays_unpacked, "cells_used": r.cells_used,
        "cells_total": r.cells_total, "utilisation": r.utilisation, "per_array": list(r.per_array),
        "per_layer": {k: dict(v) for k, v in r.per_layer.items()}, "text": r.to_text(),
    }


def _delay_report(source: Graph, lowered: Graph, dt_s: float | None, limits: Any) -> dict[str, Any]:
    """The timing error of every delay, and the digital delay buffers' cost (entries = (steps + 1) x elements),
    one record per Delay node or per DelayLinear (its tapped delay line; ``stages`` = taps)."""
    if dt_s is None:
        return {}
    per_node: dict[str, dict[str, int]] = {}
    for name, node in lowered.items():
        if isinstance(node, Delay):
            owner = name.rsplit(".delay", 1)[0].rsplit(".buffer", 1)[0] if name not in source.nodes else name
            entry = per_node.setdefault(owner, {"taps": 0, "entries": 0, "buffers": 0})
            if ".buffer" in name:
                entry["buffers"] += 1  # a chained buffer of a long delay: a stage, not a tap
            else:
                entry["taps"] += 1
            entry["entries"] += int((delay_steps(node.delay, dt_s).max(initial=0) + 1) * node.delay.size)
    buffers = [{"source": k, "stages": v["buffers"], "cost": {"taps": v["taps"], "buffer_entries": v["entries"]}} for k, v in per_node.items()]
    cost = {"buffer_entries": sum(b["cost"]["buffer_entries"] for b in buffers)} if buffers else {}
    return with_stages(delay_report(source, dt_s), limits, buffers, cost)


@dataclass(frozen=True, eq=False)
class RramWork:
    """What the RRAM passes hand each other (``CompileState.work``)."""

    config: RramConfig
    limits: Any  # the target's DelayLimits
    layers: Mapping[str, LayerMapping] = field(default_factory=dict)
    errors: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def _work(state: CompileState, pass_name: str) -> RramWork:
    return state.work_of(RramWork, pass_name, MapCrossbars.name)


@dataclass(frozen=True)
class MapCrossbars:
    """Delays checked against the digital delay buffer; DelayLinear as buffer taps, long delays as chained buffers."""

    name: ClassVar[str] = "map-crossbars"

    def run(self, state: CompileState) -> CompileState:
        target = state.target
        source = normalise(state.graph)
        dt = state.dt_s if state.dt_s is not None else source.metadata.get("dt_s", target.default_dt_s)
        limits = delay_limits(target)
        check_graph_delays(source, dt, limits)  # the digital delay buffer's depth
        config = RramConfig.from_target(target)
        lowered = expand_delays(source, dt, limits.row_max if limits.stage_span else None, normalised=True)
        return state.evolve(graph=source, dt_s=dt, lowered=lowered, work=RramWork(config, limits))


@dataclass(frozen=True)
class QuantiseCrossbars:
    """Each weight matrix as tiles of signed conductance levels (one weight step per tile), with its quantisation error."""

    name: ClassVar[str] = "quantise-crossbars"

    def run(self, state: CompileState) -> CompileState:
        work = _work(state, self.name)
        layers, errors = quantise_layers(state.lowered, work.config)
        return state.evolve(work=RramWork(work.config, work.limits, layers, errors))

    def summary(self, state: CompileState) -> str:
        layers = state.work.layers
        return f"{len(layers)} layers in {sum(len(m.tiles) for m in layers.values())} tiles"


@dataclass(frozen=True)
class PackCrossbars:
    """Tiles placed on arrays (block-diagonal packing); the graph holds the weights the tiles represent."""

    name: ClassVar[str] = "pack-crossbars"

    def run(self, state: CompileState) -> CompileState:
        work = _work(state, self.name)
        mapping = pack_layers(state.lowered, dict(work.layers), dict(work.errors), work.config)
        report = {"crossbars": report_dict(mapping), "delays": _delay_report(state.graph, mapping.graph, state.dt_s, work.limits)}
        return state.evolve(family="rram", lowered=mapping.graph, notes=report, artefacts={"crossbars": mapping.crossbars})

    def summary(self, state: CompileState) -> str:
        crossbars = state.artefacts["crossbars"]
        return (f"{len(crossbars.layers)} layers on {crossbars.n_arrays} arrays "
                f"({100 * state.notes['crossbars']['utilisation']:.1f} % of cells)")


def rram_passes() -> tuple[Any, ...]:
    """The RRAM family's pipeline (``compiler/api.py``'s ``PIPELINES["rram"]``)."""
    return (MapCrossbars(), QuantiseCrossbars(), PackCrossbars())


def compile_rram_program(graph: Graph, target: Target, dt_s: float | None = None) -> Program:
    """Map ``graph`` onto ``target``'s arrays; dt from the argument, the graph's metadata or the target."""
    from ...ir.version import __version__

    state = CompileState(source=graph, graph=graph, target=target, dt_s=dt_s)
    state, log = Pipeline("rram", rram_passes()).run(state)
    return Program(family="rram", target=target, dt_s=state.dt_s, graph=state.lowered, source=state.graph, pass_log=log,
                   report=dict(state.notes), artefacts=dict(state.artefacts), spikec_version=__version__)
