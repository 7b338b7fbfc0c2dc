"""One step of one Loihi population in Lava's fixed-point arithmetic: the neuron update both executors share.

``loihi_executor`` (the step-by-step definition) and ``loihi_schedule`` (the
fast path) both call ``neuron_step``; it lives apart from both so neither
imports the other.
"""
from __future__ import annotations

import numpy as np

from ...compiler.loihi.nodes import LoihiNeurons
from ...compiler.target import LoihiNumeric


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32, as numpy's int32 arithmetic does silently."""
    return np.asarray(x, dtype=np.int64).astype(np.int32)  # numpy's int64 -> int32 cast is modulo 2**32


def _decay(x: np.ndarray, keep: int, shift: int) -> np.ndarray:
    """``sign(x * keep) * (|x * keep| >> shift)`` in int64: truncation toward zero."""
    p = x.astype(np.int64) * keep
    return wrap_int32(np.sign(p) * (np.abs(p) >> shift))


def neuron_step(
    p: LoihiNeurons, fmt: LoihiNumeric, u: np.ndarray, v: np.ndarray, owed: np.ndarray, a_in: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One step of one population: returns (u, v, spikes, owed). Lava's ``AbstractPyLifModelFixed``
    (``subthr_dynamics``, ``spiking_activation``, ``reset_voltage``) plus spikec's extensions."""
    unity = 1 << fmt.decay_bits
    max_uv = 1 << (fmt.state_bits - 1)
    v_stored = v  # last step's stored v (for reset_recheck)
    # u: decay (with Lava's +1 offset), add a_in << 6 in int32, wrap once to 24 bits
    cur = wrap_int32(_decay(u, unity - (p.du + fmt.decay_offset_u), fmt.decay_bits).astype(np.int64)
                     + wrap_int32(a_in.astype(np.int64) << fmt.activation_shift))
    wrapped = np.where(cur > max_uv, cur - 2 * max_uv, cur)
    u = np.where(wrapped <= -max_uv, cur + 2 * max_uv, wrapped).astype(np.int32)
    # v: decay, add u and bias_mant << bias_exp, saturate to 24 bits
    bias = np.where(p.bias_exp >= 0, p.bias_mant.astype(np.int64) << np.maximum(p.bias_exp, 0),
                    p.bias_mant.astype(np.int64) >> np.maximum(-p.bias_exp, 0))
    total = wrap_int32(_decay(v, unity - (p.dv + fmt.decay_offset_v), fmt.decay_bits).astype(np.int64) + u + wrap_int32(bias))
    v = np.clip(total, -max_uv + 1, max_uv - 1).astype(np.int32)
    if not p.spiking:
        return u, v, np.zeros(v.shape, dtype=bool), owed
    vth = np.int64(p.vth) << fmt.threshold_shift
    if p.reset_delay:  # extension: the reset owed by last step's spike, after this step's input
        if p.reset == "subtract":
            v = np.clip(v.astype(np.int64) - owed * vth, -max_uv + 1, max_uv - 1).astype(np.int32)
        else:
            v = np.where(owed, p.v_reset, v).astype(np.int32)
        s = v > vth
        return u, v, s, s
    # extension reset_recheck: a neuron whose stored v was still above threshold must clear one more
    s = (v.astype(np.int64) - vth * (v_stored > vth)) > vth if p.reset_recheck else v > vth
    if p.reset == "subtract":
        v = np.where(s, v.astype(np.int64) - vth, v).astype(np.int32)
    else:
        v = np.where(s, p.v_reset, v).astype(np.int32)
    return u, v, s, owed
