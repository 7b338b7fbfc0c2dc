"""Hardware targets: the schema of ``hw_configs/*.toml`` and its loader.

A target file has four tables: ``[target]`` (name, family, description),
``[numeric]`` (the family's arithmetic: bit widths, shifts, exponent ranges),
``[limits]`` (resources: cores, neurons, synapses, fan-in/out, delays, routing
entries) and, for families with analog devices, ``[device]``. Each table is
checked against a frozen dataclass: unknown keys, missing keys, wrong types and
out-of-range values raise ``ConfigError`` naming the file, the key and why.

To extend a family (SpiNNaker, RRAM), add a field with a default to its
dataclass below (``SpiNNakerNumeric``, ``CrossbarNumeric``, ``CrossbarDevice``)
and the key to the TOML files; nothing else changes. Limits (chip data) live
in the files, never in code.
"""
from __future__ import annotations

import math
import tomllib
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from ..ir.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "hw_configs"
#: Largest config file read (the shipped ones are 1-3 kB); checked before the file is read or parsed.
MAX_CONFIG_BYTES = 1 << 20
#: Ceilings for numeric keys whose schema states no maximum: no chip figure (cores, neurons,
#: synapses, bytes, steps) reaches 2^40, and no physical quantity in these units reaches 10^12.
MAX_CONFIG_INT = 1 << 40
MAX_CONFIG_FLOAT = 1e12


def _range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"min": lo, "max": hi}


# --- numeric formats, one dataclass per family ------------------------------------


@dataclass(frozen=True)
class LoihiNumeric:
    """Lava's fixed-point LIF + Dense arithmetic (``docs/semantics.md`` section 3)."""

    state_bits: int = field(metadata=_range(8, 32))  # u and v
    decay_bits: int = field(metadata=_range(1, 16))  # du, dv unsigned
    decay_offset_u: int = field(metadata=_range(0, 1))  # Lava's ds_offset
    decay_offset_v: int = field(metadata=_range(0, 1))  # Lava's dm_offset
    threshold_bits: int = field(metadata=_range(1, 24))  # vth unsigned
    threshold_shift: int = field(metadata=_range(0, 16))  # vth << shift
    activation_shift: int = field(metadata=_range(0, 16))  # a_in << shift
    activation_bits: int = field(metadata=_range(1, 32))  # Dense a_out precision
    weight_bits: int = field(metadata=_range(1, 8))  # num_weight_bits
    weight_exp_min: int = field(metadata=_range(-16, 16))
    weight_exp_max: int = field(metadata=_range(-16, 16))
    bias_mant_bits: int = field(metadata=_range(2, 16))  # signed
    bias_exp_bits: int = field(metadata=_range(0, 4))  # unsigned
    delay_bits: int = field(default=0, metadata=_range(0, 8))
    spike_compare: str = field(default=">", metadata={"choices": (">",)})


@dataclass(frozen=True)
class SpiNNakerNumeric:
    """sPyNNaker's fixed point (s16.15 state, 16-bit weights); extended by the SpiNNaker family."""

    state_format: str = field(metadata={"choices": ("s16.15",)})
    weight_bits: int = field(metadata=_range(1, 32))
    ring_buffer_bits: int = field(metadata=_range(1, 32))
    timestep_us: int = field(metadata=_range(1, None))
    spike_compare: str = field(default=">=", metadata={"choices": (">=", ">")})
    machine_width: int | None = field(default=None, metadata=_range(1, 256))  # chips; None: near-square grid of `chips`
    machine_height: int | None = field(default=None, metadata=_range(1, 256))
    wrap_around: bool = False  # torus links on a "grid" machine; real boards set their own (spinnaker_boards)
    board: str = field(default="grid", metadata={"choices": ("grid", "spinn5", "spin2")})  # chip layout: compiler/spinnaker/boards.py


