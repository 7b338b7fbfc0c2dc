"""Placement: machine vertices onto the cores of a grid of chips.

The machine is a ``width x height`` grid of chips joined by SpiNNaker's six
links (E, NE, N, W, SW, S; ``routing_table.LINK_DELTAS``), optionally with
wrap-around (a torus, as on multi-board machines). Application cores are
numbered 1..cores_per_chip (core 0 is the monitor). Vertices are placed in
order, filling the chips nearest chip (0, 0) first, so that consecutive
layers sit close together and routes stay short.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

from ..ir.errors import CompileError
from .routing_table import LINK_DELTAS
from .spinnaker_partition import MachineVertex

Chip = tuple[int, int]
Location = tuple[int, int, int]  # (x, y, core)


@dataclass(frozen=True)
class SpiNNakerMachine:
    """The machine's shape and per-chip resources (from the target config)."""

    width: int
    height: int
    cores_per_chip: int
    neurons_per_core: int
    routing_table_entries: int
    wrap_around: bool = False
    synaptic_bytes_per_core: int | None = None

    @classmethod
    def from_target(cls, target: Any, **overrides: Any) -> "SpiNNakerMachine":
        """Shape from ``[numeric] machine_width/height`` when given, else a near-square grid of ``chips``."""
        limits, numeric = target.limits, target.numeric
        width = getattr(numeric, "machine_width", None)
        height = getattr(numeric, "machine_height", None)
        if width is None or height is None:
            width = math.ceil(math.sqrt(limits.chips))
            height = math.ceil(limits.chips / width)
        values = dict(
            width=width, height=height, cores_per_chip=limits.cores_per_chip,
            neurons_per_core=limits.neurons_per_core,
            routing_table_entries=limits.routing_table_entries or 1023,
            wrap_around=bool(getattr(numeric, "wrap_around", False)),
            synaptic_bytes_per_core=limits.synaptic_memory_bytes_per_core,
        )
        values.update(overrides)
        return cls(**values)

    @property
    def chips(self) -> list[Chip]:
        return [(x, y) for y in range(self.height) for x in range(self.width)]

    def neighbour(self, chip: Chip, link: int) -> Chip | None:
        """The chip across ``link``, or None at the edge of a machine without wrap-around."""
        dx, dy = LINK_DELTAS[link]
        x, y = chip[0] + dx, chip[1] + dy
        if self.wrap_around:
            return x % self.width, y % self.height
        if 0 <= x < self.width and 0 <= y < self.height:
            return x, y
        return None


def hex_distance(a: Chip, b: Chip) -> int:
    """Hops between chips on SpiNNaker's mesh without wrap-around (NE/SW move both coordinates)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    return max(abs(dx), abs(dy)) if dx * dy >= 0 else abs(dx) + abs(dy)


def _cores(machine: SpiNNakerMachine) -> Iterator[Location]:
    for chip in sorted(machine.chips, key=lambda c: (hex_distance((0, 0), c), c[1], c[0])):
        for core in range(1, machine.cores_per_chip + 1):
            yield chip[0], chip[1], core


@dataclass(frozen=True)
class Placements:
    """Where every vertex runs: ``locations[vertex.index] = (x, y, core)``."""

    locations: tuple[Location, ...]

    def chip_of(self, vertex_index: int) -> Chip:
        x, y, _ = self.locations[vertex_index]
        return x, y

    @property
    def chips_used(self) -> list[Chip]:
        return sorted({(x, y) for x, y, _ in self.locations})


def place(vertices: tuple[MachineVertex, ...], machine: SpiNNakerMachine) -> Placements:
    """One core per vertex, nearest chips first; fails when the machine has too few cores."""
    available = machine.width * machine.height * machine.cores_per_chip
    if len(vertices) > available:
        raise CompileError(
            f"{len(vertices)} machine vertices need {len(vertices)} cores; the machine has {available} "
            f"({machine.width}x{machine.height} chips x {machine.cores_per_chip} cores)",
            parameter="cores", value=len(vertices), limit=available)
    cores = _cores(machine)
    return Placements(tuple(next(cores) for _ in vertices))
