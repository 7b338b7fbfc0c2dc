"""Pass: fix the time step, and check every time constant can be stepped at it.

The graph is continuous-time; a program runs in steps of ``dt_s``. This pass
picks dt (the caller's, else the graph's ``metadata["dt_s"]``, else the
target's ``default_dt_s``), records it in the graph's metadata, and lists
every neuron whose ``dt/tau`` makes forward Euler unstable (> 1: raise tau or
lower dt) as an error, and every delay that is not a whole number of steps as
a note (the Delay pass rounds it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..ir.errors import CompileError
from ..ir.nodes import Delay
from ..ir.check import TIME_CONSTANTS
from .pipeline import CompileState


def choose_dt(state: CompileState) -> float:
    """The caller's dt, else the graph's, else the target's default."""
    for dt in (state.dt_s, state.graph.metadata.get("dt_s"), state.target.default_dt_s):
        if dt is not None:
            if not (float(dt) > 0 and np.isfinite(dt)):
                raise CompileError(f"dt must be a positive number of seconds, got {dt!r}", parameter="dt_s", value=dt, limit="> 0")
            return float(dt)
    raise CompileError("no time step: pass dt_s (the graph and the target state none)", parameter="dt_s")


@dataclass(frozen=True)
class Discretise:
    """Fix dt and check dt/tau of every neuron (forward Euler needs dt/tau <= 1)."""

    name: ClassVar[str] = "discretise"

    def run(self, state: CompileState) -> CompileState:
        dt = choose_dt(state)
        problems: list[str] = []
        notes: dict[str, Any] = {"dt_s": dt, "delays_rounded": []}
        for name, node in state.graph.items():
            for field_name in TIME_CONSTANTS:
                tau = getattr(node, field_name, None)
                if tau is not None and (dt / tau > 1).any():
                    problems.append(
                        f"node '{name}': {field_name} {float(tau.min()):.3g} s is shorter than dt {dt:.3g} s "
                        f"(dt/tau = {dt / float(tau.min()):.3g} > 1, Euler diverges): lower dt or raise {field_name}"
                    )
            if isinstance(node, Delay):
                steps = node.delay / dt
                if not np.allclose(steps, np.rint(steps)):
                    notes["delays_rounded"].append(name)
        if problems:
            raise CompileError(f"{len(problems)} time constants cannot be stepped at dt: " + "; ".join(problems), parameter="dt_s", value=dt)
        return state.evolve(dt_s=dt, graph=state.graph.with_metadata(dt_s=dt), notes={self.name: notes})
