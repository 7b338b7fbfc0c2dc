"""Hostile hardware configs: every one loads or gives one clear ConfigError; ``compile --config`` exits 2.

Mutations of the shipped ``hw_configs/*.toml`` (keys, values, sections) and
damage to their bytes; a config that still loads is used to compile a small
graph, which must succeed or raise a SpikecError. Seed corpus:
tests/fuzz_corpus/*.toml. ``SPIKEC_FUZZ_EXAMPLES`` raises the count.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spikec
from spikec.cli.main import cli
from spikec import api
from spikec.compiler.target import CONFIG_DIR, load_target
from spikec.ir.errors import ConfigError, SpikecError

from conftest import NIR_PAPER
from fuzz import config_mutations as C
from fuzz.harness import DERANDOMIZE, check_cli_result, check_config_file, examples

CORPUS = Path(__file__).parent / "fuzz_corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
TOML_CORPUS = sorted(name for name in EXPECTED if name.endswith(".toml"))
CONFIGS = sorted(p.name for p in CONFIG_DIR.glob("*.toml"))
FUZZ = settings(deadline=None, database=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_GRAPH = []


def small_graph():
    if not _GRAPH:
        _GRAPH.append(spikec.load_nir(NIR_PAPER / "lif_norse.nir"))
    return _GRAPH[0]


@pytest.mark.parametrize("name", TOML_CORPUS)
def test_corpus_config_is_rejected_with_a_clear_error(name):
    with pytest.raises(ConfigError) as info:
        load_target(CORPUS / name)
    message = str(info.value)
    assert EXPECTED[name] in message, message
    assert "\n" not in message and name in message  # names the file


@pytest.mark.parametrize("name", TOML_CORPUS)
def test_compile_with_corpus_config_exits_2_and_writes_nothing(name, tmp_path):
    out = tmp_path / "prog.zip"
    result = CliRunner().invoke(cli, ["compile", str(NIR_PAPER / "lif_norse.nir"), "--config", str(CORPUS / name), "-o", str(out)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 2
    check_cli_result(result.exit_code, result.stderr, [out], what=name)


@settings(FUZZ, max_examples=examples(150))
@given(data=st.data())
def test_mutated_configs_load_or_give_one_clear_error(data, tmp_path_factory):
    name = data.draw(st.sampled_from(CONFIGS), label="config")
    path = tmp_path_factory.mktemp("cfg") / name
    raw = (CONFIG_DIR / name).read_bytes()
    if data.draw(st.booleans(), label="structural"):
        tree = tomllib.loads(raw.decode())
        for _ in range(data.draw(st.integers(1, 3), label="mutations")):
            C.mutate(tree, data)
        path.write_text(C.dumps(tree), encoding="utf-8")
    else:
        path.write_bytes(C.damage(raw, data))
    target = check_config_file(path)
    if target is not None and data.draw(st.booleans(), label="compile"):
        try:
            api.compile(small_graph(), target, dt_s=1e-4, fidelity_steps=0)
        except SpikecError as exc:
            assert "\n" not in str(exc)


def test_dumps_round_trips_the_shipped_configs():
    """The mutation writer itself: an unmutated config written back loads to the same target."""
    for name in CONFIGS:
        tree = tomllib.loads((CONFIG_DIR / name).read_text(encoding="utf-8"))
        again = tomllib.loads(C.dumps(tree))
        assert again == tree, name


@pytest.mark.parametrize("value, fragment", [("nan", "not finite"), ("inf", "not finite"), (str(2**64), "64-bit")])
def test_non_finite_and_huge_numbers_name_the_key(value, fragment, tmp_path):
    text = (CONFIG_DIR / "loihi2.toml").read_text(encoding="utf-8")
    path = tmp_path / "bad.toml"
    key = "default_dt_s" if value in ("nan", "inf") else "neurons_per_core"
    lines = [f"{key} = {value}" if line.split("=")[0].strip() == key else line for line in text.splitlines()]
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment) as info:
        load_target(path)
    assert info.value.parameter == key and key in str(info.value)


def test_config_that_is_a_directory_or_unreadable(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError):
        load_target(tmp_path / "dir.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes((CONFIG_DIR / "loihi2.toml").read_bytes().replace(b"Intel", b"Int\xe9l"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_target(bad)
