"""Real SpiNNaker machine shapes: which chips exist, from SpiNNMachine's board layouts.

SpiNNaker machines are built from boards, not from free grids
(SpiNNakerManchester/SpiNNMachine, ``spinn_machine/version/``):

* **SpiNNaker 1** (``board = "spinn5"``): a single chip (1x1); the SpiNN-3
  board, 4 chips in a 2x2 torus (``version_3.py``: ``FullWrapMachine(2, 2)``);
  the SpiNN-5 board, 48 chips on an 8x8 grid without its corners
  (``version_5.py`` ``CHIPS_PER_BOARD``: column x holds y = max(0, x - 4) ..
  min(7, x + 3)), no wrap-around; more boards in *triads* of three 48-chip
  boards at chips (0, 0), (4, 8) and (8, 4) of each 12x12 tile
  (``SpiNNakerTriadGeometry.get_spinn5_geometry``), allocated as spalloc does
  (``version_48_chips.size_from_n_boards``: ``ceil(boards / 3)`` triads in a
  near-square rectangle, machine ``12 w + 4`` by ``12 h + 4`` chips, no
  wrap-around).
* **SpiNNaker 2** (``board = "spin2"``): a single chip (``version_201.py``) or
  the 48-chip board (``version_248.py``: the same 48 coordinates; its core
  counts are marked "TODO get real values" upstream, so unverified), and
  triads of them as for SpiNNaker 1 (``Version248`` shares ``Version48Chips``).
* ``board = "grid"``: spikec's old abstract machine, a near-square grid of
  ``chips`` with every grid link (kept for synthetic tests and benchmarks).

Links exist only between chips that both exist: a route never leaves the board.
``machine_for_chips`` gives the smallest such machine with at least ``n`` chips;
``candidates`` lists them in increasing size for ``--chips auto``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

Chip = tuple[int, int]

BOARD_KINDS = ("grid", "spinn5", "spin2")
#: the 48 chips of a SpiNN-5 (and SpiNNaker2 48-chip) board, relative to its Ethernet chip
BOARD_48: tuple[Chip, ...] = tuple((x, y) for x in range(8) for y in range(max(0, x - 4), min(7, x + 3) + 1))
#: Ethernet (board) chips of one 12x12 triad (SpiNNakerTriadGeometry.get_spinn5_geometry roots)
TRIAD_ROOTS: tuple[Chip, ...] = ((0, 0), (4, 8), (8, 4))
TRIAD = 12


@dataclass(frozen=True)
class MachineShape:
    """A machine's grid, the chips that exist on it, wrap-around, and what it is called."""

    width: int
    height: int
    chips: tuple[Chip, ...]  # () means every chip of the grid
    wrap_around: bool
    label: str

    @property
    def n_chips(self) -> int:
        return len(self.chips) if self.chips else self.width * self.height


def grid_shape(n: int) -> MachineShape:
    width = math.ceil(math.sqrt(n))
    height = math.ceil(n / width)
    return MachineShape(width, height, (), False, f"{width}x{height} grid")


def boards_shape(n_boards: int, kind: str) -> MachineShape:
    """``n_boards`` 48-chip boards: one board, or whole triads as spalloc allocates them."""
    name = "SpiNN-5" if kind == "spinn5" else "SpiNNaker2 48-chip"
    if n_boards <= 1:
        return MachineShape(8, 8, tuple(sorted(BOARD_48, key=lambda c: (c[1], c[0]))), False, f"one {name} board (48 chips)")
    triads = math.ceil(n_boards / 3)
    tw = math.ceil(math.sqrt(triads))
    th = math.ceil(triads / tw)
    width, height = tw * TRIAD + 4, th * TRIAD + 4
    chips: set[Chip] = set()
    boards = 0
    for rx, ry in TRIAD_ROOTS:  # get_potential_ethernet_chips: x < width - 7, y < height - 7
        for ey in range(ry, height - 7, TRIAD):
            for ex in range(rx, width - 7, TRIAD):
                boards += 1
                chips.update((ex + dx, ey + dy) for dx, dy in BOARD_48)
    return MachineShape(width, height, tuple(sorted(chips, key=lambda c: (c[1], c[0]))), False,
                        f"{boards} {name} boards ({len(chips)} chips)")


def machine_for_chips(n: int, kind: str) -> MachineShape:
    """The smallest real machine of ``kind`` with at least ``n`` chips."""
    if n < 1:
        raise ValueError(f"a machine needs at least one chip, got {n}")
    if kind == "grid":
        return grid_shape(n)
    if n == 1:
        return MachineShape(1, 1, (), False, "one chip")
    if n <= 4 and kind == "spinn5":
        return MachineShape(2, 2, (), True, "one SpiNN-3 board (4 chips)")
    return boards_shape(math.ceil(n / 48), kind)


def chips_of(n: int, kind: str) -> int:
    """How many chips ``machine_for_chips(n, kind)`` has (without building it)."""
    if kind == "grid" or n == 1:
        return max(1, n) if kind == "grid" else 1
    if n <= 4 and kind == "spinn5":
        return 4
    boards = math.ceil(n / 48)
    if boards == 1:
        return 48
    triads = math.ceil(boards / 3)
    tw = math.ceil(math.sqrt(triads))
    return 144 * tw * math.ceil(triads / tw)


def candidates(kind: str, max_chips: int | None = None, min_chips: int = 1) -> Iterator[MachineShape]:
    """Real machines of ``kind`` with at least ``min_chips`` chips, in increasing size (for
    ``--chips auto``), up to ``max_chips`` chips."""
    limit = max_chips or (1 << 20)
    if kind == "grid":
        sizes = list(range(max(1, min_chips), limit + 1))
    else:
        sizes = ([1, 4, 48] if kind == "spinn5" else [1, 48]) + [144 * t for t in range(1, limit // 144 + 2)]
    seen = 0
    for n in sizes:
        count = chips_of(n, kind)
        if count <= seen or count < min_chips:
            continue
        if count > limit:
            return
        seen = count
        yield machine_for_chips(n, kind)
