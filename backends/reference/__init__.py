"""The reference executors: the oracle for every numeric format.

``run(program, inputs, record=())`` runs a compiled Program in its own numeric
format, bit for bit (``EXECUTORS`` maps a format family to its executor; add
one line per family). ``simulate(graph, inputs, dt_s)`` is the float
reference for uncompiled graphs.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...ir.errors import CompileError
from .float_executor import simulate
from .loihi_executor import run_loihi
from .spinnaker_executor import run_program as _run_spinnaker

name = "reference"


def _run_loihi(program: Any, inputs: Any, record: tuple[str, ...]) -> dict[str, np.ndarray]:
    return run_loihi(program.graph, program.target.numeric, inputs, record)


def _run_float(program: Any, inputs: Any, record: tuple[str, ...]) -> dict[str, np.ndarray]:
    return simulate(program.graph, inputs, program.dt_s, record=record)


#: numeric format family -> executor(program, inputs, record)
EXECUTORS: dict[str, Callable[[Any, Any, tuple[str, ...]], dict[str, np.ndarray]]] = {
    "loihi": _run_loihi,
    "float": _run_float,
    "spinnaker": _run_spinnaker,
    "rram": _run_float,  # RRAM's digital format is float; the program's graph holds the quantised weights
}


def run(program: Any, inputs: Any, record: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Run ``program`` in its numeric format; outputs keyed by output node, time-first."""
    family = getattr(program, "family", None)
    executor = EXECUTORS.get(family)
    if executor is None:
        raise CompileError(f"the reference backend has no executor for numeric format {family!r} (known: {', '.join(EXECUTORS)})")
    return executor(program, inputs, tuple(record))


__all__ = ["EXECUTORS", "run", "simulate", "run_loihi"]
