"""Hostile hardware configs: a shipped ``hw_configs/*.toml`` parsed, mutated, written back.

``dumps`` writes any tree of TOML values (tables, arrays, strings, ints of
any size, floats including nan and inf, booleans); ``mutate`` applies one
mutation drawn from a Hypothesis ``data`` object; ``damage`` flips bytes,
truncates, or splices invalid UTF-8 into the text.
"""
from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

VALUES = [
    -1, 0, 1, -(2**63), 2**63, 10**30, -(10**30), 0.5, -0.5, float("nan"), float("inf"), float("-inf"), 1e308, 5e-324,
    True, False, "", "many", "\u0000", "loihi", "spinnaker", "rram", ">", [], [1, 2], {"x": 1}, {}, [[1], ["a"]],
]
KEYS = ["chips", "neurons_per_core", "weight_bits", "state_bits", "default_dt_s", "family", "name", "tile_rows",
        "g_max_us", "levels", "machine_width", "frobnicate", "", "a b", "ünïcode"]
SECTIONS = ["target", "numeric", "limits", "device", "extra"]


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def dumps(data: dict[str, Any]) -> str:
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"\n[{_key(k)}]")
            lines += [f"{_key(kk)} = {_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


MUTATIONS = ("set", "set", "set", "delete_key", "add_key", "delete_section", "add_section", "section_value")


def mutate(data_tree: dict[str, Any], data: Any) -> str:
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    tables = sorted(k for k, v in data_tree.items() if isinstance(v, dict))
    if kind in ("set", "delete_key") and tables:
        section = data_tree[data.draw(st.sampled_from(tables), label="section")]
        if not section:
            return "empty section"
        key = data.draw(st.sampled_from(sorted(section)), label="key")
        if kind == "delete_key":
            del section[key]
        else:
            section[key] = data.draw(st.sampled_from(VALUES), label="value")
        return f"{kind} {key}"
    if kind == "add_key" and tables:
        section = data_tree[data.draw(st.sampled_from(tables), label="section")]
        section[data.draw(st.sampled_from(KEYS), label="key")] = data.draw(st.sampled_from(VALUES), label="value")
        return kind
    if kind == "delete_section" and tables:
        del data_tree[data.draw(st.sampled_from(tables), label="section")]
        return kind
    if kind == "add_section":
        data_tree[data.draw(st.sampled_from(SECTIONS), label="section")] = {"x": 1}
        return kind
    if kind == "section_value":
        data_tree[data.draw(st.sampled_from(SECTIONS), label="section")] = data.draw(st.sampled_from(VALUES[:12]), label="value")
        return kind
    return "none"


def damage(raw: bytes, data: Any) -> bytes:
    how = data.draw(st.sampled_from(["flip", "truncate", "splice"]), label="damage")
    if how == "truncate":
        return raw[: data.draw(st.integers(0, len(raw)), label="length")]
    pos = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="offset")
    if how == "splice":
        junk = data.draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"[[", b"=", b"\"", b"\r"]), label="junk")
        return raw[:pos] + junk + raw[pos:]
    buf = bytearray(raw)
    buf[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    return bytes(buf)
