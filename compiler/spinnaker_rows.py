"""Sparse synaptic rows in sPyNNaker's word format, and the master population table.

A core's synaptic matrix (SDRAM) holds one *block* per source vertex that
reaches it: one row per source neuron, ``row_stride`` words each (the longest
row of the block plus the 3-word header), as sPyNNaker pads rows to the
block's maximum row length. A row is ``[plastic words = 0, n fixed, n
plastic-control = 0, word_0 .. word_{n-1}]``; zeros are never stored. A
fixed synaptic word (``synapse_row.h``) is::

    | weight (16) | delay (d) | synapse type (t) | neuron index (i) |

with ``i`` enough bits for ``neurons_per_core``, ``t = 1`` and ``d = 16 - i - t``.
The *master population table* maps a packet's key to its block:
entries ``(key, mask, address, row_stride, n_rows)`` sorted by key; a packet
``k`` with ``k & mask == key`` reads row ``k & ~mask`` at
``address + (k & ~mask) * row_stride``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.errors import CompileError
from .quantise_spinnaker import SpiNNakerNetwork
from .spinnaker_format import SYNAPSE_TYPE_BITS
from .spinnaker_keys import KeyAllocation
from .spinnaker_partition import BYTES_PER_WORD, ROW_HEADER_WORDS, MachineVertex

WEIGHT_SHIFT = 16
ROW_KEY_BITS = 20  # bits of the source-neuron index in build_rows' sort key


@dataclass(frozen=True)
class SynapticWordFormat:
    """Bit widths of the fixed synaptic word below the 16-bit weight."""

    index_bits: int
    type_bits: int = SYNAPSE_TYPE_BITS
    ring_buffer_bits: int = 14

    @classmethod
    def for_core(cls, neurons_per_core: int, ring_buffer_bits: int = 14) -> "SynapticWordFormat":
        return cls(max(1, (neurons_per_core - 1).bit_length()), SYNAPSE_TYPE_BITS, ring_buffer_bits)

    @property
    def delay_bits(self) -> int:
        return WEIGHT_SHIFT - self.index_bits - self.type_bits

    @property
    def ring_buffer_delay_bits(self) -> int:
        """log2 of the ring buffer's delay slots: ring buffer bits minus type and index bits."""
        return self.ring_buffer_bits - self.index_bits - self.type_bits

    @property
    def max_delay(self) -> int:
        """Longest delay a row holds: it must fit the word and leave the current slot alone."""
        return min((1 << self.delay_bits) - 1, (1 << self.ring_buffer_delay_bits) - 1)

    def encode(self, weight: np.ndarray, delay: np.ndarray, syn_type: np.ndarray, index: np.ndarray) -> np.ndarray:
        w = np.asarray(weight, dtype=np.int64) << WEIGHT_SHIFT
        w |= np.asarray(delay, dtype=np.int64) << (self.type_bits + self.index_bits)
        w |= np.asarray(syn_type, dtype=np.int64) << self.index_bits
        w |= np.asarray(index, dtype=np.int64)
        return w.astype(np.uint32)

    def decode(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(weight, delay, type, index) as int64 arrays."""
        w = np.asarray(words, dtype=np.int64)
        index = w & ((1 << self.index_bits) - 1)
        syn_type = (w >> self.index_bits) & ((1 << self.type_bits) - 1)
        delay = (w >> (self.index_bits + self.type_bits)) & ((1 << self.delay_bits) - 1)
        return w >> WEIGHT_SHIFT, delay, syn_type, index


@dataclass(frozen=True)
class MasterPopEntry:
    key: int
    mask: int
    address: int  # word offset in the core's synaptic matrix
    row_stride: int  # words per row, header included
    n_rows: int


@dataclass(frozen=True, eq=False)
class CoreSynapses:
    """One core's synaptic matrix (uint32 words) and its master population table."""

    words: np.ndarray
    master_pop: tuple[MasterPopEntry, ...]

    def __post_init__(self) -> None:
        arr = np.array(self.words, dtype=np.uint32, copy=True)
        arr.setflags(write=False)
        object.__setattr__(self, "words", arr)

    @property
    def n_bytes(self) -> int:
        return int(self.words.size) * BYTES_PER_WORD

    @property
    def n_synapses(self) -> int:
        return sum(int(self.words[e.address + 1: e.address + e.n_rows * e.row_stride: e.row_stride].sum())
                   for e in self.master_pop)


def build_rows(net: SpiNNakerNetwork, vertices: tuple[MachineVertex, ...], keys: KeyAllocation,
               fmt: SynapticWordFormat) -> dict[int, CoreSynapses]:
    """The synaptic matrix and master population table of every neuron vertex.

    All synapses are labelled with their (target vertex, source vertex) block
    and sorted once; each block is then laid out with numpy (no per-synapse loop).
    """
    by_pop: dict[str, list[MachineVertex]] = {}
    for v in vertices:
        by_pop.setdefault(v.population, []).append(v)
    # vertices of a population are equal slices but the last (``partition``): index // size finds them
    step = {p: vs[0].size for p, vs in by_pop.items()}
    for p, vs in by_pop.items():
        if any(v.lo != i * step[p] or v.index != vs[0].index + i for i, v in enumerate(vs)):
            raise CompileError("build_rows needs equal, consecutive vertex slices per population", node=p)
    first = {p: vs[0].index for p, vs in by_pop.items()}
    keys_parts: list[np.ndarray] = []
    word_parts: list[np.ndarray] = []
    for proj in net.projections:
        if proj.delay > fmt.max_delay:
            raise CompileError(f"delay {proj.delay} does not fit a synaptic row (max {fmt.max_delay})",
                               node=proj.post, parameter="delay", value=proj.delay, limit=fmt.max_delay)
        post_v, post_local = np.divmod(proj.post_index, step[proj.post])
        pre_v, pre_local = np.divmod(proj.pre_index, step[proj.pre])
        word_parts.append(fmt.encode(proj.weight, proj.delay, proj.synapse_type, post_local))
        # sort key: block (target vertex, source vertex; keys grow with the vertex index), then row
        block = (post_v + first[proj.post]) * len(vertices) + (pre_v + first[proj.pre])
        keys_parts.append((block << ROW_KEY_BITS) | pre_local)
    out: dict[int, CoreSynapses] = {}
    if keys_parts:
        sort_key = np.concatenate(keys_parts)
        order = np.argsort(sort_key, kind="stable")  # stable: a row keeps the projections' order
        sort_key = sort_key[order]
        words = np.concatenate(word_parts)[order]
        block_id = sort_key >> ROW_KEY_BITS
        local = sort_key & ((1 << ROW_KEY_BITS) - 1)
        starts = np.flatnonzero(np.r_[True, block_id[1:] != block_id[:-1]])
        ends = np.r_[starts[1:], block_id.size]
        per_target: dict[int, list[tuple[int, int, int]]] = {}
        for a, b, bid in zip(starts.tolist(), ends.tolist(), block_id[starts].tolist()):
            per_target.setdefault(bid // len(vertices), []).append((bid % len(vertices), a, b))
        for t, blocks in per_target.items():
            out[t] = _core_matrix(blocks, local, words, vertices, keys)
    for v in vertices:
        if v.index not in out and not net.population(v.population).is_source:
            out[v.index] = CoreSynapses(np.zeros(0, dtype=np.uint32), ())
    return out


def _core_matrix(blocks, local, words, vertices, keys: KeyAllocation) -> CoreSynapses:
    chunks: list[np.ndarray] = []
    table: list[MasterPopEntry] = []
    address = 0
    for src, a, b in blocks:  # already in key order
        n_rows = vertices[src].size
        row = local[a:b]
        counts = np.bincount(row, minlength=n_rows)
        stride = ROW_HEADER_WORDS + int(counts.max())
        block = np.zeros(n_rows * stride, dtype=np.uint32)
        block[np.arange(n_rows) * stride + 1] = counts
        position = np.arange(row.size) - np.repeat(np.cumsum(counts) - counts, counts)
        block[row * stride + ROW_HEADER_WORDS + position] = words[a:b]
        chunks.append(block)
        table.append(MasterPopEntry(keys.base[src], keys.mask, address, stride, n_rows))
        address += block.size
    return CoreSynapses(np.concatenate(chunks), tuple(table))
