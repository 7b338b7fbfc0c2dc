"""One analog matrix-vector read of a crossbar tile, from DAC to digital partial sum.

The chain, per tile and per read (``docs/semantics.md`` section 5):

1. input scaling (``abs_max``: divide each input vector by its largest
   magnitude, multiply the result back digitally; aihwkit's default noise
   management), then the DAC: clip to [-1, 1] and round to the step
   ``2 / (2^bits - 2)`` (round half to even). Binary spikes pass exactly;
2. row voltages ``v = x * v_read``; column currents ``I = v @ (G+ - G-)``
   (uA for uS and V). Read noise is per cell and per read; the sum of
   independent cell noises on a column is drawn directly as
   ``sigma_g * sqrt(2) * ||v||_2`` per column (exact in distribution);
3. optional IR drop along the column wire (first-order, see ``_ir_drop``);
4. the ADC, in units of one full-scale cell current ``(g_max - g_min) v_read``:
   add ``out_noise`` Gaussian, clip to ``adc_bound``, round to the step
   ``2 bound / (2^bits - 2)``;
5. back to weight units: ``partial = y * (levels - 1) * w_step * input scale``,
   times the tile's drift-compensation factor.

With ideal converters and devices, step 5 gives exactly ``x @ (k * w_step)``
up to float64 rounding, which is why the ideal simulator matches the float
reference on the quantised weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...compiler.rram.crossbar_map import CrossbarTile
from ...compiler.rram.config import RramConfig


@dataclass(frozen=True, eq=False)
class ProgrammedTile:
    """A tile as the array holds it at the read time: conductances in uS."""

    tile: CrossbarTile
    g_pos_us: np.ndarray
    g_neg_us: np.ndarray
    compensation: float = 1.0


def quantise_symmetric(x: np.ndarray, bound: float, bits: int | None) -> np.ndarray:
    """Clip to [-bound, bound] and round to ``2 bound / (2^bits - 2)`` (aihwkit's quantiser)."""
    x = np.clip(x, -bound, bound)
    if bits is None:
        return x
    step = 2.0 * bound / (2**bits - 2)
    return np.rint(x / step) * step


def dac(x: np.ndarray, bits: int | None, scaling: str) -> tuple[np.ndarray, np.ndarray]:
    """(normalised DAC output in [-1, 1], per-vector scale to multiply back)."""
    if scaling == "abs_max":
        scale = np.abs(x).max(axis=-1, keepdims=True)
        safe = np.where(scale > 0, scale, 1.0)
        return quantise_symmetric(x / safe, 1.0, bits), safe
    return quantise_symmetric(x, 1.0, bits), np.ones(x.shape[:-1] + (1,))


def _ir_drop(v: np.ndarray, g_diff: np.ndarray, g_pos: np.ndarray, g_neg: np.ndarray, r_ohm: float) -> np.ndarray:
    """Column currents with a first-order IR drop along each column wire.

    The sense amplifier sits below the last row. The wire segment below row
    k carries the current of rows 0..k, so the voltage lost at row i is
    ``r * sum_{k >= i} sum_{m <= k} I_m`` (computed with the ideal currents,
    in V for ohm and A). Each cell then sees ``v_i - drop_i``; G+ and G-
    columns carry their own currents and drops.
    """
    out = np.zeros((v.shape[0], g_diff.shape[1]))
    for g, sign in ((g_pos, 1.0), (g_neg, -1.0)):
        cell_ua = v[:, :, None] * g[None]  # (N, rows, cols)
        seg = np.cumsum(cell_ua, axis=1)  # current below row k
        drop_v = r_ohm * 1e-6 * np.cumsum(seg[:, ::-1], axis=1)[:, ::-1]
        out += sign * ((v[:, :, None] - drop_v) * g[None]).sum(axis=1)
    return out


def read_tile(
    programmed: ProgrammedTile, x: np.ndarray, config: RramConfig, rng: np.random.Generator | None,
) -> np.ndarray:
    """Partial sums ``x @ W_tile`` (N, outputs) as the array and ADC deliver them."""
    p, geometry, device = config.periphery, config.geometry, config.device
    tile = programmed.tile
    x_dac, x_scale = dac(x, p.dac_bits, p.input_scaling)
    v = x_dac * p.v_read_v
    g_diff = programmed.g_pos_us - programmed.g_neg_us
    if p.ir_drop_r_wire_ohm > 0:
        current_ua = _ir_drop(v, g_diff, programmed.g_pos_us, programmed.g_neg_us, p.ir_drop_r_wire_ohm)
    else:
        current_ua = v @ g_diff
    if device.read_sigma_rel > 0 and rng is not None:
        sigma = device.read_sigma_us * np.sqrt(2.0) * np.linalg.norm(v, axis=1, keepdims=True)
        current_ua = current_ua + sigma * rng.standard_normal(current_ua.shape)
    y = current_ua / (device.g_range_us * p.v_read_v)
    if p.out_noise > 0 and rng is not None:
        y = y + p.out_noise * rng.standard_normal(y.shape)
    if p.adc_bound is not None:
        y = quantise_symmetric(y, p.adc_bound, p.adc_bits)
    return y * ((geometry.levels - 1) * tile.w_step * programmed.compensation) * x_scale


def ideal_partial(tile: CrossbarTile, x: np.ndarray) -> np.ndarray:
    """What ``read_tile`` computes with every non-ideality off: ``x @ (k * w_step)``."""
    return x @ tile.weights()
