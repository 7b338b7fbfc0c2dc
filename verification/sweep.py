"""Random-network sweeps: many generated graphs, every target, native backend vs reference.

Each graph comes from ``random_graph(seed, spec)``, so a failure is replayed
from its seed alone. A target that cannot compile a graph (a ``CompileError``
or ``GraphError`` naming what it lacks) is counted as *unsupported*, apart from
a *mismatch* (the backend disagrees with the reference) and a *crash* (any
other exception: always a bug). Failures are shrunk to a small graph that
still fails, and saved as ``.nir`` beside a one-line reproducer.
"""
from __future__ import annotations

import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..ir.errors import SpikecError
from ..ir.graph import Graph
from .fidelity import compile as compile_graph
from .execution import Executor, SerialExecutor
from .random_graphs import random_graph, random_input, reproducer
from .randgraph_spec import GraphSpec
from .verify import verify_target


@dataclass(frozen=True)
class SweepFailure:
    seed: int
    target: str
    kind: str  # "mismatch" or "crash"
    detail: str
    reproducer: str
    shrunk_nodes: int | None = None
    saved: str | None = None


@dataclass
class TargetTally:
    graphs: int = 0
    agreed: int = 0
    mismatched: int = 0
    crashed: int = 0
    unsupported: Counter = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass(frozen=True)
class SweepReport:
    tallies: dict[str, TargetTally]
    failures: tuple[SweepFailure, ...]
    first_seed: int
    count: int

    @property
    def ok(self) -> bool:
        return not self.failures


def check_graph(graph: Graph, x: Any, target: str) -> tuple[str, str]:
    """``(outcome, detail)``: outcome is agreed, mismatch, unsupported or crash."""
    try:
        program = compile_graph(graph, target, fidelity_steps=0)
    except SpikecError as exc:
        return "unsupported", _reason(str(exc))
    except Exception as exc:  # a crash in the compiler is a bug, not a limitation
        return "crash", f"compile: {type(exc).__name__}: {exc}"
    try:
        result = verify_target(program, x)
    except Exception as exc:
        return "crash", f"run: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
    if result.mismatches:
        where = result.diverging_node or result.first_mismatch
        return "mismatch", f"{result.mismatches} mismatches; first divergence at {where}"
    return "agreed", ""


def _reason(message: str) -> str:
    """A compile error without node names, so that tallies group alike reasons."""
    text = message.split(": ", 1)[-1] if message.startswith("node '") else message
    return text[:90]


def _shrink(graph: Graph, x_seed: int, target: str, kind: str) -> Graph:
    from .shrink import shrink

    def still_fails(candidate: Graph) -> bool:
        return check_graph(candidate, random_input(candidate, x_seed, batch=1), target)[0] == kind

    return shrink(graph, still_fails, max_steps=200)


def check_seed_on_target(shared: tuple[GraphSpec, int, bool], item: tuple[int, str]) -> tuple[str, str, float, bytes | None]:
    """One work item of a sweep: ``(outcome, detail, seconds, shrunk graph as bytes or None)``.

    ``shared`` is ``(spec, batch, shrink_failures)``, ``item`` is ``(seed, target)``:
    the graph and its input are regenerated from the seed, so the item is a few bytes.
    """
    from ..compiler.program import graph_to_bytes

    spec, batch, shrink_failures = shared
    seed, target = item
    graph = random_graph(seed, spec)
    x = random_input(graph, seed, batch=batch)
    start = time.perf_counter()
    outcome, detail = check_graph(graph, x, target)
    seconds = time.perf_counter() - start
    shrunk = None
    if outcome in ("mismatch", "crash") and shrink_failures:
        shrunk = graph_to_bytes(_shrink(graph, seed, target, outcome))
    return outcome, detail, seconds, shrunk


def sweep(
    count: int,
    targets: Sequence[str],
    *,
    spec: GraphSpec | None = None,
    first_seed: int = 0,
    batch: int = 2,
    shrink_failures: bool = True,
    save_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    executor: Executor | None = None,
) -> SweepReport:
    """Verify ``count`` random graphs (seeds ``first_seed ...``) on every target.

    One work item per (seed, target) on ``executor`` (default: serial, in this
    process); the report is assembled in item order, so it is the same however
    the items ran (``docs/execution.md``). Only ``seconds`` is a measurement.
    """
    spec = spec or GraphSpec.small()
    executor = executor or SerialExecutor()
    items = [(seed, target) for seed in range(first_seed, first_seed + count) for target in targets]
    results: dict[int, tuple[str, str, float, bytes | None]] = {}
    for index, result in executor.stream(check_seed_on_target, items, (spec, batch, shrink_failures)):
        results[index] = result
        if progress:
            (seed, target), (outcome, detail) = items[index], result[:2]
            if outcome in ("mismatch", "crash"):
                progress(f"seed {seed} on {target}: {outcome}: {detail.splitlines()[0]}")
            if len(results) % (10 * len(targets)) == 0:
                progress(f"{len(results) // len(targets)}/{count} graphs")
    tallies = {t: TargetTally() for t in targets}
    failures = [f for index, item in enumerate(items) if (f := _tally(tallies, item, results[index], spec, save_dir))]
    return SweepReport(tallies, tuple(failures), first_seed, count)


def _tally(tallies: dict[str, TargetTally], item: tuple[int, str], result: tuple[str, str, float, bytes | None],
           spec: GraphSpec, save_dir: str | Path | None) -> SweepFailure | None:
    """Count one item's outcome; a failure (with its shrunk graph saved) is returned."""
    from ..ir.nir_io import write_nir as save_nir
    from ..compiler.program import graph_from_bytes

    (seed, target), (outcome, detail, seconds, shrunk) = item, result
    tally = tallies[target]
    tally.seconds += seconds
    tally.graphs += 1
    if outcome == "agreed":
        tally.agreed += 1
        return None
    if outcome == "unsupported":
        tally.unsupported[detail] += 1
        return None
    if outcome == "mismatch":
        tally.mismatched += 1
    else:
        tally.crashed += 1
    graph = None if shrunk is None else graph_from_bytes(shrunk)
    saved = None
    if graph is not None and save_dir is not None:
        path = Path(save_dir) / f"seed{seed}-{target}.nir"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_nir(graph, path)
        saved = str(path)
    return SweepFailure(seed, target, outcome, detail, reproducer(seed, spec), None if graph is None else len(graph.nodes), saved)


def format_sweep(report: SweepReport) -> str:
    rows = [("target", "graphs", "agreed", "mismatched", "crashed", "unsupported", "seconds")]
    for target, t in report.tallies.items():
        rows.append((target, str(t.graphs), str(t.agreed), str(t.mismatched), str(t.crashed),
                     str(sum(t.unsupported.values())), f"{t.seconds:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    for target, t in report.tallies.items():
        for reason, n in t.unsupported.most_common(5):
            lines.append(f"  {target}: {n} unsupported: {reason}")
    for f in report.failures:
        lines.append(f"FAIL seed {f.seed} on {f.target} ({f.kind}): {f.detail.splitlines()[0]}")
        lines.append(f"  replay: {f.reproducer}")
        if f.shrunk_nodes is not None:
            lines.append(f"  shrunk to {f.shrunk_nodes} nodes" + (f", saved as {f.saved}" if f.saved else ""))
    lines.append(f"{'ALL AGREE' if report.ok else 'FAILURES'}: seeds {report.first_seed}..{report.first_seed + report.count - 1}")
    return "\n".join(lines)
