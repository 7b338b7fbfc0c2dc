"""Key allocation: every machine vertex gets a base key and a mask covering its neurons.

A spike of neuron ``i`` of a vertex is the multicast packet ``base | (i - lo)``.
All vertices use the same number of index bits (enough for the largest
vertex), so one ``key & mask`` test says which vertex sent a packet and
``key & ~mask`` which of its neurons; the vertex id sits above the index.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.errors import CompileError
from .routing_table import FULL_MASK, KEY_BITS
from .partition import MachineVertex


@dataclass(frozen=True)
class KeyAllocation:
    """``base[v]`` and the shared ``mask``: keys base[v] .. base[v] + size - 1 belong to vertex v."""

    index_bits: int
    base: tuple[int, ...]

    @property
    def mask(self) -> int:
        return FULL_MASK & ~((1 << self.index_bits) - 1)

    def key(self, vertex_index: int, local_neuron: int) -> int:
        return self.base[vertex_index] | local_neuron

    def vertex_of(self, key: int) -> int:
        return key >> self.index_bits


def allocate_keys(vertices: tuple[MachineVertex, ...]) -> KeyAllocation:
    largest = max((v.size for v in vertices), default=1)
    index_bits = max(1, (largest - 1).bit_length())
    if len(vertices) > 1 << (KEY_BITS - index_bits):
        raise CompileError(f"{len(vertices)} vertices do not fit {KEY_BITS - index_bits} key bits",
                           parameter="keys", value=len(vertices), limit=1 << (KEY_BITS - index_bits))
    return KeyAllocation(index_bits, tuple(v.index << index_bits for v in vertices))
