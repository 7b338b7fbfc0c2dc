"""The pass pipeline: named passes over one frozen compile state.

A pass is a frozen dataclass with a ``name`` and ``run(state) -> state``; it
never edits its argument. The pipeline runs passes in order, logs each (name,
seconds, one-line summary), can describe itself (``explain``), stops after a
named pass to let the caller dump the state, and on failure says which pass
failed after which others, keeping the error's node, parameter and limit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Mapping, Protocol

from ..ir.errors import CompileError, ConfigError, SpikecError
from ..ir.graph import Graph
from .target import Target


@dataclass(frozen=True, eq=False)
class CompileState:
    """What passes read and produce: the float graph, the target, dt, the lowered graph, per-pass notes.

    ``work`` holds a family's intermediate products between its passes (the
    SpiNNaker network, vertices, placements, tables; the RRAM tiles): passes
    read and replace it, and it is not part of the Program.
    """

    source: Graph
    graph: Graph
    target: Target
    dt_s: float | None
    lowered: Graph | None = None
    notes: Mapping[str, Any] = field(default_factory=dict)
    artefacts: Mapping[str, Any] = field(default_factory=dict)
    family: str = "float"
    work: Any = None

    def evolve(self, *, notes: Mapping[str, Any] | None = None, artefacts: Mapping[str, Any] | None = None, **changes: Any) -> "CompileState":
        """A copy with ``changes``; ``notes`` and ``artefacts`` are added to (not replacing) the existing ones."""
        return replace(self, notes={**self.notes, **(notes or {})}, artefacts={**self.artefacts, **(artefacts or {})}, **changes)

    def work_of(self, kind: type, needed_by: str, made_by: str) -> Any:
        """``work`` when it is a ``kind`` (what pass ``made_by`` leaves); else a CompileError naming both passes."""
        if not isinstance(self.work, kind):
            raise CompileError(f"pass '{needed_by}' needs what '{made_by}' makes ({kind.__name__}): run '{made_by}' first")
        return self.work

    @property
    def current(self) -> Graph:
        """The graph the next pass works on: the lowered one once there is one."""
        return self.lowered if self.lowered is not None else self.graph


class Pass(Protocol):
    """A frozen dataclass with a ``name``; ``summary(state)`` (optional) gives its pass-log line."""

    name: ClassVar[str]

    def run(self, state: CompileState) -> CompileState: ...


@dataclass(frozen=True)
class PassRecord:
    """One line of the pass log."""

    name: str
    seconds: float
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": self.seconds, "summary": self.summary}


def _summary(state: CompileState) -> str:
    g = state.current
    return f"{len(g.nodes)} nodes, {len(g.edges)} edges" + (" (lowered)" if state.lowered is not None else "")


@dataclass(frozen=True)
class Pipeline:
    """An ordered tuple of passes for one target family."""

    family: str
    passes: tuple[Any, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.passes)

    def explain(self) -> str:
        """One line per pass: its name and the first line of its docstring."""
        lines = [f"pipeline for the {self.family} family ({len(self.passes)} passes):"]
        for i, p in enumerate(self.passes, 1):
            doc = (type(p).__doc__ or "").strip().splitlines()
            lines.append(f"  {i}. {p.name:<18} {doc[0] if doc else ''}")
        return "\n".join(lines)

    def run(self, state: CompileState, *, stop_after: str | None = None,
            on_pass: Callable[[str, int, int], None] | None = None) -> tuple[CompileState, tuple[PassRecord, ...]]:
        """Run every pass (or up to and including ``stop_after``); returns the state and the log.

        ``on_pass(name, index, count)`` is called before each pass (index from 1): a
        progress display names the pass a long compile is in.
        """
        if stop_after is not None and stop_after not in self.names:
            raise ConfigError(f"no pass named '{stop_after}' (passes: {', '.join(self.names)})", value=stop_after)
        log: list[PassRecord] = []
        for i, p in enumerate(self.passes, 1):
            if on_pass is not None:
                on_pass(p.name, i, len(self.passes))
            start = time.perf_counter()
            try:
                state = p.run(state)
            except Exception as exc:
                done = ", ".join(r.name for r in log) or "none"
                message = f"pass '{p.name}' failed (after: {done}): {exc}"
                if isinstance(exc, SpikecError):
                    error = type(exc)(message, parameter=exc.parameter, value=exc.value, limit=exc.limit)
                    error.node = exc.node
                    raise error from exc
                raise CompileError(f"{message} ({type(exc).__name__})") from exc
            summary = p.summary(state) if hasattr(p, "summary") else _summary(state)
            log.append(PassRecord(p.name, round(time.perf_counter() - start, 6), summary))
            if p.name == stop_after:
                break
        return state, tuple(log)
