"""Placement: machine vertices onto the cores of a machine's chips.

The machine is a ``width x height`` grid holding the chips that exist (all of
them, or a real board's layout from ``spinnaker_boards``: the 48-chip SpiNN-5
board, triads of boards) joined by SpiNNaker's six links (E, NE, N, W, SW, S;
``routing_table.LINK_DELTAS``) between existing chips only, optionally with
wrap-around (a torus). Application cores are
numbered 1..cores_per_chip (core 0 is the monitor). Vertices are placed in
order, filling the chips nearest chip (0, 0) first, so that consecutive
layers sit close together and routes stay short.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Iterator

from ...ir.errors import CompileError
from .routing_table import LINK_DELTAS
from .partition import MachineVertex

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
    chip_set: tuple[Chip, ...] = ()  # the chips that exist; () means the whole grid
    label: str = ""  # what the machine is ("one SpiNN-5 board (48 chips)")

    def __post_init__(self) -> None:  # JSON gives lists: keep chips hashable
        object.__setattr__(self, "chip_set", tuple((int(x), int(y)) for x, y in self.chip_set))
        bad = [c for c in self.chip_set if not (0 <= c[0] < self.width and 0 <= c[1] < self.height)]
        if bad:
            raise CompileError(f"chip {bad[0]} lies outside the {self.width}x{self.height} machine", parameter="chip_set")

    @classmethod
    def from_target(cls, target: Any, chips: int | None = None, **overrides: Any) -> "SpiNNakerMachine":
        """The machine of ``chips`` chips (default ``[limits] chips``) in the layout of ``[numeric] board``
        (``spinnaker_boards``: real boards, or ``grid``); ``machine_width/height`` fix a grid's shape."""
        from .boards import grid_shape, machine_for_chips

        limits, numeric = target.limits, target.numeric
        n = limits.chips if chips is None else chips
        if not isinstance(n, int):
            raise CompileError(f"[limits] chips = {n!r} must be resolved to a number before building the machine",
                               parameter="chips", value=n)
        width = getattr(numeric, "machine_width", None)
        height = getattr(numeric, "machine_height", None)
        board = getattr(numeric, "board", "grid")
        if board == "grid" and chips is None and width is not None and height is not None:
            shape = replace(grid_shape(width * height), width=width, height=height, label=f"{width}x{height} grid")
        else:
            shape = machine_for_chips(n, board)
        values = dict(
            width=shape.width, height=shape.height, cores_per_chip=limits.cores_per_chip,
            neurons_per_core=limits.neurons_per_core,
            routing_table_entries=limits.routing_table_entries or 1023,
            wrap_around=shape.wrap_around or (board == "grid" and bool(getattr(numeric, "wrap_around", False))),
            synaptic_bytes_per_core=limits.synaptic_memory_bytes_per_core,
            chip_set=shape.chips, label=shape.label,
        )
        values.update(overrides)
        return cls(**values)

    @cached_property
    def chips(self) -> list[Chip]:
        if self.chip_set:
            return sorted(self.chip_set, key=lambda c: (c[1], c[0]))
        return [(x, y) for y in range(self.height) for x in range(self.width)]

    @cached_property
    def _present(self) -> frozenset[Chip] | None:
        return frozenset(self.chip_set) if self.chip_set else None

    @property
    def n_chips(self) -> int:
        return len(self.chip_set) if self.chip_set else self.width * self.height

    @property
    def n_cores(self) -> int:
        return self.n_chips * self.cores_per_chip

    def describe(self) -> str:
        name = self.label or f"{self.width}x{self.height} chips"
        return f"{name}, {self.n_chips} chip{'s' if self.n_chips != 1 else ''} x {self.cores_per_chip} cores = {self.n_cores} cores"

    def neighbour(self, chip: Chip, link: int) -> Chip | None:
        """The chip across ``link``: None at the edge of a machine without wrap-around, or where no chip exists."""
        dx, dy = LINK_DELTAS[link]
        x, y = chip[0] + dx, chip[1] + dy
        if self.wrap_around:
            x, y = x % self.width, y % self.height
        elif not (0 <= x < self.width and 0 <= y < self.height):
            return None
        present = self._present
        if present is not None and (x, y) not in present:
            return None
        return x, y


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
    available = machine.n_cores
    if len(vertices) > available:
        raise CompileError(
            f"the network needs {len(vertices)} cores ({len(vertices)} machine vertices); the machine has {available} "
            f"({machine.describe()}): compile with --chips auto (the smallest machine that fits) or more chips "
            "(--chips N, [limits] chips)",
            parameter="cores", value=len(vertices), limit=available)
    cores = _cores(machine)
    return Placements(tuple(next(cores) for _ in vertices))
