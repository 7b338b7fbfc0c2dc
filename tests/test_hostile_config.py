"""Every numeric key of every config schema refuses NaN, ±inf, negatives and absurd sizes, naming file, key and limit.

tests/test_fuzz_config.py draws mutations at random; this walks the schema
itself, so a key added later (a new dataclass field) is covered without a
new test. Also: a config over ``MAX_CONFIG_BYTES`` is refused before it is
read. docs/hostile-input.md, "configs".
"""
from __future__ import annotations

import math
import tomllib
import typing
from dataclasses import fields

import pytest
from click.testing import CliRunner

from spikec.cli.main import cli
from spikec.compiler import target as T
from spikec.ir.errors import ConfigError

from fuzz import config_mutations as C

FAMILY_FILE = {"loihi": "loihi2.toml", "spinnaker": "spinnaker1.toml", "rram": "rram-256.toml"}


def numeric_keys():
    """(file, section, key, is_int, min, max) for every numeric field of every schema."""
    out = []
    for family, file in FAMILY_FILE.items():
        sections = {"target": T._TargetHead, "numeric": T.NUMERIC_SCHEMAS[family], "limits": T.Limits}
        if family in T.DEVICE_SCHEMAS:
            sections["device"] = T.DEVICE_SCHEMAS[family]
        for section, cls in sections.items():
            hints = typing.get_type_hints(cls)
            for f in fields(cls):
                kinds = set(typing.get_args(hints[f.name])) or {hints[f.name]}
                if kinds & {int, float}:
                    out.append((file, section, f.name, float not in kinds, f.metadata.get("min"), f.metadata.get("max")))
    return out


KEYS = numeric_keys()


def bad_values(is_int: bool, lo, hi):
    ceiling = hi if hi is not None else (T.MAX_CONFIG_INT if is_int else T.MAX_CONFIG_FLOAT)
    yield "nan", math.nan
    yield "inf", math.inf
    yield "-inf", -math.inf
    yield "negative", (-1 if is_int else -1.0) if (lo is None or lo > -1) else lo - 1
    yield "absurd", (ceiling + 1 if is_int else ceiling * 10) if ceiling else 10**30


def test_every_shipped_config_still_loads_under_the_ceilings():
    assert len(T.list_targets()) == len(list(T.CONFIG_DIR.glob("*.toml")))
    assert len(KEYS) > 50


@pytest.mark.parametrize("file, section, key, is_int, lo, hi", KEYS, ids=[f"{k[0]}-{k[1]}-{k[2]}" for k in KEYS])
def test_numeric_key_refuses_nan_inf_negative_and_absurd(tmp_path, file, section, key, is_int, lo, hi):
    tree = tomllib.loads((T.CONFIG_DIR / file).read_text(encoding="utf-8"))
    for label, value in bad_values(is_int, lo, hi):
        if label == "negative" and lo is not None and lo < 0 and value >= lo:
            continue
        tree.setdefault(section, {})[key] = value
        path = tmp_path / f"{label}.toml"
        path.write_text(C.dumps(tree), encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            T.load_target(path)
        message = str(info.value)
        assert str(path) in message and f"[{section}] {key}" in message and info.value.parameter == key, (label, message)
        if label in ("negative", "absurd") and not (is_int and isinstance(value, float)):
            assert info.value.limit is not None and str(info.value.limit[1] if label == "absurd" else info.value.limit[0]) in message, (label, message)


def test_oversized_config_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.toml"
    with open(path, "wb") as fh:
        fh.write((T.CONFIG_DIR / "loihi2.toml").read_bytes())
        fh.truncate(T.MAX_CONFIG_BYTES + 1)  # a sparse file: 1 MiB of NUL after the config
    with pytest.raises(ConfigError, match="over the limit of 1048576 bytes"):
        T.load_target(path)
    model = T.CONFIG_DIR.parent / "examples" / "braille_subtract.nir"
    result = CliRunner().invoke(cli, ["compile", str(model), "--config", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "big.toml" in result.output and "1048576" in result.output and not (tmp_path / "out").exists()


def test_oversized_target_text_inside_a_program_is_refused():
    with pytest.raises(ConfigError, match="over the limit"):
        T.parse_target("#" * (T.MAX_CONFIG_BYTES + 1), "p.zip/target.toml")
