"""The compiler's entry points: ``compile``, ``explain``, ``pipeline_for``, ``load_program``, ``load_target``.

``compile(graph, target)`` runs the target family's pass pipeline
(``PIPELINES``: Loihi, SpiNNaker and RRAM alike, one ``Pipeline`` of ``Pass``
objects each) and returns a Program. It neither runs nor compares anything:
the float-vs-fixed fidelity report (``spikec.verification.fidelity``) and
``run`` (the backend table in ``spikec.backends``) sit above the compiler, and
``spikec.compile`` / ``spikec.run`` (``spikec/api.py``) combine them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..ir.errors import CompileError
from ..ir.graph import Graph
from .discretise import Discretise
from .loihi.feasibility import Feasibility
from .pipeline import CompileState, Pipeline
from .loihi.delay_relays import SplitLoihiDelays
from .loihi.populations import SplitPopulations
from .li_chains import CommuteUniformLIs
from .lower_maxpool import LowerMaxPools
from .loihi.place import PlaceLoihi
from .quantise_delays import QuantiseDelays
from .program import Program, load_program
from .loihi.quantise import QuantiseLoihi
from .rram.compile import rram_passes
from .spinnaker.compile import spinnaker_passes
from .target import Target, load_target, with_chips
from .validate import Normalise

#: family -> the passes of its pipeline
PIPELINES: dict[str, Callable[[], tuple[Any, ...]]] = {
    "loihi": lambda: (LowerMaxPools(), CommuteUniformLIs(), Normalise(), Discretise(), Feasibility(), QuantiseDelays(), QuantiseLoihi(), SplitPopulations(), SplitLoihiDelays(), PlaceLoihi()),
    "spinnaker": lambda: (LowerMaxPools(), CommuteUniformLIs(), *spinnaker_passes()),
    "rram": lambda: (LowerMaxPools(), *rram_passes()),
}
#: ``chips = "auto"`` on a Loihi target without ``[limits] max_chips``: the machine placement may use (Loihi 1's 16,384)
AUTO_MAX_CHIPS = 16384


def pipeline_for(target: str | os.PathLike | Target) -> Pipeline:
    """The pass pipeline of the target's family."""
    t = load_target(target)
    if t.family not in PIPELINES:
        raise CompileError(f"target '{t.name}': no pass pipeline for the {t.family} family yet (have: {', '.join(PIPELINES)})")
    return Pipeline(t.family, PIPELINES[t.family]())


def explain(target: str | os.PathLike | Target) -> str:
    """The pipeline ``compile`` would run for ``target``, one line per pass."""
    t = load_target(target)
    return f"target {t.name}: {t.description}\n" + pipeline_for(t).explain()


def _as_graph(graph: Graph | str | os.PathLike) -> Graph:
    if isinstance(graph, Graph):
        return graph
    from ..ir.nir_io import load_nir

    return load_nir(graph)


def compile(
    graph: Graph | str | os.PathLike,
    target: str | os.PathLike | Target,
    *,
    dt_s: float | None = None,
    dump_after: str | None = None,
    chips: int | str | None = None,
    on_pass: Callable[[str, int, int], None] | None = None,
) -> Program:
    """Compile ``graph`` (a Graph or a ``.nir`` path) for ``target`` (a name, a TOML path or a Target).

    ``dump_after`` stops after that pass: the returned Program then holds the
    graph as it stood (``program.graph``; the float graph until lowering).
    ``chips`` (``--chips``) overrides ``[limits] chips``: a count, or ``"auto"``
    for the smallest machine that holds the network (the program's target then
    names the count chosen). ``on_pass(name, index, count)`` is called before each pass (``Pipeline.run``).
    """
    from ..ir.version import __version__

    t = with_chips(load_target(target), chips)
    source = _as_graph(graph)
    pipeline = pipeline_for(t)
    auto = t.family == "loihi" and t.limits.chips == "auto"  # SpiNNaker's partition pass picks its own machine
    if auto:  # place on the largest machine allowed, then keep the chips the placement used
        t = with_chips(t, t.limits.max_chips or AUTO_MAX_CHIPS)
    state = CompileState(source=source, graph=source, target=t, dt_s=dt_s)
    state, log = pipeline.run(state, stop_after=dump_after, on_pass=on_pass)
    lowered = state.lowered if state.lowered is not None else state.graph
    report = {k: v for k, v in state.notes.items()}
    t = state.target  # a pass may name the machine it chose (SpiNNaker's --chips auto)
    if auto and "place-loihi" in report:
        used = max(1, -(-report["place-loihi"]["cores"] // t.limits.cores_per_chip))
        t = with_chips(t, used)
        report["place-loihi"] = {**report["place-loihi"], "cores_available": used * t.limits.cores_per_chip}
    program = Program(
        family=state.family, target=t, dt_s=state.dt_s, graph=lowered, source=state.graph,
        pass_log=log, report=report, artefacts=dict(state.artefacts), spikec_version=__version__,
    )
    return program


__all__ = ["compile", "explain", "load_program", "load_target", "pipeline_for"]
