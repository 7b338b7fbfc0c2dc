"""Resistive-memory device models: what a programmed conductance becomes.

A crossbar cell is asked to hold a *target* conductance ``g_target_us`` (one of
the levels the mapping pass chose). What the array actually holds, and what a
read sees, differs in four seeded ways, each following IBM aihwkit's inference
noise models (``aihwkit/inference/noise/pcm.py``, ``reram.py``; the forms and
default figures are summarised in ``/work/shared/HARDWARE.md``):

1. programming noise, once per cell when the array is written:
   ``g_prog = max(0, g_target + sigma(g_target) * N(0, 1))`` with
   ``sigma(g) = scale * (g_max / g_ref) * sum_i c_i (g / g_max)^i`` (uS);
2. stuck cells, once per cell: stuck-on cells sit at ``g_max``, stuck-off cells
   at ``g_min`` whatever was programmed (fault rates per cell);
3. drift from programming to the read time ``t_s`` (seconds after programming):
   ``power``: ``g(t) = g_prog * ((t + t0) / t0)^(-nu)``, ``nu ~ |N(nu_mean, nu_std)|``
   drawn once per cell (aihwkit's PCM form with a constant coefficient);
   ``log``: ``g(t) = g_prog + c * ln(t) + (a ln t + b) N(0, 1)`` for ``t >= 1 s``
   (aihwkit's ReRAM CMO fit: ``c = -0.089 uS``, ``a = 0.042 uS``, ``b = 0.41 uS``);
4. read noise, fresh at every read: additive Gaussian of ``read_sigma_rel * g_max``
   per cell (aihwkit's ``w_noise`` with ``ADDITIVE_CONSTANT``, about 0.01 for ReRAM).

All conductances are in microsiemens. Every draw takes a ``numpy.random.Generator``
so that a seed fixes the outcome; the order of draws is fixed (programming,
stuck, drift), so the same seed gives the same array on every machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ...ir.errors import ConfigError

DriftLaw = Literal["none", "power", "log"]


@dataclass(frozen=True)
class ProgrammingNoise:
    """sigma(g) = scale * (g_max / g_ref) * sum_i coeffs_us[i] * (g / g_max)^i, in uS.

    ``g_ref_us`` is the g_max at which the polynomial was fitted (25 uS for
    aihwkit's PCM fit, 40 uS for the Wan 2022 ReRAM fit): the noise scales with
    the conductance range the array is operated at.
    """

    coeffs_us: tuple[float, ...] = ()
    g_ref_us: float = 25.0
    scale: float = 1.0

    def sigma_us(self, g_us: np.ndarray, g_max_us: float) -> np.ndarray:
        rel = np.asarray(g_us, dtype=np.float64) / g_max_us
        sigma = np.zeros_like(rel)
        for power, coeff in enumerate(self.coeffs_us):
            sigma = sigma + coeff * rel**power
        return np.maximum(sigma, 0.0) * (g_max_us / self.g_ref_us) * self.scale

    @property
    def enabled(self) -> bool:
        return self.scale != 0.0 and any(c != 0.0 for c in self.coeffs_us)


@dataclass(frozen=True)
class Drift:
    """Conductance change between programming and a read at ``t_s`` seconds."""

    law: DriftLaw = "none"
    nu_mean: float = 0.0
    nu_std: float = 0.0
    t0_s: float = 20.0
    log_coeff_us: float = 0.0
    log_std_slope_us: float = 0.0
    log_std_offset_us: float = 0.0

    def __post_init__(self) -> None:
        if self.law not in ("none", "power", "log"):
            raise ConfigError(f"drift law must be 'none', 'power' or 'log', got {self.law!r}",
                              parameter="drift.law", value=self.law)
        if self.t0_s <= 0:
            raise ConfigError("drift t0_s must be positive", parameter="drift.t0_s", value=self.t0_s, limit="> 0")

    def apply(self, g_prog_us: np.ndarray, t_s: float, rng: np.random.Generator) -> np.ndarray:
        """The conductances at ``t_s`` seconds after programming (one draw per cell)."""
        if t_s < 0:
            raise ConfigError("read time must be non-negative", parameter="t_s", value=t_s, limit=">= 0")
        if self.law == "power":
            nu = np.abs(self.nu_mean + self.nu_std * rng.standard_normal(g_prog_us.shape))
            return g_prog_us * ((t_s + self.t0_s) / self.t0_s) ** (-nu)
        if self.law == "log":
            log_t = np.log(max(t_s, 1.0))
            sigma = max(self.log_std_slope_us * log_t + self.log_std_offset_us, 0.0)
            noise = sigma * rng.standard_normal(g_prog_us.shape)
            return np.maximum(g_prog_us + self.log_coeff_us * log_t + noise, 0.0)
        return g_prog_us


@dataclass(frozen=True)
class DeviceModel:
    """One device technology: conductance range and its non-idealities.

    ``DeviceModel(g_min_us, g_max_us)`` alone is an ideal device: what is
    programmed is what is read, at any time.
    """

    g_min_us: float
    g_max_us: float
    programming: ProgrammingNoise = field(default_factory=ProgrammingNoise)
    drift: Drift = field(default_factory=Drift)
    read_sigma_rel: float = 0.0
    stuck_on_rate: float = 0.0
    stuck_off_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.g_min_us < self.g_max_us:
            raise ConfigError(
                f"conductance range must satisfy 0 <= g_min_us < g_max_us, got {self.g_min_us}..{self.g_max_us} uS",
                parameter="g_min_us/g_max_us", value=(self.g_min_us, self.g_max_us),
            )
        for name in ("stuck_on_rate", "stuck_off_rate"):
            rate = getattr(self, name)
            if not 0 <= rate <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {rate}", parameter=name, value=rate, limit="[0, 1]")
        if self.stuck_on_rate + self.stuck_off_rate > 1:
            raise ConfigError("stuck_on_rate + stuck_off_rate exceeds 1", parameter="stuck rates",
                              value=self.stuck_on_rate + self.stuck_off_rate, limit=1)
        if self.read_sigma_rel < 0:
            raise ConfigError("read_sigma_rel must be non-negative", parameter="read_sigma_rel",
                              value=self.read_sigma_rel, limit=">= 0")

    @property
    def g_range_us(self) -> float:
        return self.g_max_us - self.g_min_us

    @property
    def read_sigma_us(self) -> float:
        return self.read_sigma_rel * self.g_max_us

    def program(self, g_target_us: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Write the targets once: programming noise, then clamp to non-negative."""
        g = np.asarray(g_target_us, dtype=np.float64)
        if not self.programming.enabled:
            return g.copy()
        sigma = self.programming.sigma_us(g, self.g_max_us)
        return np.maximum(g + sigma * rng.standard_normal(g.shape), 0.0)

    def stuck_mask(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """int8 per cell: +1 stuck on (g_max), -1 stuck off (g_min), 0 healthy."""
        mask = np.zeros(shape, dtype=np.int8)
        if self.stuck_on_rate == 0 and self.stuck_off_rate == 0:
            return mask
        u = rng.random(shape)
        mask[u < self.stuck_on_rate] = 1
        mask[(u >= self.stuck_on_rate) & (u < self.stuck_on_rate + self.stuck_off_rate)] = -1
        return mask

    def program_and_age(
        self, g_target_us: np.ndarray, t_s: float, rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(conductances right after programming, conductances at ``t_s``), faults included.

        Draw order is fixed (programming noise, stuck faults, drift) so the
        result depends on the seed and the shape only. Stuck cells do not drift.
        """
        g = self.program(g_target_us, rng)
        stuck = self.stuck_mask(g.shape, rng)
        g = self._force_stuck(g, stuck)
        return g, self._force_stuck(self.drift.apply(g, t_s, rng), stuck)

    def conductance_at(self, g_target_us: np.ndarray, t_s: float, rng: np.random.Generator) -> np.ndarray:
        """What the cells hold at read time ``t_s``: programmed, stuck, drifted."""
        return self.program_and_age(g_target_us, t_s, rng)[1]

    def _force_stuck(self, g: np.ndarray, stuck: np.ndarray) -> np.ndarray:
        return np.where(stuck == 1, self.g_max_us, np.where(stuck == -1, self.g_min_us, g))

    def is_ideal(self) -> bool:
        return (
            not self.programming.enabled and self.drift.law == "none" and self.read_sigma_rel == 0
            and self.stuck_on_rate == 0 and self.stuck_off_rate == 0
        )


def pcm_like(g_min_us: float = 0.0, g_max_us: float = 25.0, **changes: object) -> DeviceModel:
    """aihwkit's ``PCMLikeNoiseModel`` figures with a constant drift coefficient.

    Programming noise ``0.26348 + 1.9650 x - 1.1731 x^2`` uS at g_max 25 uS;
    drift t0 = 20 s; nu ~ |N(0.049, 0.008)| (aihwkit's clipped mean and spread
    at the top of the range; aihwkit varies them with g, we keep them constant).
    """
    model = DeviceModel(
        g_min_us=g_min_us, g_max_us=g_max_us,
        programming=ProgrammingNoise((0.26348, 1.9650, -1.1731), g_ref_us=25.0),
        drift=Drift("power", nu_mean=0.049, nu_std=0.008, t0_s=20.0),
    )
    return _replace(model, changes)


def reram_wan2022(g_min_us: float = 0.0, g_max_us: float = 40.0, **changes: object) -> DeviceModel:
    """aihwkit's ``ReRamWan2022NoiseModel`` at 1 s: 4th-order programming noise, no drift.

    Coefficients (ascending powers of g/g_max, uS at g_max 40 uS):
    0.348, 16.030, -43.853, 45.393, -16.815. Read noise 0.01 of g_max, as
    aihwkit's docstring recommends for short-term ReRAM read noise.
    """
    model = DeviceModel(
        g_min_us=g_min_us, g_max_us=g_max_us,
        programming=ProgrammingNoise((0.348, 16.030, -43.853, 45.393, -16.815), g_ref_us=40.0),
        read_sigma_rel=0.01,
    )
    return _replace(model, changes)


def reram_cmo(g_min_us: float = 8.0, g_max_us: float = 90.0, **changes: object) -> DeviceModel:
    """aihwkit's ``ReRamCMONoiseModel`` (CMO/HfOx, 2 % acceptance range).

    Programming noise ``0.0112 + 0.0113 g`` uS (g in uS), written here in powers
    of g/g_max with g_ref = g_max; drift ``g - 0.089 ln t`` uS with spread
    ``0.042 ln t + 0.412`` uS; read noise 0.01 of g_max.
    """
    model = DeviceModel(
        g_min_us=g_min_us, g_max_us=g_max_us,
        programming=ProgrammingNoise((0.0112185391, 0.01129027418 * g_max_us), g_ref_us=g_max_us),
        drift=Drift("log", log_coeff_us=-0.08900206, log_std_slope_us=0.04201137, log_std_offset_us=0.41183342),
        read_sigma_rel=0.01,
    )
    return _replace(model, changes)


def _replace(model: DeviceModel, changes: dict[str, object]) -> DeviceModel:
    from dataclasses import replace

    return replace(model, **changes) if changes else model


DEVICE_PRESETS = {"pcm_like": pcm_like, "reram_wan2022": reram_wan2022, "reram_cmo": reram_cmo}
