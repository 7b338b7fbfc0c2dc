"""Weight matrices, dense or sparse: one vocabulary for every pass and backend.

A 10^6-neuron network of 1,000-wide layers with 100 synapses per neuron is
8 GB as dense float64 matrices and 1.2 GB as CSR. So an ``Affine``/``Linear``
weight (and every synaptic matrix derived from one: ``linear_maps``'
projections, Loihi's ``Dense``) is either a read-only ``np.ndarray`` or a
read-only ``scipy.sparse.csr_array``. A matrix is sparse when it was given
sparse, or when it is large (``SPARSE_MIN_ELEMENTS``) and mostly zeros
(``SPARSE_MAX_DENSITY``); small matrices stay dense, so the programs of small
graphs are what they were, byte for byte.

Sparse matrices here are canonical: sorted column indices, no duplicates, no
stored zeros. Then ``nonzero`` lists entries in row-major order for both kinds,
as ``np.nonzero`` does for a dense matrix, and a pass gives the same program
whichever kind it is given (tests/test_sparse_weights.py).
"""
from __future__ import annotations

from typing import Any, Union

import numpy as np
import scipy.sparse as sp

#: Matrices with fewer entries stay dense (a 256 x 256 matrix, 512 kB as float64; the scale benchmarks'
#: layers are 1,000 x 1,000 at 10 %, 8 MB dense and 1.2 MB as CSR).
SPARSE_MIN_ELEMENTS = 2**16
#: ... and so do those with a larger fraction of nonzeros (CSR costs 12 bytes per entry, dense 8).
SPARSE_MAX_DENSITY = 0.25

Matrix = Union[np.ndarray, sp.csr_array]


def is_sparse(m: Any) -> bool:
    return sp.issparse(m)


def _freeze(m: sp.csr_array) -> sp.csr_array:
    for a in (m.data, m.indices, m.indptr):
        a.setflags(write=False)
    return m


def is_frozen_csr(m: Any, dtype: Any = np.float64) -> bool:
    """Whether ``m`` already is what ``csr`` returns: a canonical read-only csr_array of ``dtype``, int32
    indices, no stored zeros (then it is shared, not copied)."""
    return (isinstance(m, sp.csr_array) and m.dtype == np.dtype(dtype)
            and m.indices.dtype == np.int32 and m.indptr.dtype == np.int32
            and not (m.data.flags.writeable or m.indices.flags.writeable or m.indptr.flags.writeable)
            and m.has_canonical_format and not np.any(m.data == 0))


