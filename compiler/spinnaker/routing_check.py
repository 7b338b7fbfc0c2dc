"""The routing-table equivalence checker (PACMAN's ``compare_tables`` contract).

Every key the original table routes must go to the same links and cores after
compression, and a key the compressed table leaves unmatched must have been
defaultable (default routing then does what the dropped entry did). Each
original entry's cube of keys (minus the cubes of earlier entries, when the
original is not orthogonal) is split by the compressed entries in order;
every piece must meet an entry with the same route, or be defaultable.
The common case, one compressed entry covering the whole cube, is vectorised.
"""
from __future__ import annotations

import numpy as np

from ...ir.errors import CompileError
from .routing_table import FULL_MASK, RoutingTable, intersect

Cube = tuple[int, int]  # (key, mask)


def _subtract(a: Cube, c: Cube) -> list[Cube]:
    """Cube a minus cube c, as disjoint cubes."""
    if not intersect(*a, *c):
        return [a]
    key, mask = a
    out = []
    for b in range(32):
        bit = 1 << b
        if c[1] & bit and not mask & bit:
            out.append(((key | (~c[0] & bit)) & FULL_MASK, mask | bit))
            key |= c[0] & bit
            mask |= bit
    return out


def _same_routing(o_route: int, c_route: int) -> bool:
    return o_route == c_route


def routing_differences(original: RoutingTable, compressed: RoutingTable, limit: int = 10) -> list[str]:
    """Keys routed differently by ``compressed`` than by ``original`` (empty if equivalent)."""
    problems: list[str] = []
    if not len(original):
        return problems
    ok, om, oroute = original.arrays()
    ck, cm, croute = compressed.arrays()
    orthogonal = original.is_orthogonal()
    for start in range(0, len(ok), 2048):
        sl = slice(start, start + 2048)
        k, m = ok[sl, None], om[sl, None]
        if len(ck):
            hit = ((k ^ ck[None, :]) & m & cm[None, :]) == 0
            covers = hit & ((cm[None, :] & ~m) == 0)
            has = hit.any(axis=1)
            first = hit.argmax(axis=1)
            full = covers[np.arange(hit.shape[0]), first] & has
        else:
            has = np.zeros(len(ok[sl]), dtype=bool)
            first = np.zeros(len(ok[sl]), dtype=np.int64)
            full = has
        for row in range(len(ok[sl])):
            i = start + row
            entry = original.entries[i]
            if orthogonal and full[row]:
                if not _same_routing(entry.route, int(croute[first[row]])):
                    problems.append(f"{entry}: compressed entry {compressed.entries[first[row]]} routes it differently")
            elif orthogonal and not has[row]:
                if not entry.defaultable:
                    problems.append(f"{entry}: no compressed entry matches it")
            else:
                problems.extend(_check_slowly(original, compressed, i, orthogonal))
            if len(problems) >= limit:
                return problems[:limit]
    return problems


def _check_slowly(original: RoutingTable, compressed: RoutingTable, i: int, orthogonal: bool) -> list[str]:
    entry = original.entries[i]
    pieces: list[Cube] = [(entry.key, entry.mask)]
    if not orthogonal:
        for earlier in original.entries[:i]:
            pieces = [p for piece in pieces for p in _subtract(piece, (earlier.key, earlier.mask))]
    problems: list[str] = []
    for c in compressed.entries:
        if not pieces:
            break
        rest: list[Cube] = []
        for piece in pieces:
            if intersect(*piece, c.key, c.mask):
                if not _same_routing(entry.route, c.route):
                    problems.append(f"{entry}: keys 0x{piece[0]:08X}/0x{piece[1]:08X} go to {c} instead")
                rest.extend(_subtract(piece, (c.key, c.mask)))
            else:
                rest.append(piece)
        pieces = rest
    if pieces and not entry.defaultable:
        problems.append(f"{entry}: keys 0x{pieces[0][0]:08X}/0x{pieces[0][1]:08X} match no compressed entry")
    return problems


def check_equivalent(original: RoutingTable, compressed: RoutingTable) -> None:
    """Raise ``CompileError`` naming the chip and the first keys routed differently."""
    problems = routing_differences(original, compressed)
    if problems:
        raise CompileError(
            f"chip {original.chip}: compressed routing table is not equivalent: " + "; ".join(problems[:3]),
            parameter="routing_table", value=len(problems),
        )


