"""``spikec.compile`` for RRAM targets: a Program whose artefact is the crossbar map.

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

import time
from typing import Any

from ...ir.check import normalise
from ...ir.graph import Graph
from ...ir.nodes import Delay
from ..pipeline import PassRecord
from ..program import Program
from ..quantise_delays import check_graph_delays, delay_limits, delay_report, delay_steps, with_stages
from .config import RramConfig
from .lower import lower_to_crossbars
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


def compile_rram_program(graph: Graph, target: Target, dt_s: float | None = None) -> Program:
    """Map ``graph`` onto ``target``'s arrays; dt from the argument, the graph's metadata or the target."""
    from ...ir.version import __version__

    start = time.perf_counter()
    source = normalise(graph)
    dt = dt_s if dt_s is not None else source.metadata.get("dt_s", target.default_dt_s)
    limits = delay_limits(target)
    check_graph_delays(source, dt, limits)  # the digital delay buffer's depth
    mapping = lower_to_crossbars(source, RramConfig.from_target(target), dt, limits.row_max if limits.stage_span else None)
    seconds = time.perf_counter() - start
    log = (PassRecord("map-to-crossbars", seconds,
                      f"{len(mapping.crossbars.layers)} layers on {mapping.crossbars.n_arrays} arrays "
                      f"({100 * mapping.report.utilisation:.1f} % of cells)"),)
    return Program(
        family="rram", target=target, dt_s=dt, graph=mapping.graph, source=source, pass_log=log,
        report={"crossbars": report_dict(mapping), "delays": _delay_report(source, mapping.graph, dt, limits)}, artefacts={"crossbars": mapping.crossbars},
        spikec_version=__version__,
    )
