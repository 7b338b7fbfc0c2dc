"""The backends, in one explicit table: name -> the backend's ``run(program, inputs, record=())``.

Each entry imports its own package only when first used (Lava's launcher, the
RRAM simulator and the SpiNNaker event machine cost nothing until asked for).
A backend reads only the Program; no backend imports another, and the
compiler never imports a backend (``scripts/import_graph.py`` checks both).
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ..compiler.program import Program, load_program
from ..ir.errors import CompileError

Runner = Callable[..., dict[str, np.ndarray]]


def _reference() -> Runner:
    from .reference import run

    return run


def _lava() -> Runner:
    from .lava import run

    return run


def _spinnaker() -> Runner:
    from .spinnaker import run

    return run


def _rram() -> Runner:
    from .rram import run

    return run


#: backend name -> a loader of its ``run`` (the only place backends are named)
BACKENDS: dict[str, Callable[[], Runner]] = {
    "reference": _reference,
    "lava": _lava,
    "spinnaker": _spinnaker,
    "rram": _rram,
}


def runner(backend: str) -> Runner:
    """The ``run`` callable of ``backend``; a CompileError names the known ones or why it cannot load."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise CompileError(f"unknown backend '{backend}' (have: {', '.join(BACKENDS)})", value=backend)
    try:
        return BACKENDS[backend]()
    except ImportError as exc:
        raise CompileError(f"backend '{backend}' is not available here: {exc}") from exc


def run(program: Program | str | os.PathLike, inputs: Any, *, backend: str = "reference", record: tuple[str, ...] | str = ()) -> dict[str, np.ndarray]:
    """Run a Program (or a saved program's path) on ``backend``.

    Inputs are time-first, ``[T, *shape]`` or ``[T, B, *shape]``; outputs come
    back in the same layout, keyed by output node name, plus ``"<node>.<var>"``
    traces for ``record=("v", "u", "s")``. Loihi outputs are in chip time:
    population L lags the float model by ``program.graph.nodes[L].latency_steps`` steps.
    """
    if isinstance(program, (str, os.PathLike)):
        program = load_program(program)
    if isinstance(record, str):
        record = tuple(r for r in record.split(",") if r)
    return runner(backend)(program, inputs, record=tuple(record))


__all__ = ["BACKENDS", "run", "runner"]
