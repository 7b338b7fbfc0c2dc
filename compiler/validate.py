"""Pass: validate and normalise the float graph (``ir.check``), so later passes may assume it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..ir.check import normalise
from .pipeline import CompileState


@dataclass(frozen=True)
class Normalise:
    """Validate the graph and broadcast its parameters to layer shapes."""

    name: ClassVar[str] = "normalise"

    def run(self, state: CompileState) -> CompileState:
        return state.evolve(graph=normalise(state.graph))
