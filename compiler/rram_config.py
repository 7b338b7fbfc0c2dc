"""The RRAM family's hardware description: arrays, periphery and devices.

An RRAM target is a set of identical crossbar arrays (``rows`` x ``cols``
physical cells), each cell holding one of ``levels`` conductances between the
device's ``g_min_us`` and ``g_max_us``; a signed weight takes a differential
pair of cells (G+ in one column, G- in the next), so an array holds
``rows`` x ``cols // 2`` weights. Rows are driven through DACs, column pairs
are read by ADCs. ``RramConfig.from_mapping`` validates the ``[rram]`` section
of a ``hw_configs/rram-*.toml`` file and names the file and the bad key.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping

from ..ir.errors import ConfigError
from .rram_devices import DEVICE_PRESETS, DeviceModel, Drift, ProgrammingNoise

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
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<config>") -> "RramConfig":
        """Build from a TOML ``[rram]`` table: keys ``array``, ``periphery``, ``device``."""
        data = dict(data)
        try:
            geometry = CrossbarGeometry(**_section(data, "array", source, CrossbarGeometry))
            periphery = Periphery(**_section(data, "periphery", source, Periphery))
            device = _device(dict(data.pop("device", {})), source)
            pack = bool(data.pop("pack", True))
            name = str(data.pop("name", source))
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}", parameter=exc.parameter, value=exc.value, limit=exc.limit) from exc
        if data:
            raise ConfigError(f"{source}: unknown key(s) in [rram]: {sorted(data)}", parameter=sorted(data)[0])
        return cls(name=name, geometry=geometry, periphery=periphery, device=device, pack=pack)


def _section(data: dict[str, Any], key: str, source: str, cls: type) -> dict[str, Any]:
    section = dict(data.pop(key, {}))
    allowed = set(cls.__dataclass_fields__)
    unknown = set(section) - allowed
    if unknown:
        raise ConfigError(f"unknown key(s) in [rram.{key}]: {sorted(unknown)} (allowed: {sorted(allowed)})",
                          parameter=f"{key}.{sorted(unknown)[0]}")
    return section


_DEVICE_KEYS = {
    "preset", "g_min_us", "g_max_us", "read_sigma_rel", "stuck_on_rate", "stuck_off_rate",
    "programming", "drift",
}


def _device(section: dict[str, Any], source: str) -> DeviceModel:
    """A DeviceModel from a preset name plus overrides, or from explicit figures."""
    unknown = set(section) - _DEVICE_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) in [rram.device]: {sorted(unknown)}", parameter=f"device.{sorted(unknown)[0]}")
    preset = section.pop("preset", None)
    if "programming" in section:
        prog = dict(section.pop("programming"))
        if "coeffs_us" in prog:
            prog["coeffs_us"] = tuple(float(c) for c in prog["coeffs_us"])
        section["programming"] = ProgrammingNoise(**prog)
    if "drift" in section:
        section["drift"] = Drift(**dict(section.pop("drift")))
    if preset is None or preset == "ideal":
        section.setdefault("g_min_us", 0.0)
        section.setdefault("g_max_us", 40.0)
        return DeviceModel(**section)
    if preset not in DEVICE_PRESETS:
        raise ConfigError(f"unknown device preset {preset!r} (known: {sorted(DEVICE_PRESETS)})",
                          parameter="device.preset", value=preset)
    base_args = {k: section.pop(k) for k in ("g_min_us", "g_max_us") if k in section}
    return DEVICE_PRESETS[preset](**base_args, **section)
