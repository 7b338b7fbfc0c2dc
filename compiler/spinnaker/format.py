"""The SpiNNaker numeric family: sPyNNaker's fixed point, one tick in integers.

This module is the code of ``docs/semantics.md`` section 4; the reference
executor and the event-driven machine both call ``neuron_tick`` so that the
neuron arithmetic is written once (the part they must *not* share, how a
spike reaches a synapse, each implements on its own).

Formats (sPyNNaker ``maths-util.h``, ``neuron_model_lif_impl.h``,
``synapse_row.h``):

* state ``v`` and synaptic current ``j``: s16.15 (``REAL`` = accum) in int32;
  every sum saturates to int32 (our choice; GCC's plain accum would wrap).
* membrane decay: s16.15, ``mul_s1615(a, b) = (a * b) >> 15`` (floor).
* synaptic-current decay: u0.32 (sPyNNaker's ``decay_t``),
  ``mul_u032(a, d) = (a * d) >> 32`` (floor).
* weights: 16-bit unsigned magnitudes with a synapse type (0 excitatory, 1
  inhibitory); a tick's ring-buffer sums (uint16, saturating at 0xFFFF as in
  sPyNNaker's ``synapses.c``) enter the neuron as
  ``(exc << shift_exc) - (inh << shift_inh)`` in s16.15.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

FRAC_BITS = 15
ONE_S1615 = 1 << FRAC_BITS
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
UINT32_MAX = (1 << 32) - 1
#: sPyNNaker's ring buffers hold ``weight_t`` (uint16) and saturate at 0xFFFF (``synapses.c``)
RING_BUFFER_MAX = (1 << 16) - 1
WEIGHT_MAX = (1 << 16) - 1
EXCITATORY, INHIBITORY = 0, 1
N_SYNAPSE_TYPES = 2
SYNAPSE_TYPE_BITS = 1

MODELS = ("lif", "cuba_lif", "if", "li", "cuba_li")  # cuba_li: cuba_lif without a threshold (an LI -> LI chain)
RESETS = ("zero", "subtract")


def saturate32(x: np.ndarray) -> np.ndarray:
    return np.clip(x, INT32_MIN, INT32_MAX).astype(np.int64)


def mul_s1615(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """s16.15 x s16.15 -> s16.15, truncated toward minus infinity."""
    return (np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)) >> FRAC_BITS


def mul_u032(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """s16.15 x u0.32 -> s16.15, floor. Python ints avoid int64 overflow of a * d."""
    a = np.asarray(a, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    # Split d into 16-bit halves so every product fits int64.
    hi, lo = d >> 16, d & 0xFFFF
    return ((a * hi) + ((a * lo) >> 16)) >> 16


@dataclass(frozen=True, eq=False)
class NeuronParams:
    """Integer parameters of one population (arrays of length n, int64 holding int32/uint32).

    ``bias_start[k]`` (local ticks) says from when ``bias_j[k]`` / ``bias_v[k]``
    are added each tick: a bias reached over a back edge or a delay starts late.
    """

    model: str
    reset: str
    reset_delay: bool
    spike_compare: str  # the hardware's test: ">=" (sPyNNaker) or ">"
    decay_v: np.ndarray  # s16.15
    decay_j: np.ndarray  # u0.32 (cuba_lif, cuba_li only)
    v_reset: np.ndarray  # s16.15
    v_thresh: np.ndarray  # s16.15, compared with spike_compare
    v_subtract: np.ndarray  # s16.15, subtracted on a spike when reset == "subtract"
    bias_start: tuple[int, ...]
    bias_j: np.ndarray  # (len(bias_start), n) s16.15
    bias_v: np.ndarray  # (len(bias_start), n) s16.15
    shift: tuple[int, int]  # weight left shifts (excitatory, inhibitory)
    scale: float  # real value = raw / scale (for decoding recordings)
    reset_recheck: bool = False  # snnTorch's immediate subtraction: a stored v above threshold must clear one more

    array_fields: ClassVar[tuple[str, ...]] = (
        "decay_v", "decay_j", "v_reset", "v_thresh", "v_subtract", "bias_j", "bias_v",
    )

    def __post_init__(self) -> None:
        for name in self.array_fields:
            arr = np.array(getattr(self, name), dtype=np.int64, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def size(self) -> int:
        return int(self.decay_v.shape[0])

    def slice(self, lo: int, hi: int) -> "NeuronParams":
        """Parameters of neurons lo..hi-1 (one machine vertex)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in self.array_fields:
            values[name] = values[name][..., lo:hi]
        return NeuronParams(**values)


def new_state(n: int, batch: int) -> dict[str, np.ndarray]:
    return {k: np.zeros((batch, n), dtype=np.int64) for k in ("v", "j", "owed")}


def synaptic_input(exc: np.ndarray, inh: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    """Ring-buffer sums (uint16, already saturated) to an s16.15 input."""
    return saturate32((exc << shift[0]) - (inh << shift[1]))


def neuron_tick(p: NeuronParams, state: dict[str, np.ndarray], inp: np.ndarray, local_tick: int) -> np.ndarray:
    """Advance one tick; ``inp`` is the s16.15 synaptic input. Returns spikes (0/1 int64).

    cuba_lif, cuba_li: ``j = sat(mul_u032(j, decay_j) + inp + bias_j)``, then
              ``v = sat(mul_s1615(v, decay_v) + j + bias_v)`` (this tick's j);
    lif, li, if: ``v = sat(mul_s1615(v, decay_v) + inp + bias_v)`` (``if``: decay 1.0).
    li, cuba_li never spike. Spike ``v >= v_thresh`` (or ``>``); reset to ``v_reset`` or subtract ``v_subtract``,
    now or (``reset_delay``) at the next tick after its integration. ``reset_recheck``:
    the test is on ``v - v_subtract`` when the previous tick's stored v was above threshold.
    """
    active = np.array([local_tick >= s for s in p.bias_start], dtype=bool)
    bias_j = p.bias_j[active].sum(axis=0) if active.any() else 0
    bias_v = p.bias_v[active].sum(axis=0) if active.any() else 0
    if p.model in ("cuba_lif", "cuba_li"):
        j = saturate32(mul_u032(state["j"], p.decay_j) + inp + bias_j)
        state["j"] = j
        v = saturate32(mul_s1615(state["v"], p.decay_v) + j + bias_v)
    else:
        v = saturate32(mul_s1615(state["v"], p.decay_v) + inp + bias_v)
    if p.model in ("li", "cuba_li"):
        state["v"] = v
        return np.zeros_like(v)
    if p.reset_delay:
        owed = state["owed"] > 0
        v = _reset(p, v, owed)
    over = v
    if p.reset_recheck:  # state["v"] is still the previous tick's stored value here
        over = saturate32(v - _above(p, state["v"]) * p.v_subtract)
    spikes = _above(p, over)
    if p.reset_delay:
        state["owed"] = spikes.astype(np.int64)
    else:
        v = _reset(p, v, spikes)
    state["v"] = v
    return spikes.astype(np.int64)


def _above(p: NeuronParams, v: np.ndarray) -> np.ndarray:
    return (v >= p.v_thresh) if p.spike_compare == ">=" else (v > p.v_thresh)


def _reset(p: NeuronParams, v: np.ndarray, where: np.ndarray) -> np.ndarray:
    if p.reset == "subtract":
        return saturate32(v - where * p.v_subtract)
    return np.where(where, p.v_reset, v)
