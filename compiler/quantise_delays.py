"""Delay quantisation: seconds to whole steps, the timing error it costs, and chained stages.

Every target counts delays in steps of ``dt``. The rule is the IR's
(``docs/semantics.md`` section 6): ``steps = rint(delay / dt)``, round half to
even, so the float reference, every compiler and every report agree on the
step a spike lands in. A delay of 16.4 steps becomes 16, 16.5 becomes 16 and
17.5 becomes 18; the timing error is ``|steps - delay/dt|`` <= 0.5 step.

Hardware holds a delay in a few bits of a synapse (Loihi's DelayDense 0..63,
a SpiNNaker row's delay field). A longer delay is *split into chained stages*:
each stage re-sends the spike a fixed ``stage_span`` steps later (a Loihi relay
population, a SpiNNaker delay-extension stage) and the synapse itself keeps
the rest. ``split_delay`` gives the fewest stages for a limit; a delay beyond
the longest chain the target allows fails the compile with the node and the
figure (never dropped, never clipped).

``delay_report`` is the per-layer report stored in ``program.report["delays"]``
(``spikec inspect PROGRAM`` prints it with ``format_delay_report``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..ir.errors import CompileError
from ..ir.graph import Graph
from ..ir.nodes import Delay, DelayLinear
from .target import shown_path

ROUNDING = "round half to even (numpy.rint of delay / dt)"
#: Loihi: relay populations allowed per synapse chain (each adds a population per source)
LOIHI_MAX_RELAY_STAGES = 15
#: RRAM: depth of the digital side's delay buffer, in steps (per element, any layer)
RRAM_DELAY_BUFFER_STEPS = 4096


@dataclass(frozen=True)
class DelayLimits:
    """How one target holds a delay of ``d`` steps: ``d = stages * stage_span + rest``.

    ``rest`` must lie in ``row_min .. row_max`` (what one synapse holds);
    ``stages`` chained stages each add ``stage_span`` steps; at most
    ``max_total`` steps in all (``stage_kind`` names the mechanism in reports).
    """

    row_max: int
    stage_span: int
    max_total: int
    row_min: int = 0
    stage_kind: str = "none"
    source: str = ""  # where the figure that bounds the chain comes from ("[limits] max_delay_stages = 32 in ...")

    @property
    def max_stages(self) -> int:
        return stages_needed(self.max_total, self)


def delay_limits(target: Any) -> DelayLimits:
    """What ``target`` holds per synapse and in chained stages (``docs/semantics.md`` section 6).

    Loihi: DelayDense's 0..``max_delay_steps`` plus up to ``LOIHI_MAX_RELAY_STAGES``
    (or ``[limits] max_delay_stages``) relay populations of ``row_max + 1`` steps
    each. SpiNNaker: a row's delay field, 1..``row_max`` ticks, plus up to
    ``[limits] max_delay_stages`` delay-extension stages of ``row_max`` ticks
    (or, without that key, up to ``max_delay_steps`` in all). RRAM: no synaptic
    delay field; a digital delay buffer holds ``max_delay_steps`` (default
    ``RRAM_DELAY_BUFFER_STEPS``) and ``[limits] max_delay_stages`` more buffers
    may be chained behind it. ``source`` names the figure that bounds the chain.
    """
    family = target.family
    where = f" in {shown_path(target.source_path)}" if getattr(target, "source_path", "") else ""
    stages = target.limits.max_delay_stages
    if family == "loihi":
        row_max = target.limits.max_delay_steps
        if row_max is None:
            row_max = (1 << target.numeric.delay_bits) - 1
        span = row_max + 1
        n = LOIHI_MAX_RELAY_STAGES if stages is None else stages
        figure = f"[limits] max_delay_stages = {n}{where}" if stages is not None else f"LOIHI_MAX_RELAY_STAGES = {n} (compiler/quantise_delays.py)"
        return DelayLimits(row_max, span, row_max + n * span, 0, "relay population", figure)
    if family == "spinnaker":
        from .spinnaker.rows import SynapticWordFormat

        row_max = SynapticWordFormat.for_core(target.limits.neurons_per_core, getattr(target.numeric, "ring_buffer_bits", 14)).max_delay
        if stages is not None:
            return DelayLimits(row_max, row_max, row_max * (1 + stages), 1, "delay extension",
                               f"[limits] max_delay_stages = {stages}{where}")
        total = target.limits.max_delay_steps
        return DelayLimits(row_max, row_max, max(row_max, total if total is not None else row_max), 1, "delay extension",
                           f"[limits] max_delay_steps = {total}{where}" if total is not None else "the synaptic row's delay field")
    buffer = target.limits.max_delay_steps if target.limits.max_delay_steps is not None else RRAM_DELAY_BUFFER_STEPS
    depth = f"[limits] max_delay_steps = {buffer}{where}" if target.limits.max_delay_steps is not None else f"RRAM_DELAY_BUFFER_STEPS = {buffer}"
    if stages:
        return DelayLimits(buffer, buffer, buffer * (1 + stages), 0, "chained delay buffer",
                           f"{depth} per buffer, [limits] max_delay_stages = {stages}{where}")
    return DelayLimits(buffer, 0, buffer, 0, "none (digital delay buffer)", depth)


def stages_needed(total: int, limits: DelayLimits) -> int:
    """The fewest stages that leave at most ``row_max`` steps to the synapse (0 if it fits)."""
    if total <= limits.row_max:
        return 0
    if limits.stage_span <= 0:
        raise CompileError(f"a delay of {total} steps exceeds the {limits.row_max} a synapse holds and the target has no delay stages",
                           parameter="delay", value=int(total), limit=limits.row_max)
    return -(-(int(total) - limits.row_max) // limits.stage_span)


def split_delay(total: int, limits: DelayLimits) -> tuple[int, int]:
    """``(stages, rest)`` with ``stages * stage_span + rest == total`` and ``stages`` minimal.

    Minimal because ``rest <= row_max`` forces ``stages >= (total - row_max) / stage_span``.
    """
    stages = stages_needed(total, limits)
    rest = int(total) - stages * limits.stage_span
    if rest < limits.row_min:
        raise CompileError(f"a delay of {total} steps leaves {rest} for the synapse (min {limits.row_min})",
                           parameter="delay", value=int(total), limit=limits.row_min)
    return stages, rest


def split_delays(totals: np.ndarray, limits: DelayLimits) -> tuple[np.ndarray, np.ndarray]:
    """``split_delay`` over an array: (stages, rest), int64, same shape."""
    totals = np.asarray(totals, dtype=np.int64)
    over = np.maximum(totals - limits.row_max, 0)
    stages = -(-over // limits.stage_span) if limits.stage_span > 0 else np.zeros_like(over)
    if limits.stage_span <= 0 and over.any():
        stages_needed(int(totals.max()), limits)  # raises with the figure
    return stages, totals - stages * limits.stage_span


def check_representable(node: str, totals: np.ndarray, limits: DelayLimits, what: str = "synaptic delay") -> None:
    """Fail the compile, naming the node and the figure, for a delay the target cannot hold."""
    worst = int(np.max(totals, initial=0))
    if worst > limits.max_total:
        chain = f"{limits.row_max} in a synapse" + (f" plus {limits.max_stages} {limits.stage_kind} stages of {limits.stage_span}"
                                                   if limits.stage_span > 0 else "")
        figure = f"; bound by {limits.source}" if limits.source else ""
        raise CompileError(f"{what} of {worst} steps exceeds the target's longest delay, {limits.max_total} steps ({chain}{figure})",
                           node=node, parameter="delay", value=worst, limit=limits.max_total)
    if int(np.min(totals, initial=0)) < 0:
        raise CompileError("a negative delay cannot be represented", node=node, parameter="delay",
                           value=int(np.min(totals)), limit=0)


def delay_steps(delay_s: np.ndarray, dt_s: float) -> np.ndarray:
    """``rint(delay / dt)`` as int64 (round half to even), the rule every family uses."""
    steps = np.asarray(delay_s, dtype=np.float64) / dt_s
    if not np.all(np.isfinite(steps)):
        raise CompileError("a delay must be a finite number of seconds", parameter="delay", value=str(steps[~np.isfinite(steps)][:1]))
    return np.rint(steps).astype(np.int64)


def layer_error(delay_s: np.ndarray, dt_s: float, present: np.ndarray | None = None) -> dict[str, Any]:
    """Timing error of one layer's delays (synapses where ``present``): max and mean, steps and seconds,
    and how many synapses share each quantised delay (the groups a target builds; keys are
    step counts as strings, as JSON stores them)."""
    exact = np.asarray(delay_s, dtype=np.float64) / dt_s
    if present is not None:
        exact = exact[np.asarray(present, bool)]
    exact = exact.reshape(-1)
    if not np.all(np.isfinite(exact)):
        raise CompileError("a delay must be a finite number of seconds", parameter="delay")
    steps = np.rint(exact).astype(np.int64)
    err = np.abs(steps - exact)
    groups = {str(int(k)): int(c) for k, c in zip(*np.unique(steps, return_counts=True))}
    return {
        "synapses": int(exact.size), "max_steps": int(steps.max(initial=0)),
        "max_error_steps": float(err.max(initial=0.0)), "mean_error_steps": float(err.mean()) if err.size else 0.0,
        "max_error_s": float(err.max(initial=0.0) * dt_s), "mean_error_s": float(err.mean() * dt_s) if err.size else 0.0,
        "groups": groups,
    }


def delay_report(graph: Graph, dt_s: float) -> dict[str, Any]:
    """Per Delay/DelayLinear node of the float graph, the timing error of quantising it at ``dt_s``."""
    layers: dict[str, Any] = {}
    for name, node in graph.items():
        if isinstance(node, DelayLinear):
            layers[name] = {"kind": node.kind} | layer_error(np.broadcast_to(node.delay, node.weight.shape), dt_s, node.weight != 0)
        elif isinstance(node, Delay):
            layers[name] = {"kind": node.kind} | layer_error(node.delay, dt_s)
    return {"dt_s": float(dt_s), "rounding": ROUNDING, "layers": layers, "stages": [], "cost": {}}


def check_graph_delays(graph: Graph, dt_s: float, limits: DelayLimits) -> None:
    """Every Delay/DelayLinear node's own delay fits ``limits`` (chains of nodes are checked per family)."""
    for name, node in graph.items():
        if isinstance(node, DelayLinear):
            check_representable(name, delay_steps(np.broadcast_to(node.delay, node.weight.shape)[node.weight != 0], dt_s), limits)
        elif isinstance(node, Delay):
            check_representable(name, delay_steps(node.delay, dt_s), limits)


