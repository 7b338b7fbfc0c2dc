"""Routing-table compression and the checker that proves it safe.

The compressors follow PACMAN (SpiNNakerManchester/PACMAN,
``pacman/operations/router_compressors/``), re-written here on plain tuples and
numpy arrays:

* ``remove_defaultable``: drop entries default routing does anyway, when no
  later entry would then capture their keys.
* ``range_compress``: sort an orthogonal table by key and cover each run of
  equal routes with the fewest aligned power-of-two blocks that do not touch
  the neighbours (PACMAN's ``RangeCompressor``).
* ``pair_compress``: routes in order of increasing frequency; inside a route,
  repeatedly merge two entries when the merged key/mask captures no key of a
  later (more frequent) route; the result is ordered (PACMAN's
  ``PairCompressor``, ordered variant).
* ``ordered_covering``: Mundy's ordered covering (PACMAN's copy of rig's):
  table sorted by generality, best merge by goodness refined by the up- and
  down-checks, aliases remembered.

``blockers`` are key/mask cubes a compressed table must leave unmatched (the
keys of defaultable entries removed beforehand, which must keep defaulting).

The checker that proves a compression safe is ``routing_check`` (re-exported
here as ``check_equivalent`` and ``routing_differences``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .routing_check import check_equivalent, routing_differences  # noqa: F401  (re-exported)
from .routing_table import FULL_MASK, RoutingEntry, RoutingTable, generality, intersect

Cube = tuple[int, int]  # (key, mask)
_DEFAULT_ROUTE = -1  # sentinel route of blockers inside the range compressor


def _np_intersects(key: int, mask: int, keys: np.ndarray, masks: np.ndarray) -> np.ndarray:
    return ((keys ^ np.uint32(key)) & masks & np.uint32(mask)) == 0


def _merge_cube(a: Cube, b: Cube) -> Cube:
    """The smallest key/mask covering both: differing key bits become X."""
    mask = a[1] & b[1] & ~(a[0] ^ b[0]) & FULL_MASK
    return a[0] & mask, mask


# --- default routes -----------------------------------------------------------


def remove_defaultable(entries: Sequence[RoutingEntry]) -> tuple[list[RoutingEntry], list[Cube]]:
    """Drop defaultable entries no later entry intersects; returns (kept, removed cubes)."""
    if not entries:
        return [], []
    keys = np.array([e.key for e in entries], dtype=np.uint32)
    masks = np.array([e.mask for e in entries], dtype=np.uint32)
    kept: list[RoutingEntry] = []
    removed: list[Cube] = []
    for i, e in enumerate(entries):
        if e.defaultable and not _np_intersects(e.key, e.mask, keys[i + 1 :], masks[i + 1 :]).any():
            removed.append((e.key, e.mask))
        else:
            kept.append(e)
    return kept, removed


# --- range compressor ---------------------------------------------------------


def range_compress(entries: Sequence[RoutingEntry], blockers: Sequence[Cube] = ()) -> list[RoutingEntry]:
    """Cover runs of equal routes (in key order) by aligned power-of-two blocks.

    Needs an orthogonal table (no two entries overlapping, blockers included);
    returns ``entries`` unchanged otherwise, as PACMAN does. The result is
    orthogonal again, so any order is correct.
    """
    items = [(e.key, e.mask, e.route, e.defaultable) for e in entries]
    items += [(k, m, _DEFAULT_ROUTE, True) for k, m in blockers]
    if len(items) < 2:
        return list(entries)
    items.sort(key=lambda t: t[0])
    starts = [k for k, m, _, _ in items]
    ends = [(k | ~m) & FULL_MASK for k, m, _, _ in items]
    if any(ends[i] >= starts[i + 1] for i in range(len(items) - 1)):
        return list(entries)
    out: list[RoutingEntry] = []
    first = 0
    for i in range(1, len(items) + 1):
        if i == len(items) or items[i][2] != items[first][2]:
            if items[first][2] != _DEFAULT_ROUTE:
                out.extend(_cover_range(items, starts, ends, first, i - 1))
            first = i
    return out


def _cover_range(items, starts, ends, first: int, last: int) -> list[RoutingEntry]:
    """Aligned blocks covering items[first..last] without touching items outside."""
    route = items[first][2]
    out: list[RoutingEntry] = []
    lo_limit = ends[first - 1] + 1 if first > 0 else 0
    while first <= last:
        # Grow the block from starts[first]: the largest aligned power of two
        # that starts at or after lo_limit's neighbour and stays inside the run.
        hi_limit = starts[last + 1] if last + 1 < len(starts) else FULL_MASK + 1
        start = starts[first]
        best_size, best_base, best_last = 0, 0, first
        size = 1
        while size <= FULL_MASK + 1:
            base = start // size * size
            if base < lo_limit or base + size > hi_limit:
                break
            # Which items does [base, base+size) fully cover? It must not cut one.
            j = first
            while j <= last and ends[j] < base + size:
                j += 1
            if j <= last and starts[j] < base + size:  # cuts item j in two
                size <<= 1
                continue
            if j - 1 >= first and ends[j - 1] < base + size:
                best_size, best_base, best_last = size, base, j - 1
            size <<= 1
        if best_size == 0:  # cannot grow: keep the item as it is
            k, m, r, d = items[first]
            out.append(RoutingEntry(k, m, r, d))
            lo_limit = ends[first] + 1
            first += 1
            continue
        defaultable = all(items[j][3] for j in range(first, best_last + 1))
        mask = (FULL_MASK + 1 - best_size) & FULL_MASK
        out.append(RoutingEntry(best_base, mask, route, defaultable))
        lo_limit = best_base + best_size
        first = best_last + 1
    return out


# --- pair compressor ----------------------------------------------------------


def pair_compress(entries: Sequence[RoutingEntry], blockers: Sequence[Cube] = (), *,
                  partner: str = "first") -> list[RoutingEntry]:
    """PACMAN's ordered pair compressor; the returned table is ordered.

    Routes are processed from the least to the most frequent; a merge is
    accepted when its cube meets no entry of a later route and no blocker
    (earlier routes sit above it in the table and keep their keys).
    ``partner="first"`` merges with the first acceptable partner (PACMAN);
    ``"most-specific"`` with the partner giving the smallest merged cube
    (spikec's variant: one entry fewer on PACMAN's table1).
    """
    merge_bucket = _pair_bucket if partner == "first" else _pair_bucket_specific
    counts: dict[int, int] = {}
    for e in entries:
        counts[e.route] = counts.get(e.route, 0) + 1
    order = sorted(counts, key=lambda r: (counts[r], r))
    buckets: dict[int, list[tuple[int, int, bool]]] = {r: [] for r in order}
    for e in entries:
        buckets[e.route].append((e.key, e.mask, e.defaultable))
    # later[i]: keys/masks of every route after order[i], plus blockers
    tail_k = [k for k, _ in blockers]
    tail_m = [m for _, m in blockers]
    later: list[tuple[np.ndarray, np.ndarray]] = []
    for r in reversed(order):
        later.append((np.array(tail_k, dtype=np.uint32), np.array(tail_m, dtype=np.uint32)))
        tail_k += [k for k, _, _ in buckets[r]]
        tail_m += [m for _, m, _ in buckets[r]]
    later.reverse()
    out: list[RoutingEntry] = []
    for route, (rk, rm) in zip(order, later):
        out.extend(RoutingEntry(k, m, route, d) for k, m, d in merge_bucket(buckets[route], rk, rm))
    return out


def _pair_bucket(work: list[tuple[int, int, bool]], rk: np.ndarray, rm: np.ndarray) -> list[tuple[int, int, bool]]:
    work = list(work)
    done: list[tuple[int, int, bool]] = []
    while work:
        left = work.pop(0)
        j = 0
        while j < len(work):
            k, m = _merge_cube(left[:2], work[j][:2])
            if not _np_intersects(k, m, rk, rm).any():
                left = (k, m, left[2] and work[j][2])
                work.pop(j)
                j = 0
                continue
            j += 1
        done.append(left)
    return done


def _pair_bucket_specific(work: list[tuple[int, int, bool]], rk: np.ndarray, rm: np.ndarray) -> list[tuple[int, int, bool]]:
    work = list(work)
    done: list[tuple[int, int, bool]] = []
    while work:
        left = work.pop(0)
        while work:
            keys = np.array([w[0] for w in work], dtype=np.uint32)
            masks = np.array([w[1] for w in work], dtype=np.uint32)
            merged_masks = np.uint32(left[1]) & masks & ~(np.uint32(left[0]) ^ keys)
            merged_keys = np.uint32(left[0]) & merged_masks
            found = None
            for j in np.argsort(-np.bitwise_count(merged_masks).astype(np.int64), kind="stable").tolist():
                if not _np_intersects(int(merged_keys[j]), int(merged_masks[j]), rk, rm).any():
                    found = j
                    break
            if found is None:
                break
            left = (int(merged_keys[found]), int(merged_masks[found]), left[2] and work[found][2])
            work.pop(found)
        done.append(left)
    return done


# --- ordered covering ---------------------------------------------------------


@dataclass
class _Merge:
    """A candidate merge of ``members`` (indices into ``table``); built by ``_new_merge``."""

    table: list[tuple[int, int, int, bool]]
    members: frozenset[int]
    key: int = 0
    mask: int = FULL_MASK
    generality: int = 0
    insertion: int = 0

    @property
    def goodness(self) -> int:
        return len(self.members) - 1


def ordered_covering(
    entries: Sequence[RoutingEntry], target_length: int | None = None, blockers: Sequence[Cube] = (),
) -> list[RoutingEntry]:
    """Mundy's ordered covering: returns an ordered table, most specific first.

    Input must be orthogonal. Stops when no merge helps or at ``target_length``.
    """
    table = sorted(((e.key, e.mask, e.route, e.defaultable) for e in entries), key=lambda t: generality(t[0], t[1]))
    aliases: dict[Cube, frozenset[Cube]] = {}
    bk = np.array([k for k, _ in blockers], dtype=np.uint32)
    bm = np.array([m for _, m in blockers], dtype=np.uint32)
    while target_length is None or len(table) > target_length:
        keys = np.array([t[0] for t in table], dtype=np.uint32)
        masks = np.array([t[1] for t in table], dtype=np.uint32)
        gens = np.array([generality(t[0], t[1]) for t in table], dtype=np.int64)
        best: _Merge | None = None
        groups: dict[int, list[int]] = {}
        for i, t in enumerate(table):
            groups.setdefault(t[2], []).append(i)
        for members in groups.values():
            if len(members) < 2 or len(members) - 1 <= (best.goodness if best else 0):
                continue
            merge = _refine(_new_merge(table, gens, frozenset(members)), table, keys, masks, gens, aliases, bk, bm,
                            best.goodness if best else 0)
            if merge is not None and merge.goodness > (best.goodness if best else 0):
                best = merge
        if best is None:
            break
        table = _apply(best, table, aliases)
    return [RoutingEntry(k, m, r, d) for k, m, r, d in table]


def _new_merge(table, gens: np.ndarray, members: frozenset[int]) -> _Merge:
    any_ones, all_ones, all_sel = 0, FULL_MASK, FULL_MASK
    for i in members:
        k, m = table[i][0], table[i][1]
        any_ones |= k
        all_ones &= k
        all_sel &= m
    merge = _Merge(table, members)
    merge.mask = all_sel & ~(any_ones ^ all_ones) & FULL_MASK
    merge.key = all_ones & merge.mask
    merge.generality = generality(merge.key, merge.mask)
    # Inserted before the first entry at least as general (PACMAN's rule).
    merge.insertion = int(np.searchsorted(gens, merge.generality, side="left"))
    return merge


def _refine(merge, table, keys, masks, gens, aliases, bk, bm, min_goodness) -> _Merge | None:
    merge = _downcheck(merge, table, keys, masks, gens, aliases, bk, bm, min_goodness)
    if merge is None:
        return None
    merge, changed = _upcheck(merge, table, keys, masks, gens, min_goodness)
    if merge is not None and changed:
        merge = _downcheck(merge, table, keys, masks, gens, aliases, bk, bm, min_goodness)
    return merge


def _upcheck(merge, table, keys, masks, gens, min_goodness):
    """Drop members that entries between them and the insertion point would cover."""
    changed = False
    for i in sorted(merge.members, reverse=True):
        k, m = table[i][0], table[i][1]
        if _np_intersects(k, m, keys[i + 1 : merge.insertion], masks[i + 1 : merge.insertion]).any():
            merge = _new_merge(table, gens, merge.members - {i})
            changed = True
            if merge.goodness <= min_goodness:
                return None, changed
    return merge, changed


def _covered(merge, table, keys, masks, aliases, bk, bm) -> list[Cube]:
    below = np.nonzero(_np_intersects(merge.key, merge.mask, keys[merge.insertion :], masks[merge.insertion :]))[0]
    out: list[Cube] = []
    for j in below + merge.insertion:
        km = (table[j][0], table[j][1])
        out.extend(c for c in aliases.get(km, (km,)) if intersect(merge.key, merge.mask, *c))
    if len(bk):
        out.extend((int(k), int(m)) for k, m in zip(bk[_np_intersects(merge.key, merge.mask, bk, bm)],
                                                    bm[_np_intersects(merge.key, merge.mask, bk, bm)]))
    return out


def _downcheck(merge, table, keys, masks, gens, aliases, bk, bm, min_goodness) -> _Merge | None:
    """Shrink the merge until its cube covers no entry (or alias) below it."""
    while merge.goodness > min_goodness:
        covered = _covered(merge, table, keys, masks, aliases, bk, bm)
        if not covered:
            return merge
        stringency = 33
        options: set[tuple[int, bool]] = set()
        for k, m in covered:
            settable = m & ~merge.mask & FULL_MASK
            n = settable.bit_count()
            if n < stringency:
                stringency, options = n, set()
            if n == stringency:
                options.update((1 << b, not (k >> b & 1)) for b in range(32) if settable >> b & 1)
        if stringency == 0:
            return None
        remove: set[int] = set()
        for bit, val in sorted(options, reverse=True):
            working = {
                i for i in merge.members
                if not (table[i][1] & bit) or bool(table[i][0] & bit) is (not val)
            }
            if not remove or len(working) < len(remove):
                remove = working
        merge = _new_merge(table, gens, merge.members - remove)
    return None


def _apply(merge: _Merge, table, aliases) -> list:
    first = next(iter(merge.members))
    route = table[first][2]
    defaultable = all(table[i][3] for i in merge.members)
    new_entry = (merge.key, merge.mask, route, defaultable)
    ours: set[Cube] = set()
    out = []
    for i, t in enumerate(table):
        if i == merge.insertion:
            out.append(new_entry)
        if i in merge.members:
            km = (t[0], t[1])
            ours.update(aliases.pop(km, {km}))
        else:
            out.append(t)
    if merge.insertion >= len(table):
        out.append(new_entry)
    aliases[(merge.key, merge.mask)] = frozenset(ours)
    return out


# --- the compressor the compiler uses ------------------------------------------


@dataclass(frozen=True)
class CompressionResult:
    """A compressed table, how it was made and what it cost."""

    table: RoutingTable
    method: str
    n_before: int
    seconds: float


def _strip_defaults(entries: list[RoutingEntry]) -> list[RoutingEntry]:
    return remove_defaultable(entries)[0]


def compress_table(table: RoutingTable, target_length: int | None = None, *,
                   ordered_covering_limit: int = 2000) -> CompressionResult:
    """The smallest of several equivalent compressions of ``table``.

    Candidates (each checked only by construction here; ``check_equivalent``
    proves the chosen one in tests and in the compile):
    defaults removed first, then range, then pair (blockers keep the removed
    keys defaulting); range, pair (first or most specific partner), then
    defaults removed; and, for tables of
    at most ``ordered_covering_limit`` entries after range compression,
    ordered covering with defaults removed afterwards.
    """
    t0 = time.perf_counter()
    entries = list(table.entries)
    if not table.is_orthogonal():  # only removing defaults is safe on an ordered table
        kept = _strip_defaults(entries)
        return CompressionResult(RoutingTable(tuple(kept), table.chip), "remove-defaults", len(table),
                                 time.perf_counter() - t0)
    candidates: list[tuple[str, list[RoutingEntry]]] = []
    kept, removed = remove_defaultable(entries)
    ranged_blocked = range_compress(kept, removed)
    candidates.append(("defaults+range+pair", pair_compress(ranged_blocked, removed)))
    ranged = range_compress(entries)
    candidates.append(("range+pair+defaults", _strip_defaults(pair_compress(ranged))))
    candidates.append(("range+pair(most-specific)+defaults",
                       _strip_defaults(pair_compress(ranged, partner="most-specific"))))
    if len(ranged) <= ordered_covering_limit:
        candidates.append(("range+ordered-covering+defaults",
                           _strip_defaults(ordered_covering(ranged, None))))
    if len(ranged_blocked) <= ordered_covering_limit:
        candidates.append(("defaults+range+ordered-covering",
                           ordered_covering(ranged_blocked, None, removed)))
    method, best = min(candidates, key=lambda c: len(c[1]))
    if len(best) >= len(table):
        method, best = "none", entries
    return CompressionResult(RoutingTable(tuple(best), table.chip), method, len(table), time.perf_counter() - t0)