@dataclass(frozen=True)
class CrossbarNumeric:
    """Analog crossbar tiles with DAC/ADC periphery (aihwkit ``IOParameters``); extended by the RRAM family."""

    tile_rows: int = field(metadata=_range(1, None))
    tile_cols: int = field(metadata=_range(1, None))
    dac_bits: int = field(metadata=_range(1, 32))
    adc_bits: int = field(metadata=_range(1, 32))
    out_bound: float = field(metadata=_range(0, None))
    out_noise: float = field(default=0.0, metadata=_range(0, None))
    neuron_format: str = field(default="float32", metadata={"choices": ("float32", "float64")})
    # RRAM family (compiler/rram/config.py): cells, read voltage, input scaling, IR drop, packing
    levels: int = field(default=16, metadata=_range(2, 65536))  # conductance levels per cell
    cells_per_weight: int = field(default=2, metadata=_range(2, 2))  # differential pair G+/G-
    v_read_v: float = field(default=0.2, metadata=_range(0, None))
    input_scaling: str = field(default="abs_max", metadata={"choices": ("abs_max", "none")})
    ir_drop_r_wire_ohm: float = field(default=0.0, metadata=_range(0, None))
    pack_tiles: bool = True


@dataclass(frozen=True)
class CrossbarDevice:
    """The memory device of a crossbar (conductance range and noise model)."""

    g_max_us: float = field(metadata=_range(0, None))
    g_min_us: float = field(default=0.0, metadata=_range(0, None))
    noise_model: str = field(default="none", metadata={"choices": ("none", "pcm_like", "reram_wan2022", "reram_cmo")})
    drift_t0_s: float = field(default=20.0, metadata=_range(0, None))
    read_time_s: float = field(default=250e-9, metadata=_range(0, None))
    # RRAM family (compiler/rram/devices.py): scales and overrides of the noise model's figures
    prog_noise_scale: float = field(default=1.0, metadata=_range(0, None))
    read_noise_rel: float | None = field(default=None, metadata=_range(0, None))  # None: the model's
    drift_nu_mean: float | None = field(default=None, metadata=_range(0, None))  # power-law drift
    drift_nu_std: float | None = field(default=None, metadata=_range(0, None))
    stuck_on_rate: float = field(default=0.0, metadata=_range(0, 1))
    stuck_off_rate: float = field(default=0.0, metadata=_range(0, 1))


NUMERIC_SCHEMAS: dict[str, type] = {"loihi": LoihiNumeric, "spinnaker": SpiNNakerNumeric, "rram": CrossbarNumeric}
DEVICE_SCHEMAS: dict[str, type] = {"rram": CrossbarDevice}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one target. ``None`` means the figure is unknown or does not apply."""

    chips: int | str = field(metadata=_range(1, None) | {"words": ("auto",)})  # "auto": the smallest machine that fits
    cores_per_chip: int = field(metadata=_range(1, None))
    neurons_per_core: int = field(metadata=_range(1, None))
    synapses_per_core: int | None = field(default=None, metadata=_range(1, None))
    synaptic_memory_bytes_per_core: int | None = field(default=None, metadata=_range(1, None))
    max_fan_in: int | None = field(default=None, metadata=_range(1, None))
    max_fan_out: int | None = field(default=None, metadata=_range(1, None))
    max_delay_steps: int | None = field(default=None, metadata=_range(0, None))
    routing_table_entries: int | None = field(default=None, metadata=_range(1, None))
    neurons_per_chip: int | None = field(default=None, metadata=_range(1, None))
    synapses_per_chip: int | None = field(default=None, metadata=_range(1, None))
    #: Loihi: distinct (du, dv) profiles one layer may be split into (compartment configs of one core)
    decay_configs_per_core: int | None = field(default=None, metadata=_range(1, None))
    max_chips: int | None = field(default=None, metadata=_range(1, None))  # the largest machine chips = "auto" may pick
    max_delay_stages: int | None = field(default=None, metadata=_range(0, None))  # chained delay stages per synapse
    #: Loihi: distinct vth one layer may use (threshold configs of one core)
    threshold_configs_per_core: int | None = field(default=None, metadata=_range(1, None))
    #: Loihi: over ``decay_configs_per_core``, cluster the decays (reporting the error) instead of failing
    decay_clustering: bool = True


@dataclass(frozen=True)
class Target:
    """A named hardware target, as read from its TOML file (``source_text`` kept verbatim)."""

    name: str
    family: str
    description: str
    numeric: Any
    limits: Limits
    device: Any = None
    default_dt_s: float | None = None
    source_path: str = ""
    source_text: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The target as plain data (for manifests and reports)."""
        out = {
            "name": self.name, "family": self.family, "description": self.description,
            "default_dt_s": self.default_dt_s, "numeric": asdict(self.numeric), "limits": asdict(self.limits),
        }
        if self.device is not None:
            out["device"] = asdict(self.device)
        return out