def csr(m: Any, dtype: Any = np.float64) -> sp.csr_array:
    """A canonical read-only CSR copy of ``m`` (dense or any scipy sparse format) with ``dtype`` values;
    ``m`` itself when it already is one (read-only, so sharing it is safe: a 10^8-synapse graph is not
    copied by every node that re-checks its weights)."""
    if is_frozen_csr(m, dtype):
        return m
    out = sp.csr_array(m, dtype=dtype, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.sort_indices()
    if out.indices.dtype != np.int32 and max(out.shape, default=0) < 2**31 and out.nnz < 2**31:
        out = sp.csr_array((out.data, out.indices.astype(np.int32), out.indptr.astype(np.int32)), shape=out.shape)
    return _freeze(out)


def canonical_csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sp.csr_array:
    """A read-only CSR from parts already canonical (sorted columns per row, no duplicates, no zeros), uncopied."""
    out = sp.csr_array((data, indices, indptr), shape=shape)
    out.has_canonical_format = True
    return _freeze(out)


def prefer_sparse(shape: tuple[int, ...], nnz: int) -> bool:
    """Whether a 2-d matrix of ``shape`` with ``nnz`` nonzeros is carried as CSR."""
    size = int(np.prod(shape))
    return len(shape) == 2 and size >= SPARSE_MIN_ELEMENTS and nnz <= SPARSE_MAX_DENSITY * size


def compact(m: Matrix, dtype: Any = np.float64) -> Matrix:
    """``m`` as the kind it should be carried as: CSR when large and sparse (or given sparse), else dense."""
    if is_sparse(m):
        return csr(m, dtype)
    return csr(m, dtype) if prefer_sparse(np.shape(m), int(np.count_nonzero(m))) else m


def to_dense(m: Matrix) -> np.ndarray:
    return m.toarray() if is_sparse(m) else np.asarray(m)


def nonzero(m: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the nonzero entries in row-major order (``np.nonzero``'s order)."""
    if not is_sparse(m):
        return np.nonzero(m)
    c = csr(m) if not m.has_canonical_format else m
    rows = np.repeat(np.arange(c.shape[0], dtype=np.int64), np.diff(c.indptr))
    keep = c.data != 0
    return rows[keep], c.indices[keep].astype(np.int64)


def nonzero_values(m: Matrix) -> np.ndarray:
    """The nonzero entries in ``nonzero``'s order."""
    if not is_sparse(m):
        return np.asarray(m)[np.asarray(m) != 0]
    data = m.data if m.has_canonical_format else csr(m).data
    return data[data != 0]


def count_nonzero(m: Matrix, axis: int | None = None) -> Any:
    """Nonzeros in all (an int) or per row (axis=1) / per column (axis=0) as an int64 vector."""
    if not is_sparse(m):
        return np.count_nonzero(m, axis=axis) if axis is not None else int(np.count_nonzero(m))
    c = m if m.format == "csr" else sp.csr_array(m)
    stored = c.data != 0  # from the index arrays: no copy of the matrix
    if axis is None:
        return int(np.count_nonzero(stored))
    if axis == 0:
        return np.bincount(c.indices[stored], minlength=c.shape[1]).astype(np.int64)
    return _row_sums(c, stored.astype(np.int64))


def any_nonzero(m: Matrix) -> bool:
    return count_nonzero(m) > 0 if is_sparse(m) else bool(np.any(m))


def abs_max(m: Matrix, row_gain: np.ndarray | None = None) -> float:
    """The largest |entry| of ``m``, or of ``diag(row_gain) @ m`` (without copying a CSR ``m``)."""
    if is_sparse(m):
        data = m.data if row_gain is None else m.data * np.repeat(np.asarray(row_gain, dtype=np.float64), np.diff(m.indptr))
        return float(np.abs(data).max(initial=0.0))
    return float(np.abs(m if row_gain is None else scale_rows(m, row_gain)).max(initial=0.0))


def signed_row_sums(m: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """(sum of the positive entries, sum of the magnitudes of the negative ones) per row."""
    if is_sparse(m):
        c = m if m.format == "csr" else sp.csr_array(m)
        return _row_sums(c, np.clip(c.data, 0, None)), _row_sums(c, np.clip(-c.data, 0, None))
    return np.clip(m, 0, None).sum(axis=1), np.clip(-m, 0, None).sum(axis=1)


def _row_sums(c: sp.csr_array, values: np.ndarray) -> np.ndarray:
    """Per row of CSR ``c``, the sum of ``values`` (one per stored entry), as scipy's ``sum(axis=1)``
    adds them (``reduceat`` in storage order; integers in int64) but without copying ``c``."""
    dtype = np.int64 if values.dtype.kind in "biu" else values.dtype
    out = np.zeros(c.shape[0], dtype)
    nonempty = np.flatnonzero(np.diff(c.indptr))
    if nonempty.size:
        out[nonempty] = np.add.reduceat(values.astype(dtype, copy=False), c.indptr[nonempty], dtype=dtype)
    return out


def scale_rows(m: Matrix, gain: np.ndarray) -> Matrix:
    """``diag(gain) @ m`` in ``m``'s kind."""
    if is_sparse(m):
        out = sp.csr_array(m, copy=True)
        out.data = out.data * np.repeat(np.asarray(gain, dtype=np.float64), np.diff(out.indptr))
        return out
    return m * np.asarray(gain)[:, None]


def select(m: Matrix, rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> Matrix:
    """The block of ``rows`` and ``cols`` (index arrays; None: all), in ``m``'s kind."""
    out = m
    if rows is not None:
        out = out[np.asarray(rows)] if is_sparse(out) else out[np.asarray(rows), :]
    if cols is not None:
        out = out[:, np.asarray(cols)]
    return csr(out, out.dtype) if is_sparse(out) else out


def where_nonzero(m: Matrix, values: np.ndarray, dtype: Any) -> Matrix:
    """A matrix of ``m``'s shape and kind holding ``values`` (``nonzero(m)`` order) at ``m``'s nonzeros."""
    if is_sparse(m) and m.has_canonical_format and bool(np.all(m.data != 0)):  # nonzero(m) is m's own order
        return csr(sp.csr_array((np.asarray(values, dtype=dtype), m.indices, m.indptr), shape=m.shape), dtype)
    rows, cols = nonzero(m)
    if is_sparse(m):
        out = sp.csr_array((np.asarray(values, dtype=dtype), (rows, cols)), shape=m.shape)
        return csr(out, dtype)
    out = np.zeros(m.shape, dtype)
    out[rows, cols] = values
    return out


def matmul(a: Matrix, b: Matrix) -> Matrix:
    """``a @ b``: sparse when either is sparse and the product would be carried sparse."""
    if is_sparse(a) or is_sparse(b):
        out = sp.csr_array(a) @ sp.csr_array(b)
        return compact(out) if prefer_sparse(out.shape, out.nnz) else out.toarray()
    return a @ b


def add(a: Matrix, b: Matrix) -> Matrix:
    """``a + b`` in the cheaper kind."""
    if is_sparse(a) and is_sparse(b):
        out = a + b
        return compact(out) if prefer_sparse(out.shape, out.nnz) else out.toarray()
    if is_sparse(a) or is_sparse(b):
        return to_dense(a) + to_dense(b)
    return a + b


def identity(n: int) -> Matrix:
    """The n x n identity: dense below ``SPARSE_MIN_ELEMENTS`` entries, CSR above."""
    return csr(sp.eye_array(n, format="csr")) if prefer_sparse((n, n), n) else np.eye(n)


def equal(a: Matrix, b: Matrix) -> bool:
    """Same shape and values, whatever the kinds."""
    if np.shape(a) != np.shape(b):
        return False
    if is_sparse(a) or is_sparse(b):
        diff = sp.csr_array(a) - sp.csr_array(b)
        return bool(diff.count_nonzero() == 0)
    return bool(np.array_equal(a, b))


def diagonal(values: np.ndarray) -> Matrix:
    """``diag(values)``: dense below ``SPARSE_MIN_ELEMENTS`` entries, CSR above."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    n = values.size
    return csr(sp.diags_array(values, format="csr")) if prefer_sparse((n, n), n) else np.diag(values)


def from_triplets(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> Matrix:
    """The matrix with ``vals`` summed at (rows, cols), in the kind it should be carried as."""
    m = sp.coo_array((np.asarray(vals, dtype=np.float64), (np.asarray(rows), np.asarray(cols))), shape=shape)
    if prefer_sparse(shape, m.nnz):
        return csr(m)
    out = np.zeros(shape)
    np.add.at(out, (m.row, m.col), m.data)
    return out
