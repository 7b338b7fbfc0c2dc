"""Routing tables: the router's lookup rule, the compressors and the equivalence checker.

Real tables from PACMAN's tests (``/work/shared/fixtures/pacman-tables``); PACMAN's own
results (from the fixture README) beside ours:

| table | original | PACMAN best | spikec (measured 2026-11-23) |
|---|---|---|---|
| table1 | 39,235 | range+pair 361 | range 736 (= PACMAN), range+pair 361, range+pair (most specific partner) 360, range+ordered covering 516 (PACMAN 638) |
| table2 | 39,520 | range+pair 172 | range 551 (= PACMAN), range+pair 171, range+ordered covering 351 (PACMAN 359) |
| many_to_one largest / total | 1,650 / 15,245 | pair 906 / 2,507 in 1.7 s | compress_table 905 / 2,053 in 3.3 s; pair 905 / 2,331 in 0.13 s |
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spikec.compiler.spinnaker import routing_compress as rc
from spikec.compiler.spinnaker.routing_table import NO_ROUTE, RoutingEntry, RoutingTable
from spikec.ir.errors import CompileError

FIXTURES = Path("/work/shared/fixtures/pacman-tables")
needs_fixtures = pytest.mark.skipif(not FIXTURES.exists(), reason="pacman-tables fixtures not present")


def load_csv(name: str) -> RoutingTable:
    with gzip.open(FIXTURES / f"{name}.csv.gz", "rt") as f:
        rows = [[int(x, 16) for x in line.split(",")] for line in f if line.strip()]
    return RoutingTable.from_arrays(*zip(*rows))


def load_many_to_one() -> list[RoutingTable]:
    with gzip.open(FIXTURES / "many_to_one.json.gz", "rt") as f:
        chips = json.load(f)
    return [
        RoutingTable(tuple(RoutingEntry(e["key"], e["mask"], e["spinnaker_route"], e["defaultable"])
                           for e in c["entries"]), (c["x"], c["y"]))
        for c in chips
    ]


def test_lookup_first_match_wins_and_unmatched_keys_default():
    table = RoutingTable((
        RoutingEntry(0b1010, 0b1111, 1 << 6),      # exact key 10 -> core 0
        RoutingEntry(0b1000, 0b1000, 1 << 2),      # any key with bit 3 -> link N
    ))
    assert table.lookup(0b1010) == 1 << 6
    assert table.lookup(0b1011) == 1 << 2
    assert table.lookup(0b0011) == NO_ROUTE
    keys = np.arange(32, dtype=np.uint32)
    expected = [table.lookup(int(k)) for k in keys]
    np.testing.assert_array_equal(table.lookup_many(keys), expected)


def test_entry_with_key_bits_outside_mask_is_rejected():
    with pytest.raises(CompileError, match="outside its mask"):
        RoutingEntry(0b11, 0b10, 1)


def test_checker_finds_a_changed_route_and_a_missing_entry():
    original = RoutingTable((RoutingEntry(0, 0xFFFFFFFE, 1), RoutingEntry(2, 0xFFFFFFFE, 2)))
    assert rc.routing_differences(original, original) == []
    wrong = RoutingTable((RoutingEntry(0, 0xFFFFFFFC, 1),))  # captures key 2, 3 with route 1
    assert rc.routing_differences(original, wrong)
    missing = RoutingTable((RoutingEntry(0, 0xFFFFFFFE, 1),))
    assert rc.routing_differences(original, missing)
    with pytest.raises(CompileError, match="not equivalent"):
        rc.check_equivalent(original, missing)


def test_defaultable_entry_may_be_dropped_but_not_captured():
    original = RoutingTable((RoutingEntry(0, 0xFFFFFFFF, 1, True), RoutingEntry(1, 0xFFFFFFFF, 2)))
    assert rc.routing_differences(original, RoutingTable((RoutingEntry(1, 0xFFFFFFFF, 2),))) == []
    captured = RoutingTable((RoutingEntry(0, 0xFFFFFFFE, 2),))
    assert rc.routing_differences(original, captured)


@st.composite
def orthogonal_tables(draw):
    """Random orthogonal tables: distinct aligned blocks of 8-bit keys, few routes."""
    n = draw(st.integers(1, 40))
    sizes = draw(st.lists(st.sampled_from([1, 2, 4, 8]), min_size=n, max_size=n))
    routes = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    flags = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    base, entries = 0, []
    for size, route, flag in zip(sizes, routes, flags):
        base = (base + size - 1) // size * size + draw(st.integers(0, 2)) * size
        if base + size > 256:
            break
        entries.append(RoutingEntry(base, (0xFFFFFFFF - size + 1) & 0xFFFFFFFF, route, flag))
        base += size
    order = draw(st.permutations(range(len(entries))))
    return RoutingTable(tuple(entries[i] for i in order))


@settings(max_examples=150, deadline=None)
@given(orthogonal_tables())
def test_every_compressor_routes_every_key_as_before(table):
    keys = np.arange(256, dtype=np.uint32)
    before = table.lookup_many(keys)
    defaultable = np.zeros(256, dtype=bool)
    for e in table:
        if e.defaultable:
            defaultable[(keys & e.mask) == e.key] = True
    routed = before != NO_ROUTE
    kept, removed = rc.remove_defaultable(list(table.entries))
    results = {
        "compress_table": rc.compress_table(table).table,
        "pair": RoutingTable(tuple(rc.pair_compress(table.entries))),
        "pair_specific": RoutingTable(tuple(rc.pair_compress(table.entries, partner="most-specific"))),
        "range": RoutingTable(tuple(rc.range_compress(table.entries))),
        "ordered_covering": RoutingTable(tuple(rc.ordered_covering(table.entries))),
        "blocked_oc": RoutingTable(tuple(rc.ordered_covering(kept, None, removed))),
    }
    for name, compressed in results.items():
        after = compressed.lookup_many(keys)
        ok = (after == before) | (defaultable & (after == NO_ROUTE))
        assert ok[routed].all(), name
        # A key the original left to default routing and the compressed table
        # now routes must be an unallocated key (no entry); we never test those.
        assert rc.routing_differences(table, compressed) == [], name
        assert len(compressed) <= len(table), name


@needs_fixtures
@pytest.mark.parametrize("name, pacman_best, bound", [("table1", 361, 360), ("table2", 172, 171)])
def test_real_single_chip_tables_compress_at_least_as_well_as_pacman(name, pacman_best, bound):
    table = load_csv(name)
    result = rc.compress_table(table)
    rc.check_equivalent(table, result.table)
    assert len(result.table) <= bound < pacman_best  # PACMAN's best: range then pair
    assert result.seconds < 30


@needs_fixtures
def test_real_busiest_chip_of_many_to_one_fits_in_1023_entries():
    table = max(load_many_to_one(), key=len)
    assert len(table) == 1650
    result = rc.compress_table(table, 1023)
    rc.check_equivalent(table, result.table)
    assert len(result.table) <= 906  # PACMAN's pair compressor: 906; ordered covering 1,019


@needs_fixtures
def test_checker_rejects_one_corrupted_entry_of_a_real_compressed_table():
    table = load_csv("table2")
    compressed = rc.compress_table(table).table
    entries = list(compressed.entries)
    e = entries[len(entries) // 2]
    entries[len(entries) // 2] = RoutingEntry(e.key, e.mask, e.route ^ (1 << 7), e.defaultable)
    assert rc.routing_differences(table, RoutingTable(tuple(entries)))


@needs_fixtures
@pytest.mark.slow
def test_all_576_chips_of_many_to_one_compress_equivalently():
    total = 0
    for table in load_many_to_one():
        result = rc.compress_table(table, 1023)
        rc.check_equivalent(table, result.table)
        total += len(result.table)
    assert total <= 2507  # PACMAN's pair compressor total; ordered covering 3,816
