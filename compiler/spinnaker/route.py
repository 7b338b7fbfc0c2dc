"""Routing: a multicast tree per source vertex, turned into per-chip routing tables.

For each source vertex, the target cores are those of every vertex that holds
a synapse from it. The tree is the breadth-first shortest-path tree of the
mesh from the source chip (links tried in the order E, NE, N, W, SW, S), so
every target is reached by a shortest path, paths to targets share their
common prefix, and no chip receives a packet twice. Each chip on the tree
gets one entry ``(base key, vertex mask) -> child links | target cores``.
An entry is *defaultable* when the chip only passes the packet straight on
(one link in, the opposite link out, no core): default routing does that, so
such entries are dropped. A chip whose table still exceeds the router's size
is compressed (``routing_compress.compress_table``), the result proved
equivalent (``check_equivalent``), and a chip that still does not fit fails
the compile with the chip, the entries and the limit.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ...ir.errors import CompileError
from .quantise import SpiNNakerNetwork
from .routing_compress import check_equivalent, compress_table, remove_defaultable
from .routing_table import N_LINKS, RoutingEntry, RoutingTable, core_bit, link_bit
from .keys import KeyAllocation
from .partition import MachineVertex
from .place import Chip, Placements, SpiNNakerMachine


def vertex_targets(net: SpiNNakerNetwork, vertices: tuple[MachineVertex, ...]) -> dict[int, tuple[int, ...]]:
    """For each source vertex, the vertices that hold at least one of its synapses.

    Vertices of a population are equal slices but the last (``partition``), so
    a neuron's vertex is ``index // size``; a bincount over (source, target)
    vertex pairs is linear in the number of synapses.
    """
    by_pop: dict[str, list[MachineVertex]] = {}
    for v in vertices:
        by_pop.setdefault(v.population, []).append(v)
    pairs: set[tuple[int, int]] = set()
    for proj in net.projections:
        pre_vs, post_vs = by_pop[proj.pre], by_pop[proj.post]
        code = (proj.pre_index // pre_vs[0].size) * len(post_vs) + proj.post_index // post_vs[0].size
        used = np.flatnonzero(np.bincount(code, minlength=len(pre_vs) * len(post_vs)))
        pairs.update((pre_vs[c // len(post_vs)].index, post_vs[c % len(post_vs)].index) for c in used.tolist())
    out: dict[int, list[int]] = {}
    for src, dst in sorted(pairs):
        out.setdefault(src, []).append(dst)
    return {k: tuple(v) for k, v in out.items()}


def shortest_path_tree(machine: SpiNNakerMachine, source: Chip) -> dict[Chip, tuple[Chip, int]]:
    """BFS tree of the mesh from ``source``: chip -> (parent chip, link taken from the parent)."""
    parent: dict[Chip, tuple[Chip, int]] = {}
    seen = {source}
    queue = deque([source])
    while queue:
        chip = queue.popleft()
        for link in range(N_LINKS):
            nxt = machine.neighbour(chip, link)
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                parent[nxt] = (chip, link)
                queue.append(nxt)
    return parent


@dataclass(frozen=True)
class MulticastTree:
    """Per chip on the tree: the links out, the target cores, and the link the packet arrives by."""

    source: Chip
    links: dict[Chip, int]  # chip -> bit set of links out
    cores: dict[Chip, int]  # chip -> bit set of cores (bit c for core c)
    arrival: dict[Chip, int]  # chip -> direction of travel on arrival (None at the source)


def multicast_tree(machine: SpiNNakerMachine, source: Chip, targets: list[tuple[int, int, int]],
                   parents: dict[Chip, tuple[Chip, int]]) -> MulticastTree:
    links: dict[Chip, int] = {source: 0}
    cores: dict[Chip, int] = {}
    arrival: dict[Chip, int] = {}
    for x, y, core in targets:
        chip = (x, y)
        cores[chip] = cores.get(chip, 0) | (1 << core)
        while chip != source:
            up, link = parents[chip]
            arrival[chip] = link
            links.setdefault(chip, 0)
            if links.get(up, 0) >> link & 1:
                break  # the rest of the path is already on the tree
            links[up] = links.get(up, 0) | (1 << link)
            chip = up
    return MulticastTree(source, links, cores, arrival)


def _tree_routes(tree: MulticastTree) -> list[tuple[Chip, int, bool]]:
    """(chip, route word, defaultable) for every chip on the tree."""
    out = []
    for chip in sorted(set(tree.links) | set(tree.cores)):
        link_bits = tree.links.get(chip, 0)
        core_bits = tree.cores.get(chip, 0)
        route = link_bits
        for c in range(core_bits.bit_length()):
            if core_bits >> c & 1:
                route |= core_bit(c)
        arrived = tree.arrival.get(chip)
        defaultable = (chip != tree.source and core_bits == 0 and arrived is not None
                       and link_bits == link_bit(arrived))
        out.append((chip, route, defaultable))
    return out


def build_routing_tables(machine: SpiNNakerMachine, vertices: tuple[MachineVertex, ...], placements: Placements,
                         keys: KeyAllocation, targets: dict[int, tuple[int, ...]]) -> dict[Chip, RoutingTable]:
    """Uncompressed tables: one entry per (chip on a tree, source vertex), defaultable ones flagged."""
    bfs_cache: dict[Chip, dict] = {}
    # vertices on one chip with the same targets share a tree: compute its (chip, route, defaultable) once
    route_cache: dict[tuple[Chip, tuple], list[tuple[Chip, int, bool]]] = {}
    entries: dict[Chip, list[RoutingEntry]] = {}
    for src in sorted(targets):
        source_chip = placements.chip_of(src)
        locations = tuple(sorted(placements.locations[t] for t in targets[src]))
        cache_key = (source_chip, locations)
        if cache_key not in route_cache:
            if source_chip not in bfs_cache:
                bfs_cache[source_chip] = shortest_path_tree(machine, source_chip)
            tree = multicast_tree(machine, source_chip, list(locations), bfs_cache[source_chip])
            route_cache[cache_key] = _tree_routes(tree)
        for chip, route, defaultable in route_cache[cache_key]:
            entries.setdefault(chip, []).append(RoutingEntry(keys.base[src], keys.mask, route, defaultable))
    return {chip: RoutingTable(tuple(sorted(es, key=lambda e: e.key)), chip) for chip, es in sorted(entries.items())}


@dataclass(frozen=True)
class TableReport:
    """Entries on one chip: all, without defaultable ones, and as loaded."""

    chip: Chip
    entries: int
    without_defaults: int
    loaded: int
    method: str


def fit_tables(tables: dict[Chip, RoutingTable], limit: int) -> tuple[dict[Chip, RoutingTable], tuple[TableReport, ...]]:
    """Drop defaultable entries; compress chips still over ``limit``; fail with chip, entries, limit."""
    out: dict[Chip, RoutingTable] = {}
    reports = []
    for chip, table in tables.items():
        kept, _ = remove_defaultable(list(table.entries))
        final, method = RoutingTable(tuple(kept), chip), "remove-defaults"
        if len(final) > limit:
            result = compress_table(table, limit)
            final, method = result.table, result.method
        check_equivalent(table, final)
        if len(final) > limit:
            raise CompileError(
                f"chip {chip}: routing table needs {len(final)} entries after compression "
                f"({len(table)} before), the router holds {limit}",
                parameter="routing_table_entries", value=len(final), limit=limit)
        if final.entries:
            out[chip] = final
        reports.append(TableReport(chip, len(table), len(kept), len(final), method))
    return out, tuple(reports)
