"""Activity statistics for random graphs: thresholds scaled to the expected input.

A random weight matrix says nothing about how often a neuron fires: drawn
blindly, most graphs are silent or saturated, and an equivalence test on a
silent graph proves nothing. So the generator propagates, layer by layer, the
mean and variance of every element's output under the recommended input
(independent Bernoulli spikes of rate p: mean p, variance p(1-p)), derives the
mean and spread of each neuron's membrane potential, and puts the threshold at
``mean + drive * std`` (drive < 0: mostly above threshold, saturating;
drive > 1: sparse). This assumes independent inputs and ignores resets: it is
a scale, not a prediction, and ``tests/test_random_graphs.py`` measures how
many graphs actually spike in the float reference.

Membrane statistics, with ``a = dt/tau`` (``docs/semantics.md`` section 2):
- LIF: ``v = (1-a) v + a (v_leak + r x)``: mean ``v_leak + r mu``, variance
  ``a r^2 sigma^2 / (2-a)`` (a stationary AR(1) process).
- CubaLIF: the current ``I`` is such a process with ``w_in``; the membrane
  low-passes it: variance ``r^2 var_I tau_syn / (tau_syn + tau_mem)``.
- IF: no leak; over the ``1/p`` steps between spikes of a neuron firing at
  rate p, the sum of inputs has mean ``r mu / p`` and variance ``r^2 sigma^2 / p``
  (with a negative drift, only a single step's input can cross: one step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ir.errors import SpikecError

#: Firing rates assumed for a layer are kept in this range.
RATE_RANGE = (0.02, 0.5)


@dataclass(frozen=True, eq=False)
class Activity:
    """Mean and variance of each element of a node's output, per step."""

    mean: np.ndarray
    var: np.ndarray

    @staticmethod
    def spikes(rate: float, shape: tuple[int, ...]) -> "Activity":
        return Activity(np.full(shape, rate), np.full(shape, rate * (1.0 - rate)))

    def __add__(self, other: "Activity") -> "Activity":
        return Activity(self.mean + other.mean, self.var + other.var)


def expected_rate(drive: float) -> float:
    """The firing rate a threshold ``drive`` standard deviations above the mean suggests."""
    rate = 0.5 * math.erfc(drive / math.sqrt(2.0))
    return float(np.clip(rate, *RATE_RANGE))


def through_dense(weight: np.ndarray, bias: np.ndarray | None, source: Activity) -> Activity:
    mean = weight @ source.mean + (0.0 if bias is None else bias)
    return Activity(mean, (weight**2) @ source.var)


def through_conv(weight: np.ndarray, bias: np.ndarray, source: Activity, out_shape: tuple[int, ...]) -> Activity:
    """Per output channel, ignoring the borders (padding sees fewer inputs)."""
    m, v = float(source.mean.mean()), float(source.var.mean())
    per_channel_mean = weight.reshape(weight.shape[0], -1).sum(axis=1) * m + bias
    per_channel_var = (weight.reshape(weight.shape[0], -1) ** 2).sum(axis=1) * v
    expand = (slice(None),) + (None,) * (len(out_shape) - 1)
    return Activity(
        np.broadcast_to(per_channel_mean[expand], out_shape).copy(),
        np.broadcast_to(per_channel_var[expand], out_shape).copy(),
    )


def through_pool(source: Activity, window: int, average: bool, out_shape: tuple[int, ...]) -> Activity:
    """Sum (or mean) of ``window`` independent elements, per channel."""
    m = source.mean.reshape(source.mean.shape[0], -1).mean(axis=1)
    v = source.var.reshape(source.var.shape[0], -1).mean(axis=1)
    mean, var = (m, v / window) if average else (m * window, v * window)
    expand = (slice(None), None, None)
    return Activity(np.broadcast_to(mean[expand], out_shape).copy(), np.broadcast_to(var[expand], out_shape).copy())


def _settled(a: np.ndarray, steps: int) -> np.ndarray:
    """How far a process of decay ``1 - a`` has moved towards its mean after ``steps`` steps."""
    return 1.0 - (1.0 - a) ** steps


def membrane(
    kind: str, drive_in: Activity, params: dict[str, np.ndarray], dt_s: float, rate: float, horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of v for a neuron of ``kind`` under ``drive_in``.

    ``horizon`` (steps) is when the statistics are taken: a slow membrane
    (tau of 50 steps) is far from its stationary mean within a 50-step run.
    """
    mu, var = drive_in.mean, drive_in.var
    r = params["r"]
    if kind == "LIF":
        a = dt_s / params["tau"]
        return r * mu * _settled(a, horizon), np.sqrt(a * r**2 * var / (2.0 - a) * _settled(a, 2 * horizon))
    if kind == "CubaLIF":
        a_syn, a_mem = dt_s / params["tau_syn"], dt_s / params["tau_mem"]
        w_in = params["w_in"]
        var_i = a_syn * w_in**2 * var / (2.0 - a_syn) * _settled(a_syn, 2 * horizon)
        share = params["tau_syn"] / (params["tau_syn"] + params["tau_mem"])
        slow = np.minimum(a_syn, a_mem)  # the two-stage rise is dominated by the slower stage
        return r * w_in * mu * _settled(slow, horizon) ** 2, np.sqrt(r**2 * var_i * share * _settled(a_mem, 2 * horizon))
    if kind == "IF":
        window = np.where(mu > 0, np.minimum(1.0 / rate, horizon), 1.0)  # falling v: only one step's input can cross
        return r * mu * window, np.sqrt(r**2 * var * window)
    raise SpikecError(f"no membrane statistics for {kind}")


def firing_rates(v_mean: np.ndarray, v_std: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Per-neuron rates the layer's successors should expect: a quarter of the Gaussian tail above threshold.

    Less than the tail because a spike resets v and it takes time to climb
    back; a quarter rather than a half because an underestimate only makes the
    successors busier, while an overestimate silences them (measured over
    300 seeds of ``GraphSpec.small()``: 3% rather than 9% dead read-outs).
    At most ``RATE_RANGE[1]``.
    """
    z = (threshold - v_mean) / np.maximum(v_std, 1e-300)
    tail = 0.5 * np.vectorize(math.erfc)(z / math.sqrt(2.0))
    return np.minimum(0.25 * tail, RATE_RANGE[1])


def threshold_for(v_mean: np.ndarray, v_std: np.ndarray, drive: float, per_neuron: bool) -> np.ndarray:
    """``mean + drive * std``, per neuron or one per layer (the median), always positive.

    A layer's single threshold is the median of the per-neuron ones, so about
    half its neurons sit at the requested drive. The floor (half the
    typical spread of v) keeps thresholds positive for inhibited neurons.
    """
    wanted = v_mean + drive * v_std
    spread = float(np.mean(v_std))
    floor = 0.5 * spread if spread > 0 else max(0.1 * float(np.mean(np.abs(v_mean))), 1e-12)
    if per_neuron:
        return np.maximum(wanted, floor)
    return np.full(v_mean.shape, max(float(np.median(wanted)), floor))