# --- checking ---------------------------------------------------------------------


def _type_ok(value: Any, annotation: Any) -> bool:
    hint = typing.get_origin(annotation)
    if hint in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _build(cls: type, table: Any, file: str, section: str) -> Any:
    """``cls(**table)`` after checking keys, types and ranges."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{file}: [{section}] must be a table", parameter=section)
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(f"{file}: [{section}] unknown key '{key}' (allowed: {', '.join(known)})", parameter=key)
    values: dict[str, Any] = {}
    for name, f in known.items():
        where = f"{file}: [{section}] {name}"
        if name not in table:
            if f.default is MISSING:
                raise ConfigError(f"{where}: missing required key", parameter=name)
            continue
        value = table[name]
        if not _type_ok(value, hints[name]):
            raise ConfigError(f"{where}: expected {hints[name]}, got {value!r}", parameter=name, value=value)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: {value!r} is not finite", parameter=name, value=value)
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise ConfigError(f"{where}: {value} does not fit a 64-bit integer (TOML's range)", parameter=name, value=value,
                              limit=(-(2**63), 2**63 - 1))
        if isinstance(value, float) and hints[name] is float:
            value = float(value)
        words = f.metadata.get("words")
        if isinstance(value, str) and words is not None:
            if value not in words:
                raise ConfigError(f"{where}: {value!r} is not a number or one of {words}", parameter=name, value=value, limit=words)
            values[name] = value
            continue
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if hi is None and isinstance(value, (int, float)) and not isinstance(value, bool):
            hi = MAX_CONFIG_FLOAT if isinstance(value, float) else MAX_CONFIG_INT  # "no maximum" still means a real chip
        if value is not None and ((lo is not None and value < lo) or (hi is not None and value > hi)):
            raise ConfigError(f"{where}: {value!r} outside [{lo}, {hi}]", parameter=name, value=value, limit=(lo, hi))
        choices = f.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of {choices}", parameter=name, value=value, limit=choices)
        values[name] = value
    return cls(**values)


def _check_consistency(target: Target, file: str) -> None:
    n = target.numeric
    if isinstance(n, LoihiNumeric) and n.weight_exp_min > n.weight_exp_max:
        raise ConfigError(f"{file}: [numeric] weight_exp_min {n.weight_exp_min} > weight_exp_max {n.weight_exp_max}", parameter="weight_exp_min")


def parse_target(text: str, file: str = "<string>") -> Target:
    """A Target from TOML text; ``file`` is only used in error messages."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{file}: {len(text)} characters, over the limit of {MAX_CONFIG_BYTES} for a config",
                          value=len(text), limit=MAX_CONFIG_BYTES)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    allowed = {"target", "numeric", "limits", "device"}
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{file}: unknown table or key '{key}' (allowed: {', '.join(sorted(allowed))})", parameter=key)
    for key in ("target", "numeric", "limits"):
        if key not in data:
            raise ConfigError(f"{file}: missing table [{key}]", parameter=key)
    head = dict(data["target"]) if isinstance(data["target"], Mapping) else data["target"]
    meta = _build(_TargetHead, head, file, "target")
    numeric_cls = NUMERIC_SCHEMAS.get(meta.family)
    if numeric_cls is None:
        raise ConfigError(f"{file}: [target] family: unknown family '{meta.family}' (known: {', '.join(NUMERIC_SCHEMAS)})", parameter="family", value=meta.family)
    device = None
    if "device" in data:
        device_cls = DEVICE_SCHEMAS.get(meta.family)
        if device_cls is None:
            raise ConfigError(f"{file}: [device] is not allowed for family '{meta.family}'", parameter="device")
        device = _build(device_cls, data["device"], file, "device")
    target = Target(
        name=meta.name, family=meta.family, description=meta.description,
        numeric=_build(numeric_cls, data["numeric"], file, "numeric"),
        limits=_build(Limits, data["limits"], file, "limits"),
        device=device, default_dt_s=meta.default_dt_s, source_path=file, source_text=text,
    )
    _check_consistency(target, file)
    return target