def with_stages(report: dict[str, Any], limits: DelayLimits, stages: list[dict[str, Any]], cost: dict[str, int]) -> dict[str, Any]:
    """The report with the target's limits, its stages (one record per chain) and their total cost."""
    return {**report, "limits": {"row_max": limits.row_max, "stage_span": limits.stage_span, "max_total": limits.max_total,
                                 "stage_kind": limits.stage_kind, "source": limits.source},
            "stages": stages, "cost": cost}


def format_delay_report(report: dict[str, Any]) -> str:
    """The lines ``spikec inspect`` and ``spikec compile --report`` print."""
    lines = [f"delays at dt {report['dt_s']:.6g} s, {report['rounding']}:"]
    if not report["layers"]:
        lines.append("  (no Delay or DelayLinear nodes)")
    for name, r in report["layers"].items():
        lines.append(f"  {name:<16} {r['kind']:<11} {r['synapses']:>6} synapses, max {r['max_steps']} steps, "
                     f"error max {r['max_error_steps']:.3f} / mean {r['mean_error_steps']:.3f} steps "
                     f"({r['max_error_s']:.3g} / {r['mean_error_s']:.3g} s), {len(r['groups'])} delay groups")
    limits = report.get("limits")
    if limits:
        lines.append(f"  target: {limits['row_max']} steps per synapse, {limits['stage_kind']} stages of "
                     f"{limits['stage_span']} steps, at most {limits['max_total']} steps")
    for s in report.get("stages", []):
        lines.append(f"  stage chain {s['source']}: {s['stages']} stages, cost " +
                     ", ".join(f"{v} {k}" for k, v in s["cost"].items()))
    if report.get("cost"):
        lines.append("  total stage cost: " + ", ".join(f"{v} {k}" for k, v in report["cost"].items()))
    return "\n".join(lines)


@dataclass(frozen=True)
class QuantiseDelays:
    """Round every delay to whole steps (half to even), report the timing error, reject what no chain holds."""

    name: ClassVar[str] = "quantise-delays"

    def run(self, state: Any) -> Any:
        limits = delay_limits(state.target)
        check_graph_delays(state.graph, state.dt_s, limits)
        return state.evolve(notes={"delays": with_stages(delay_report(state.graph, state.dt_s), limits, [], {})})
