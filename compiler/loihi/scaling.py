"""Per-neuron float coefficients of a discretised neuron, and Loihi's integer encodings of them.

The float reference (``docs/semantics.md`` section 2) advances each neuron kind
at dt by forward Euler. Written per step, every kind is one instance of Lava's
two-state update ``u <- (1 - a_u) u + g x;  v <- (1 - a_v) v + u + b``:

* CubaLIF: ``a_u = dt/tau_syn``, ``a_v = dt/tau_mem``, ``g = a_v r a_u w_in``
  (u is the synaptic current I measured in volts per step: ``u = a_v r I``),
  ``b = a_v v_leak``.
* LIF / LI: ``a_u = 1`` (u holds just this step's input), ``a_v = dt/tau``,
  ``g = a_v r``, ``b = a_v v_leak``.
* IF / Integrator: ``a_u = 1``, ``a_v = 0``, ``g = r``, ``b = 0``.

A constant synaptic input c (an Affine or Conv bias) adds ``g c / a_u`` to v
per step in steady state; Loihi has no constant input to u, so it goes to
Lava's v bias (exact for ``a_u = 1``, the steady state for CubaLIF).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...ir.errors import CompileError
from ...ir.nodes import IF, LI, LIF, CubaLIF, Integrator, Node
from ..target import LoihiNumeric


@dataclass(frozen=True, eq=False)
class NeuronCoefficients:
    """Per-neuron float coefficients of the two-state update (all arrays flat, length n)."""

    a_u: np.ndarray
    a_v: np.ndarray
    gain: np.ndarray
    leak_bias: np.ndarray
    v_threshold: np.ndarray | None
    v_reset: np.ndarray
    reset: str
    reset_delay: bool
    reset_recheck: bool
    spiking: bool
    has_current: bool


def neuron_coefficients(name: str, node: Node, dt_s: float | None) -> NeuronCoefficients:
    """The discretised coefficients of one neuron node (see the module docstring)."""
    flat = lambda a: np.asarray(a, dtype=np.float64).reshape(-1)
    if isinstance(node, (LIF, CubaLIF, LI)) and dt_s is None:
        raise CompileError(f"{node.kind} needs a time step: pass dt_s", node=name, parameter="dt")
    spiking = isinstance(node, (IF, LIF, CubaLIF))
    ones = np.ones_like(flat(node.r))
    if isinstance(node, CubaLIF):
        a_u, a_v = dt_s / flat(node.tau_syn), dt_s / flat(node.tau_mem)
        gain, leak = a_v * flat(node.r) * a_u * flat(node.w_in), a_v * flat(node.v_leak)
    elif isinstance(node, (LIF, LI)):
        a_u, a_v = ones, dt_s / flat(node.tau)
        gain, leak = a_v * flat(node.r), a_v * flat(node.v_leak)
    elif isinstance(node, (IF, Integrator)):
        a_u, a_v, gain, leak = ones, 0 * ones, flat(node.r), 0 * ones
    else:
        raise CompileError(f"{node.kind} is not a neuron the Loihi family can run", node=name)
    return NeuronCoefficients(
        a_u=a_u, a_v=a_v, gain=gain, leak_bias=leak,
        v_threshold=flat(node.v_threshold) if spiking else None,
        v_reset=flat(node.v_reset) if spiking else 0 * ones,
        reset=getattr(node, "reset", "zero"), reset_delay=bool(getattr(node, "reset_delay", False)),
        reset_recheck=bool(getattr(node, "reset_recheck", False)),
        spiking=spiking, has_current=isinstance(node, CubaLIF),
    )


def quantise_decays(name: str, c: NeuronCoefficients, fmt: LoihiNumeric) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per neuron, Lava's (du, dv): ``1 - a_u = (4096 - du - 1)/4096``, ``1 - a_v = (4096 - dv)/4096``;
    round to nearest, clamp to the decay bits. Lava holds one pair per process: neurons that
    differ become several populations (``loihi_populations``)."""
    unity = 1 << fmt.decay_bits
    top = unity - 1
    warnings: list[str] = []
    du_all = np.rint(c.a_u * unity) - fmt.decay_offset_u
    dv_all = np.rint(c.a_v * unity) - fmt.decay_offset_v
    for label, arr, a in (("du", du_all, c.a_u), ("dv", dv_all, c.a_v)):
        if (arr < 0).any() or (arr > top).any():
            warnings.append(
                f"node '{name}': decay {label} for dt/tau in [{a.min():.3g}, {a.max():.3g}] is outside 0..{top}; "
                f"clamped (raise dt or shorten tau for a faster decay, lower dt for a slower one)"
            )
    du = np.clip(du_all, 0, top).astype(np.int64)
    dv = np.clip(dv_all, 0, top).astype(np.int64)
    return du, dv, warnings


