"""SpiNNaker multicast routing tables and the router's lookup rule.

A SpiNNaker router is an ordered TCAM: a packet with a 32-bit ``key`` matches
an entry when ``key & mask == entry.key``; the *first* matching entry wins and
its ``route`` word says where copies go (bits 0-5 the six links E, NE, N, W,
SW, S; bit ``6 + p`` processor ``p``). A packet that matches nothing takes
*default routing*: it leaves on the link opposite the one it came in on (a
packet injected by a local core with no match is dropped, an error for us).

An entry is ``defaultable`` when it only does what default routing would do
(one link in, the opposite link out); compressors may drop such entries as
long as nothing they leave in the table captures those keys instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ...ir.errors import CompileError

KEY_BITS = 32
FULL_MASK = 0xFFFFFFFF
N_LINKS = 6
LINK_NAMES = ("E", "NE", "N", "W", "SW", "S")
#: Chip-coordinate step of each link, in SpiNNaker's hexagonal mesh.
LINK_DELTAS: tuple[tuple[int, int], ...] = ((1, 0), (1, 1), (0, 1), (-1, 0), (-1, -1), (0, -1))
NO_ROUTE = -1  # lookup result for "no entry matched: default routing"


def opposite_link(link: int) -> int:
    """The link a packet arriving on ``link`` leaves by under default routing."""
    return (link + 3) % N_LINKS


def link_bit(link: int) -> int:
    return 1 << link


def core_bit(core: int) -> int:
    return 1 << (N_LINKS + core)


def route_links(route: int) -> tuple[int, ...]:
    return tuple(l for l in range(N_LINKS) if route >> l & 1)


def route_cores(route: int) -> tuple[int, ...]:
    cores = route >> N_LINKS
    return tuple(c for c in range(cores.bit_length()) if cores >> c & 1)


def generality(key: int, mask: int) -> int:
    """Number of don't-care bits (X) of a key/mask pair."""
    return (~key & ~mask & FULL_MASK).bit_count()


def intersect(key_a: int, mask_a: int, key_b: int, mask_b: int) -> bool:
    """True if some 32-bit key matches both entries."""
    return (key_a ^ key_b) & mask_a & mask_b == 0


@dataclass(frozen=True)
class RoutingEntry:
    """One TCAM line: ``key`` and ``mask`` (32-bit), ``route`` word, defaultable flag."""

    key: int
    mask: int
    route: int
    defaultable: bool = False

    def __post_init__(self) -> None:
        if not (0 <= self.key <= FULL_MASK and 0 <= self.mask <= FULL_MASK):
            raise CompileError(f"routing key/mask 0x{self.key:x}/0x{self.mask:x} do not fit 32 bits")
        if self.key & ~self.mask:
            # Such an entry can never match in hardware (key & mask != key).
            raise CompileError(
                f"routing key 0x{self.key:08x} has bits outside its mask 0x{self.mask:08x}",
                parameter="key", value=self.key,
            )
        if self.route < 0:
            raise CompileError(f"route word must be non-negative, got {self.route}")

    def matches(self, key: int) -> bool:
        return key & self.mask == self.key

    def __str__(self) -> str:
        links = ",".join(LINK_NAMES[l] for l in route_links(self.route))
        cores = ",".join(str(c) for c in route_cores(self.route))
        flag = " (defaultable)" if self.defaultable else ""
        return f"0x{self.key:08X} 0x{self.mask:08X} -> links[{links}] cores[{cores}]{flag}"


@dataclass(frozen=True, eq=False)
class RoutingTable:
    """An ordered table of one chip's router; ``entries[0]`` is matched first."""

    entries: tuple[RoutingEntry, ...]
    chip: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RoutingTable) and self.entries == other.entries and self.chip == other.chip

    def __hash__(self) -> int:
        return hash((self.entries, self.chip))

    @classmethod
    def from_arrays(
        cls, keys: Sequence[int], masks: Sequence[int], routes: Sequence[int],
        defaultable: Sequence[bool] | None = None, chip: tuple[int, int] = (0, 0),
    ) -> "RoutingTable":
        flags = [False] * len(keys) if defaultable is None else defaultable
        return cls(tuple(
            RoutingEntry(int(k), int(m), int(r), bool(d)) for k, m, r, d in zip(keys, masks, routes, flags)
        ), chip)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """keys, masks (uint32) and routes (int64) as numpy arrays."""
        keys = np.fromiter((e.key for e in self.entries), dtype=np.uint32, count=len(self.entries))
        masks = np.fromiter((e.mask for e in self.entries), dtype=np.uint32, count=len(self.entries))
        routes = np.fromiter((e.route for e in self.entries), dtype=np.int64, count=len(self.entries))
        return keys, masks, routes

    def lookup(self, key: int) -> int:
        """Route word of the first matching entry, or ``NO_ROUTE`` (default routing)."""
        for entry in self.entries:
            if key & entry.mask == entry.key:
                return entry.route
        return NO_ROUTE

    def lookup_many(self, keys: Iterable[int] | np.ndarray) -> np.ndarray:
        """Vectorised ``lookup``: int64 route words, ``NO_ROUTE`` where nothing matches."""
        k = np.asarray(keys, dtype=np.uint32)
        out = np.full(k.shape, NO_ROUTE, dtype=np.int64)
        if not self.entries or k.size == 0:
            return out
        tk, tm, tr = self.arrays()
        pending = np.ones(k.shape, dtype=bool)
        for chunk in range(0, len(tk), 256):
            sl = slice(chunk, chunk + 256)
            hit = (k[:, None] & tm[None, sl]) == tk[None, sl]  # (n_keys, chunk)
            hit &= pending[:, None]
            any_hit = hit.any(axis=1)
            first = hit.argmax(axis=1)
            out[any_hit] = tr[sl][first[any_hit]]
            pending &= ~any_hit
            if not pending.any():
                break
        return out

    def is_orthogonal(self) -> bool:
        """True if no key matches two entries (so the order does not matter)."""
        keys, masks, _ = self.arrays()
        distinct = np.unique(masks)
        for i, m1 in enumerate(distinct):
            for m2 in distinct[i:]:
                m = m1 & m2
                a = keys[masks == m1] & m
                b = keys[masks == m2] & m
                if m1 == m2:
                    if len(np.unique(a)) != len(a):
                        return False
                elif np.intersect1d(a, b).size:
                    return False
        return True
