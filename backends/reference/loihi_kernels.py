"""Compiled (numba) kernels of the Loihi reference executor; optional.

Imported only through ``event_sums.compiled_kernels()``, which returns None
when numba is not installed (or ``SPIKEC_NUMBA=0``): the executor then runs
the numpy path, which gives the same integers (``tests/test_loihi_fast_path.py``
checks both against the step-by-step definition). These are scalar
transcriptions of ``loihi_executor.neuron_step`` (``docs/semantics.md``
section 3) and of the event-driven weight sum: all arithmetic in int64, the
int32 wrap written out as ``wrap32``.
"""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def wrap32(x: np.int64) -> np.int64:
    return ((x + 2147483648) & 4294967295) - 2147483648


@_jit
def trunc_shift(p: np.int64, bits: np.int64) -> np.int64:
    """``sign(p) * (|p| >> bits)``: truncation toward zero."""
    return p >> bits if p >= 0 else -((-p) >> bits)


@_jit
def gather_sums(spikes, start, target, weight, out):  # pragma: no cover - compiled
    """out[r, target] += weight for every synapse of every source spiking in row r."""
    for r in range(spikes.shape[0]):
        row = out[r]
        for j in range(spikes.shape[1]):
            if spikes[r, j]:
                for k in range(start[j], start[j + 1]):
                    row[target[k]] += weight[k]


@_jit
def count_columns(w, start):  # pragma: no cover - compiled
    """First pass of packing w.T: start[j + 1] = nonzeros of column j, then the running sum."""
    n_out, n_in = w.shape
    for i in range(n_out):
        for j in range(n_in):
            if w[i, j] != 0:
                start[j + 1] += 1
    for j in range(n_in):
        start[j + 1] += start[j]


@_jit
def fill_columns(w, start, target, weight):  # pragma: no cover - compiled
    """Second pass: each source's (target, weight), targets ascending (row-major order of w)."""
    n_out, n_in = w.shape
    fill = start[:-1].copy()
    for i in range(n_out):
        for j in range(n_in):
            if w[i, j] != 0:
                target[fill[j]] = i
                weight[fill[j]] = w[i, j]
                fill[j] += 1


@_jit
def gather_shift_add(spikes, start, target, weight, shift, dest, acc):  # pragma: no cover - compiled
    """dest[r] += (sum of the weights of row r's spiking sources) << shift (>> -shift, floor).

    ``acc`` (n_out) is the per-row accumulator: int32 when no sum can leave
    int32 (the caller checks), which halves its cache footprint. One thread:
    on the shared 2-core machines ``parallel=True`` (prange over rows) gained nothing.
    """
    for r in range(spikes.shape[0]):
        acc[:] = 0
        for j in range(spikes.shape[1]):
            if spikes[r, j]:
                for k in range(start[j], start[j + 1]):
                    acc[target[k]] += weight[k]
        row = dest[r]
        if shift >= 0:
            for i in range(acc.size):
                row[i] += np.int64(acc[i]) << shift
        else:
            for i in range(acc.size):
                row[i] += np.int64(acc[i]) >> -shift


@_jit
def advance(a_in, u, v, owed, s_out, v_out, u_out, keep_u, keep_v, bits, act_shift, max_uv, bias, vth,
            spiking, reset_delay, subtract, recheck, v_reset, record_v, record_u):  # pragma: no cover - compiled
    """Run one population for ``a_in.shape[0]`` steps; a_in [T, B, n] int64 (unwrapped sums).

    Updates u, v (int32 [B, n]) and owed (bool) in place; writes spikes (and v, u
    when asked) of each step into s_out, v_out, u_out [T, B, n].
    """
    steps, batch, n = a_in.shape
    lo, hi = -max_uv + 1, max_uv - 1
    for t in range(steps):
        for b in range(batch):
            for i in range(n):
                cur = wrap32(wrap32(trunc_shift(np.int64(u[b, i]) * keep_u, bits))
                             + wrap32(wrap32(a_in[t, b, i]) << act_shift))
                if cur > max_uv:
                    cur -= 2 * max_uv
                elif cur <= -max_uv:
                    cur += 2 * max_uv
                v_stored = np.int64(v[b, i])
                total = wrap32(wrap32(trunc_shift(v_stored * keep_v, bits)) + cur + bias[i])
                vv = min(max(total, lo), hi)
                s = False
                if spiking:
                    if reset_delay:
                        if owed[b, i]:
                            vv = min(max(vv - vth, lo), hi) if subtract else v_reset[i]
                        s = vv > vth
                        owed[b, i] = s
                    else:
                        over = vv - vth if recheck and v_stored > vth else vv
                        s = over > vth
                        if s:
                            vv = vv - vth if subtract else v_reset[i]
                u[b, i] = cur
                v[b, i] = vv
                s_out[t, b, i] = s
                if record_v:
                    v_out[t, b, i] = vv
                if record_u:
                    u_out[t, b, i] = cur
