"""The RRAM family's hardware description: arrays, periphery and devices.

An RRAM target is a set of identical crossbar arrays (``rows`` x ``cols``
physical cells), each cell holding one of ``levels`` conductances between the
device's ``g_min_us`` and ``g_max_us``; a signed weight takes a differential
pair of cells (G+ in one column, G- in the next), so an array holds
``rows`` x ``cols // 2`` weights. Rows are driven through DACs, column pairs
are read by ADCs. ``RramConfig.from_target`` reads a loaded
``hw_configs/rram-*.toml`` target (schema and checks: ``compiler/target.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ...ir.errors import ConfigError
from .devices import DEVICE_PRESETS, DeviceModel

InputScaling = Literal["abs_max", "none"]


@dataclass(frozen=True)
class CrossbarGeometry:
    """Physical array size and what one cell can hold."""

    rows: int = 256
    cols: int = 256
    levels: int = 16
    cells_per_weight: int = 2

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "levels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 2:
                raise ConfigError(f"{name} must be an integer >= 2, got {value!r}", parameter=name, value=value, limit=">= 2")
        if self.cells_per_weight != 2:
            raise ConfigError(
                "only differential pairs are supported (cells_per_weight = 2); bit slicing is not implemented",
                parameter="cells_per_weight", value=self.cells_per_weight, limit=2,
            )
        if self.cols % self.cells_per_weight:
            raise ConfigError(f"cols ({self.cols}) must be a multiple of cells_per_weight", parameter="cols", value=self.cols)

    @property
    def weight_cols(self) -> int:
        """Weights (output neurons) one array holds side by side."""
        return self.cols // self.cells_per_weight


@dataclass(frozen=True)
class Periphery:
    """DACs, ADCs and the analog read, in aihwkit's normalised units.

    The ADC reads the differential column current in units of one full-scale
    cell, ``(g_max - g_min) * v_read``: ``adc_bound`` 12 means it saturates
    at twelve fully-on cells driven at full input; ``out_noise`` is the
    standard deviation of Gaussian noise added before the ADC in the same unit
    (aihwkit ``IOParameters``: 7-bit DAC, 9-bit ADC, bound 12, noise 0.06).
    ``None`` bits mean an ideal converter; ``adc_bound = None`` never clips.
    ``ir_drop_r_wire_ohm`` is the wire resistance between neighbouring cells
    of a column (0 = no IR drop; aihwkit's ``IOParametersIRDropT`` uses 0.15).
    """

    dac_bits: int | None = 7
    adc_bits: int | None = 9
    adc_bound: float | None = 12.0
    out_noise: float = 0.06
    v_read_v: float = 0.2
    input_scaling: InputScaling = "abs_max"
    ir_drop_r_wire_ohm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("dac_bits", "adc_bits"):
            bits = getattr(self, name)
            if bits is not None and (not isinstance(bits, int) or not 1 <= bits <= 24):
                raise ConfigError(f"{name} must be an integer in 1..24 or absent, got {bits!r}", parameter=name, value=bits)
        if self.adc_bound is not None and self.adc_bound <= 0:
            raise ConfigError("adc_bound must be positive", parameter="adc_bound", value=self.adc_bound, limit="> 0")
        if self.adc_bits is not None and self.adc_bound is None:
            raise ConfigError("a finite-resolution ADC needs adc_bound", parameter="adc_bound")
        if self.out_noise < 0 or self.v_read_v <= 0 or self.ir_drop_r_wire_ohm < 0:
            raise ConfigError("out_noise and ir_drop_r_wire_ohm must be >= 0 and v_read_v > 0", parameter="periphery")
        if self.input_scaling not in ("abs_max", "none"):
            raise ConfigError(f"input_scaling must be 'abs_max' or 'none', got {self.input_scaling!r}",
                              parameter="input_scaling", value=self.input_scaling)

    def ideal(self) -> "Periphery":
        """The same periphery with exact converters, no noise, no IR drop."""
        return replace(self, dac_bits=None, adc_bits=None, adc_bound=None, out_noise=0.0, ir_drop_r_wire_ohm=0.0)


@dataclass(frozen=True)
class RramConfig:
    """Everything the mapping pass and the analog simulator need to know."""

    name: str = "rram"
    geometry: CrossbarGeometry = field(default_factory=CrossbarGeometry)
    periphery: Periphery = field(default_factory=Periphery)
    device: DeviceModel = field(default_factory=lambda: DeviceModel(0.0, 40.0))
    pack: bool = True

    def ideal(self) -> "RramConfig":
        """Same arrays and levels; no noise, drift, faults, IR drop, exact DAC/ADC."""
        return replace(
            self,
            periphery=self.periphery.ideal(),
            device=DeviceModel(self.device.g_min_us, self.device.g_max_us),
        )

    @classmethod
    def from_target(cls, target: Any) -> "RramConfig":
        """The RRAM view of a loaded ``Target`` (family ``rram``, see ``compiler/target.py``).

        ``[numeric]`` gives the arrays and periphery, ``[device]`` names a
        noise model (``DEVICE_PRESETS``) and scales or overrides its figures.
        """
        if target.family != "rram":
            raise ConfigError(f"target '{target.name}' is family '{target.family}', not 'rram'", value=target.family)
        n, d = target.numeric, target.device
        if n.neuron_format != "float64":
            raise ConfigError(
                f"target '{target.name}': the RRAM family's neurons are float64 (docs/semantics.md section 5), "
                f"got neuron_format = {n.neuron_format!r}", parameter="neuron_format", value=n.neuron_format, limit="float64",
            )
        geometry = CrossbarGeometry(rows=n.tile_rows, cols=n.tile_cols, levels=n.levels, cells_per_weight=n.cells_per_weight)
        periphery = Periphery(
            dac_bits=n.dac_bits, adc_bits=n.adc_bits, adc_bound=n.out_bound, out_noise=n.out_noise,
            v_read_v=n.v_read_v, input_scaling=n.input_scaling, ir_drop_r_wire_ohm=n.ir_drop_r_wire_ohm,
        )
        return cls(name=target.name, geometry=geometry, periphery=periphery,
                   device=device_from_target(d), pack=n.pack_tiles)


def device_from_target(d: Any) -> DeviceModel:
    """A DeviceModel from a ``CrossbarDevice`` table: preset, then scales and overrides."""
    if d is None:
        raise ConfigError("an RRAM target needs a [device] table", parameter="device")
    if d.noise_model == "none":
        model = DeviceModel(d.g_min_us, d.g_max_us)
    elif d.noise_model in DEVICE_PRESETS:
        model = DEVICE_PRESETS[d.noise_model](g_min_us=d.g_min_us, g_max_us=d.g_max_us)
    else:
        raise ConfigError(f"unknown noise_model {d.noise_model!r}", parameter="noise_model", value=d.noise_model)
    drift = model.drift
    if drift.law == "power" or d.drift_nu_mean is not None:
        drift = replace(
            drift, law="power", t0_s=d.drift_t0_s,
            nu_mean=drift.nu_mean if d.drift_nu_mean is None else d.drift_nu_mean,
            nu_std=drift.nu_std if d.drift_nu_std is None else d.drift_nu_std,
        )
    return replace(
        model,
        programming=replace(model.programming, scale=model.programming.scale * d.prog_noise_scale),
        drift=drift,
        read_sigma_rel=model.read_sigma_rel if d.read_noise_rel is None else d.read_noise_rel,
        stuck_on_rate=d.stuck_on_rate,
        stuck_off_rate=d.stuck_off_rate,
    )