@dataclass(frozen=True)
class _TargetHead:
    name: str
    family: str
    description: str = ""
    default_dt_s: float | None = field(default=None, metadata=_range(0, None))


def shown_path(source_path: str) -> str:
    """A config file as messages and reports name it: ``hw_configs/<file>`` for a built-in target
    (so the same compile gives the same bytes in any checkout), the path as given otherwise."""
    path = Path(source_path)
    return f"hw_configs/{path.name}" if path.parent.resolve() == CONFIG_DIR else source_path


def load_target(name_or_path: str | Path | Target) -> Target:
    """A target by name (``hw_configs/<name>.toml``) or by path to a TOML file."""
    if isinstance(name_or_path, Target):
        return name_or_path
    text_name = str(name_or_path)
    path = Path(text_name)
    if not (path.suffix == ".toml" or path.exists()):
        path = CONFIG_DIR / f"{text_name}.toml"
        if not path.exists():
            known = ", ".join(t.name for t in list_targets())
            raise ConfigError(f"unknown target '{text_name}' (known: {known}; or pass a path to a .toml file)", value=text_name)
    if not path.is_file():
        raise ConfigError(f"{path}: " + ("not a regular file" if path.exists() else "no such config file"))
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size} bytes, over the limit of {MAX_CONFIG_BYTES} bytes for a config (not read)",
                          value=size, limit=MAX_CONFIG_BYTES)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)  # the file may grow after the stat
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: over the limit of {MAX_CONFIG_BYTES} bytes for a config", limit=MAX_CONFIG_BYTES)
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_target(text, str(path))


def with_chips(target: Target, chips: int | str | None) -> Target:
    """``target`` with ``[limits] chips`` set to ``chips`` (a count, or ``"auto"``: size the machine to
    the network); ``None`` keeps the file's value. What ``--chips`` does."""
    if chips is None:
        return target
    if isinstance(chips, str):
        text = chips.strip().lower()
        if text != "auto" and not text.isdigit():
            raise ConfigError(f"chips must be a positive number or 'auto', got {chips!r}", parameter="chips", value=chips)
        chips = "auto" if text == "auto" else int(text)
    if isinstance(chips, bool) or (isinstance(chips, int) and chips < 1):
        raise ConfigError(f"chips must be a positive number or 'auto', got {chips!r}", parameter="chips", value=chips, limit=1)
    text = _set_limits_key(target.source_text, "chips", f'"{chips}"' if isinstance(chips, str) else str(chips)) if target.source_text else ""
    return replace(target, limits=replace(target.limits, chips=chips), source_text=text)


def _set_limits_key(text: str, key: str, value: str) -> str:
    """The TOML text with ``[limits] key = value`` (replaced, or added), so a saved program's target says it."""
    import re

    head = re.search(r"^\[limits\][^\n]*\n", text, flags=re.M)
    if head is None:
        return text + f"\n[limits]\n{key} = {value}  # set by --{key}\n"
    end = re.search(r"^\[", text[head.end():], flags=re.M)
    stop = head.end() + (end.start() if end else len(text) - head.end())
    body, n = re.subn(rf"^{key}\s*=[^\n]*", f"{key} = {value}  # set by --{key}", text[head.end():stop], count=1, flags=re.M)
    if n == 0:
        body = f"{key} = {value}  # set by --{key}\n" + body
    return text[:head.end()] + body + text[stop:]


def list_targets() -> list[Target]:
    """Every target shipped in ``hw_configs/``, sorted by name."""
    return sorted((load_target(p) for p in CONFIG_DIR.glob("*.toml")), key=lambda t: t.name)
