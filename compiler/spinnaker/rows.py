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

from ...ir.errors import CompileError
from .quantise import SpiNNakerNetwork
from .format import SYNAPSE_TYPE_BITS
from .keys import KeyAllocation
from .partition import BYTES_PER_WORD, ROW_HEADER_WORDS, MachineVertex

WEIGHT_SHIFT = 16


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
        arr = self.words
        if not (isinstance(arr, np.ndarray) and arr.dtype == np.uint32 and arr.base is None and not arr.flags.writeable):
            arr = np.array(arr, dtype=np.uint32, copy=True)  # a read-only array that owns its words is kept
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

    Synapses are grouped per (source, target) population pair, ordered by target
    vertex and source neuron, cut into (source vertex, target vertex) blocks and
    laid out with numpy (no per-synapse loop).
    """
    by_pop: dict[str, list[MachineVertex]] = {}
    for v in vertices:
        by_pop.setdefault(v.population, []).append(v)
    # vertices of a population are equal slices but the last (``partition``): index // size finds them
    step = {p: vs[0].size for p, vs in by_pop.items()}
    for p, vs in by_pop.items():
        if any(v.lo != i * step[p] or v.index != vs[0].index + i for i, v in enumerate(vs)):
            raise CompileError("build_rows needs equal, consecutive vertex slices per population", node=p)
    groups: dict[tuple[str, str], list] = {}
    for proj in net.projections:
        if proj.delay > fmt.max_delay:
            raise CompileError(f"delay {proj.delay} does not fit a synaptic row (max {fmt.max_delay})",
                               node=proj.post, parameter="delay", value=proj.delay, limit=fmt.max_delay)
        groups.setdefault((proj.pre, proj.post), []).append(proj)
    by_post: dict[str, list[tuple[str, str]]] = {}
    for pair in groups:
        by_post.setdefault(pair[1], []).append(pair)
    out: dict[int, CoreSynapses] = {}
    for post, pairs in by_post.items():  # one target population's blocks at a time: a bounded working set
        per_target: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        for pre, _ in pairs:
            for target, source, rows, words in _group_blocks(groups[(pre, post)], by_pop[pre], by_pop[post],
                                                             step[pre], step[post], fmt):
                per_target.setdefault(target, []).append((source, rows, words))
        for t, blocks in per_target.items():
            out[t] = _core_matrix(sorted(blocks, key=lambda b: b[0]), vertices, keys)
    sources = {p.name for p in net.populations if p.is_source}
    for v in vertices:
        if v.index not in out and v.population not in sources:
            out[v.index] = CoreSynapses(np.zeros(0, dtype=np.uint32), ())
    return dict(sorted(out.items()))


def _group_blocks(projs, pre_vertices, post_vertices, pre_step: int, post_step: int, fmt: SynapticWordFormat):
    """Yield (target vertex, source vertex, local source rows, words) for one (pre, post) population pair.

    Synapses are ordered by target vertex, then source neuron, keeping their
    order otherwise (stable). A single projection listed by source neuron (as
    the quantiser writes them) needs only a radix sort on the target vertex.
    """
    pre_index = np.concatenate([p.pre_index for p in projs])
    post_v, post_local = np.divmod(np.concatenate([p.post_index for p in projs]), post_step)
    words = np.concatenate([fmt.encode(p.weight, p.delay, p.synapse_type, 0) for p in projs])
    words |= post_local.astype(np.uint32)
    small = post_v.astype(np.int16 if len(post_vertices) < (1 << 15) else np.int64)
    if len(projs) == 1 and bool(np.all(pre_index[1:] >= pre_index[:-1])):
        order = np.argsort(small, kind="stable")  # radix sort on 16-bit keys
    else:
        order = np.lexsort((pre_index, small))
    pre_index, small, words = pre_index[order], small[order], words[order]
    seg = np.searchsorted(small, np.arange(len(post_vertices) + 1))
    pre_los = np.array([v.lo for v in pre_vertices] + [pre_vertices[-1].hi], dtype=np.int64)
    for t, post_vertex in enumerate(post_vertices):
        a, b = int(seg[t]), int(seg[t + 1])
        if a == b:
            continue
        cuts = a + np.searchsorted(pre_index[a:b], pre_los)
        for s, pre_vertex in enumerate(pre_vertices):
            lo, hi = int(cuts[s]), int(cuts[s + 1])
            if lo < hi:
                yield post_vertex.index, pre_vertex.index, pre_index[lo:hi] - pre_vertex.lo, words[lo:hi]


def _core_matrix(blocks, vertices, keys: KeyAllocation) -> CoreSynapses:
    """Blocks (source vertex, rows, words), in key order, laid out with padded rows.

    All blocks at once (a core of a wide network hears dozens of source
    vertices): each synapse's row numbered across the core's blocks, one
    bincount for the row lengths, one scatter of the words into the core's
    matrix. A block's rows are sorted (``_group_blocks``)."""
    n_rows = np.array([vertices[src].size for src, _, _ in blocks], dtype=np.int64)
    first_row = np.cumsum(n_rows) - n_rows  # of each block, in the core's row numbering
    row = np.concatenate([r + f for (_, r, _), f in zip(blocks, first_row.tolist())]).astype(np.int64, copy=False)
    counts = np.bincount(row, minlength=int(n_rows.sum()))
    stride = ROW_HEADER_WORDS + np.maximum.reduceat(counts, first_row)
    address = np.cumsum(n_rows * stride) - n_rows * stride
    block_of_row = np.repeat(np.arange(len(blocks)), n_rows)
    row_start = address[block_of_row] + (np.arange(counts.size) - first_row[block_of_row]) * stride[block_of_row]
    out = np.zeros(int((n_rows * stride).sum()), dtype=np.uint32)
    out[row_start + 1] = counts
    position = np.arange(row.size) - np.repeat(np.cumsum(counts) - counts, counts)
    out[row_start[row] + ROW_HEADER_WORDS + position] = np.concatenate([w for _, _, w in blocks])
    out.setflags(write=False)
    table = tuple(MasterPopEntry(keys.base[src], keys.mask, int(a), int(st), int(n))
                  for (src, _, _), a, st, n in zip(blocks, address, stride, n_rows))
    return CoreSynapses(out, table)
