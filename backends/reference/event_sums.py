"""Event-driven synaptic sums: add up the weight columns of the neurons that spiked.

A connection's integer weights ``W`` (n_out, n_in) are packed once by source
neuron (CSR of ``W.T``: for each source, the targets and weights of its
synapses; zero weights dropped); a sparse ``W`` is packed from its CSC, without
ever visiting its zeros. A sum over a block of spike vectors
``[R, n_in]`` (R = time steps x batch) then touches only the synapses of the
sources that spiked: its cost is the number of synaptic events, not
``n_out * n_in`` per vector. Results are exact integers (int64):

- numpy path: the events' targets and weights are gathered with ``repeat`` /
  ``arange`` and summed by ``bincount`` in float64, exact while every partial
  sum stays below 2**53 (checked once per matrix; otherwise ``np.add.at`` in
  int64);
- compiled path (``numba``, if installed): one loop over the spikes, adding
  int64 weights. Both give the same integers (tested).
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp

#: largest exact integer partial sum in float64
_FLOAT64_EXACT = 1 << 53


@lru_cache(maxsize=1)
def compiled_kernels() -> Any:
    """The numba kernels module, or None (numba missing, or ``SPIKEC_NUMBA=0``)."""
    if os.environ.get("SPIKEC_NUMBA", "1") == "0":
        return None
    try:
        from . import loihi_kernels
    except ImportError:
        return None
    return loihi_kernels


class PackedColumns:
    """The synapses of one integer weight matrix, packed by source neuron.

    ``start[j]:start[j + 1]`` indexes the synapses of source ``j`` in
    ``target`` and ``weight`` (int32, summed in int64; ``weight_f``: float64 for bincount).
    """

    def __init__(self, weights: Any) -> None:
        if sp.issparse(weights):
            self._pack_sparse(weights)
        else:
            self._pack_dense(np.asarray(weights))
        # a target's partial sum has at most n_in terms
        worst = int(np.abs(self.weight).max(initial=0)) * self.n_in
        self.float_exact = worst < _FLOAT64_EXACT
        self.acc_dtype = np.int32 if worst < 2**31 else np.int64
        self._weight_f: np.ndarray | None = None

    def _pack_sparse(self, w: Any) -> None:
        """From a scipy sparse matrix: its CSC is this packing (one sort by column, no n_out x n_in pass)."""
        self.n_out, self.n_in = w.shape
        csc = sp.csc_array(w, copy=True)
        csc.sum_duplicates()  # also sorts each column's targets ascending, as the dense packing lists them
        csc.eliminate_zeros()
        wide = csc.dtype.itemsize > 4 and np.abs(csc.data).max(initial=0) >= 2**31
        self.start = csc.indptr.astype(np.int64)
        self.target = csc.indices.astype(np.int32 if self.n_out < 2**31 else np.int64)
        self.weight = csc.data.astype(np.int64 if wide else np.int32)

    def _pack_dense(self, w: np.ndarray) -> None:
        self.n_out, self.n_in = w.shape
        wide = w.dtype.itemsize > 4 and np.abs(w).max(initial=0) >= 2**31
        kernels = compiled_kernels()
        self.start = np.zeros(self.n_in + 1, np.int64)
        if kernels is not None and w.dtype.kind == "i":  # two passes at memory speed
            w = np.ascontiguousarray(w)
            kernels.count_columns(w, self.start)
            self.target = np.empty(int(self.start[-1]), np.int32 if self.n_out < 2**31 else np.int64)
            self.weight = np.empty(int(self.start[-1]), np.int64 if wide else np.int32)
            kernels.fill_columns(w, self.start, self.target, self.weight)
        else:
            tgt, src = np.nonzero(w)  # one pass over the (row-major) matrix, then group by source
            order = np.argsort(src, kind="stable")
            tgt, src = tgt[order], src[order]
            self.target = tgt.astype(np.int32 if self.n_out < 2**31 else np.int64)  # int32: half the bytes per event
            self.weight = w[tgt, src].astype(np.int64 if wide else np.int32)
            np.cumsum(np.bincount(src, minlength=self.n_in), out=self.start[1:])

    @property
    def weight_f(self) -> np.ndarray:
        """The weights in float64, for ``bincount`` (numpy path only; made on first use)."""
        if self._weight_f is None:
            self._weight_f = self.weight.astype(np.float64)
        return self._weight_f

    @property
    def synapses(self) -> int:
        return int(self.target.size)

    def events(self, spikes: np.ndarray) -> int:
        """How many synaptic events ``spikes`` [R, n_in] cause (spikes x fan-out)."""
        fan_out = np.diff(self.start)
        return int(fan_out @ np.count_nonzero(spikes.reshape(-1, self.n_in), axis=0))

    def sums(self, spikes: np.ndarray, *, compiled: bool | None = None) -> np.ndarray:
        """int64 [R, n_out]: for each row of bool ``spikes`` [R, n_in], the sum of the spiking sources' weights."""
        spikes = spikes.reshape(-1, self.n_in)
        kernels = compiled_kernels() if compiled is None or compiled else None
        if compiled and kernels is None:
            raise RuntimeError("the compiled path needs numba")
        if kernels is not None:
            out = np.zeros((spikes.shape[0], self.n_out), np.int64)
            kernels.gather_sums(spikes.view(np.uint8) if spikes.dtype == bool else spikes.astype(np.uint8),
                                self.start, self.target, self.weight, out)
            return out
        return self._sums_numpy(spikes)

    def add_shifted(self, spikes: np.ndarray, shift: int, dest: np.ndarray, *, compiled: bool | None = None) -> None:
        """``dest`` [R, n_out] int64 += ``sums(spikes)`` shifted left by ``shift`` (right, floor, if negative)."""
        spikes = spikes.reshape(-1, self.n_in)
        kernels = compiled_kernels() if compiled is None or compiled else None
        if kernels is not None and dest.flags.c_contiguous:
            kernels.gather_shift_add(spikes.view(np.uint8) if spikes.dtype == bool else spikes.astype(np.uint8),
                                     self.start, self.target, self.weight, shift, dest,
                                     np.zeros(self.n_out, self.acc_dtype))
            return
        acc = self.sums(spikes, compiled=compiled)
        dest += acc << shift if shift >= 0 else acc >> -shift

    def _sums_numpy(self, spikes: np.ndarray) -> np.ndarray:
        rows, src = np.nonzero(spikes)
        n_rows = spikes.shape[0]
        starts = self.start[src]
        lengths = self.start[src + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros((n_rows, self.n_out), np.int64)
        # positions of every event's synapse: each fired source's run start..start+length
        first = np.cumsum(lengths) - lengths
        pos = np.repeat(starts - first, lengths) + np.arange(total)
        key = self.target[pos]
        if n_rows > 1:
            key = key + np.repeat(rows * self.n_out, lengths)
        if self.float_exact:
            out = np.bincount(key, self.weight_f[pos], minlength=n_rows * self.n_out).astype(np.int64)
        else:
            out = np.zeros(n_rows * self.n_out, np.int64)
            np.add.at(out, key, self.weight[pos])
        return out.reshape(n_rows, self.n_out)
