"""The RRAM backend: weights in analog crossbars, neurons in digital float.

``run(program, inputs, record=(), *, seed=0, t_s=1.0)`` has the reference
executor's contract (time-first arrays keyed by Output node, ``[T, *shape]``
or ``[T, B, *shape]``; ``record=("v", "i")`` adds ``"<node>.<var>"`` traces).
``program`` is an ``RramMapping`` (``compiler/rram/lower.py``) or a compiled
Program of family ``rram`` (``compiler/rram/compile.py``: its
``artefacts["crossbars"]`` and its target's figures); the simulator reads
only tiles, levels, scales and figures, never the original weights.
``docs/rram.md`` explains the model; ``docs/semantics.md`` section 5 the arithmetic.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...compiler.rram.config import RramConfig
from ...compiler.rram.lower import RramMapping, lower_to_crossbars
from ...compiler.target import load_target
from ...ir.graph import Graph
from .monte_carlo import drift_table, format_table, monte_carlo, parse_duration_s
from .simulator import mapping_of, simulate_rram

name = "rram"

__all__ = ["compile_rram", "drift_table", "format_table", "mapping_of", "monte_carlo", "parse_duration_s", "run", "simulate_rram"]


def compile_rram(graph: Graph, target: Any = "rram-512") -> RramMapping:
    """Lower ``graph`` for an RRAM target (a name in ``hw_configs/``, a path, a ``Target`` or an ``RramConfig``)."""
    config = target if isinstance(target, RramConfig) else RramConfig.from_target(load_target(target))
    return lower_to_crossbars(graph, config)


def run(
    program: Any,
    inputs: Any,
    record: tuple[str, ...] = (),
    *,
    seed: int = 0,
    t_s: float | str = 1.0,
    dt_s: float | None = None,
    ideal: bool = False,
    compensate_drift: bool = False,
) -> dict[str, np.ndarray]:
    """Simulate the chip ``t_s`` after programming (``"1h"`` etc. accepted); ``ideal`` turns every non-ideality off."""
    mapping = mapping_of(program)
    dt_s = dt_s if dt_s is not None else getattr(program, "dt_s", None)
    config = mapping.config.ideal() if ideal else None
    return simulate_rram(mapping, inputs, dt_s=dt_s, record=record, seed=seed, t_s=parse_duration_s(t_s),
                         config=config, compensate_drift=compensate_drift)
