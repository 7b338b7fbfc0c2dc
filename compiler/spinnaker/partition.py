"""Partitioning: each population split into machine vertices, one per core.

A vertex is a contiguous slice of a population's neurons (sPyNNaker's
``Slice``). A neuron vertex holds at most ``neurons_per_core`` neurons and its
synaptic matrix (the rows of every source neuron that reaches it, see
``spinnaker_rows``) must fit ``synaptic_bytes_per_core``; the slice is halved
until it does. A spike-source vertex (a graph Input) has no synapses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...ir.errors import CompileError
from .quantise import SpiNNakerNetwork

ROW_HEADER_WORDS = 3
BYTES_PER_WORD = 4


@dataclass(frozen=True)
class MachineVertex:
    """Neurons ``lo .. hi-1`` of ``population``; ``index`` is the vertex id (key allocation order)."""

    index: int
    population: str
    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo


def synaptic_bytes(net: SpiNNakerNetwork, population: str, lo: int, hi: int, source_slices: dict[str, int]) -> int:
    """Bytes of the synaptic matrix of neurons lo..hi-1 (rows padded per source vertex).

    One block per (source vertex, this vertex): ``rows x (3 + longest row)`` words.
    ``source_slices`` gives the vertex size of each source population.
    """
    total = 0
    per_source: dict[str, list[np.ndarray]] = {}
    for proj in net.incoming(population):
        sel = (proj.post_index >= lo) & (proj.post_index < hi)
        per_source.setdefault(proj.pre, []).append(proj.pre_index[sel])
    for pre, parts in per_source.items():
        pre_index = np.concatenate(parts)
        if pre_index.size == 0:
            continue
        step = source_slices[pre]
        n_pre = len_pop = net.population(pre).size
        counts = np.bincount(pre_index, minlength=n_pre)
        for start in range(0, len_pop, step):
            block = counts[start:start + step]
            if block.max(initial=0) > 0:
                total += block.size * (ROW_HEADER_WORDS + int(block.max()))
    return total * BYTES_PER_WORD


def partition(net: SpiNNakerNetwork, neurons_per_core: int, synaptic_bytes_per_core: int | None = None) -> tuple[MachineVertex, ...]:
    """Vertices covering every neuron of every population exactly once, in population order."""
    atoms = {p.name: min(p.size, neurons_per_core) for p in net.populations}
    if synaptic_bytes_per_core is not None:
        for pop in net.populations:
            if pop.is_source:
                continue
            while True:
                n = atoms[pop.name]
                worst = max(synaptic_bytes(net, pop.name, lo, min(lo + n, pop.size), atoms)
                            for lo in range(0, pop.size, n))
                if worst <= synaptic_bytes_per_core:
                    break
                if n == 1:
                    raise CompileError(
                        f"one neuron's synaptic rows need {worst} bytes, more than the {synaptic_bytes_per_core} "
                        f"a core holds", node=pop.name, parameter="synaptic_memory_bytes_per_core",
                        value=worst, limit=synaptic_bytes_per_core)
                atoms[pop.name] = math.ceil(n / 2)
    vertices: list[MachineVertex] = []
    for pop in net.populations:
        n = atoms[pop.name]
        for lo in range(0, pop.size, n):
            vertices.append(MachineVertex(len(vertices), pop.name, lo, min(lo + n, pop.size)))
    return tuple(vertices)