def one_or_many(values: np.ndarray) -> int | np.ndarray:
    """The one value when every neuron has it (what a single Lava process holds), else the array."""
    values = np.asarray(values, dtype=np.int64)
    return int(values[0]) if values.size and bool((values == values[0]).all()) else values


def effective_decays(du: int | np.ndarray, dv: int | np.ndarray, fmt: LoihiNumeric) -> tuple[Any, Any]:
    """The fractions (a_u, a_v) the integer decays remove per step (per neuron for arrays)."""
    unity = float(1 << fmt.decay_bits)
    return (du + fmt.decay_offset_u) / unity, (dv + fmt.decay_offset_v) / unity


def encode_bias(bias_int: np.ndarray, fmt: LoihiNumeric) -> tuple[np.ndarray, np.ndarray, int]:
    """Smallest exponent per neuron with ``bias_int ~= bias_mant << bias_exp``; returns also #saturated."""
    mant_max = (1 << (fmt.bias_mant_bits - 1)) - 1
    mant_min = -(1 << (fmt.bias_mant_bits - 1))
    exp_max = (1 << fmt.bias_exp_bits) - 1
    bias_int = np.asarray(bias_int, dtype=np.float64)
    exps = np.zeros(bias_int.shape, dtype=np.int64)
    for e in range(exp_max, -1, -1):
        fits = (np.rint(bias_int / 2.0**e) <= mant_max) & (np.rint(bias_int / 2.0**e) >= mant_min)
        exps = np.where(fits, e, exps)
    mant_raw = np.rint(bias_int / 2.0**exps)
    saturated = int(((mant_raw > mant_max) | (mant_raw < mant_min)).sum())
    mant = np.clip(mant_raw, mant_min, mant_max).astype(np.int32)
    return mant, exps.astype(np.int32), saturated


def sign_mode_of(values: np.ndarray) -> str:
    """Lava's ``determine_sign_mode``: excitatory if all >= 0, inhibitory if all <= 0, else mixed."""
    if values.size == 0 or values.min() >= 0:
        return "excitatory"
    if values.max() <= 0:
        return "inhibitory"
    return "mixed"


def weight_limits(sign_mode: str, fmt: LoihiNumeric) -> tuple[int, int, int]:
    """(min, max, step) of integer weights Lava keeps after ``clip_weights`` and ``truncate_weights``."""
    full = 1 << fmt.weight_bits
    step = 2 if sign_mode == "mixed" else 1  # truncate_weights drops the LSB of mixed-sign weights
    if sign_mode == "mixed":
        return -full, full - step, step
    if sign_mode == "excitatory":
        return 0, full - 1, 1
    return -(full - 1), 0, 1


def quantise_weights(scaled: np.ndarray, weight_exp: int, sign_mode: str, fmt: LoihiNumeric) -> np.ndarray:
    """Integer weights: ``scaled / 2**weight_exp`` rounded to the nearest value Lava keeps."""
    lo, hi, step = weight_limits(sign_mode, fmt)
    w = np.rint(scaled / (2.0**weight_exp * step)) * step
    return np.clip(w, lo, hi).astype(np.int32)


def lava_clip_and_truncate(weights: np.ndarray, sign_mode: str, num_weight_bits: int, fmt: LoihiNumeric) -> np.ndarray:
    """What Lava's ``PyDenseModelBitAcc`` does to weights at its first step (weightutils.py).

    ``clip_weights(num_bits=8)`` then ``truncate_weights``: arithmetic shift by
    ``8 - num_weight_bits + is_mixed`` (floor, not rounding); inhibitory
    weights are negated around both.
    """
    w = np.asarray(weights).astype(np.int32)
    mixed, inhib = sign_mode == "mixed", sign_mode == "inhibitory"
    if inhib:
        w = -w
    w = np.clip(w, (-(2**fmt.weight_bits)) * mixed, 2**fmt.weight_bits - 1)
    shift = fmt.weight_bits - num_weight_bits + int(mixed)
    w = (w >> shift) << shift
    return (-w if inhib else w).astype(np.int32)
