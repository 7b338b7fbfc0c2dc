"""Hardware config schema: every shipped file loads; bad files name file, key and reason."""
from pathlib import Path

import pytest

from spikec.compiler.target import LoihiNumeric, list_targets, load_target
from spikec.ir.errors import ConfigError

LOIHI2 = (Path(load_target("loihi2").source_path)).read_text()


def test_every_shipped_target_loads_with_its_family_schema():
    targets = {t.name: t for t in list_targets()}
    assert {"loihi1", "loihi2", "spinnaker1", "spinnaker2", "rram-512"} <= set(targets)
    assert isinstance(targets["loihi2"].numeric, LoihiNumeric)
    assert targets["loihi2"].numeric.state_bits == 24
    assert targets["rram-512"].device is not None


def test_load_by_path_equals_load_by_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(LOIHI2)
    assert load_target(path).to_dict() == load_target("loihi2").to_dict()


def _write(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "old, new, key, reason",
    [
        ("state_bits = 24", "state_bits = 24\nstate_bitz = 3", "state_bitz", "unknown key"),
        ("decay_bits = 12", "", "decay_bits", "missing required key"),
        ("weight_bits = 8", 'weight_bits = "8"', "weight_bits", "expected"),
        ("weight_bits = 8", "weight_bits = 9", "weight_bits", "outside"),
        ('family = "loihi"', 'family = "truenorth"', "family", "unknown family"),
        ("cores_per_chip = 128", "cores_per_chip = 0", "cores_per_chip", "outside"),
        ("weight_exp_min = -8", "weight_exp_min = 9", "weight_exp_min", "weight_exp_max"),
    ],
)
def test_invalid_config_names_file_key_and_reason(tmp_path, old, new, key, reason):
    assert old in LOIHI2
    path = _write(tmp_path, LOIHI2.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_target(path)
    message = str(err.value)
    assert str(path) in message and key in message and reason in message


def test_not_toml_and_unknown_target_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_target(_write(tmp_path, "[target\nname="))
    with pytest.raises(ConfigError, match="unknown target 'loihi9'.*loihi2"):
        load_target("loihi9")
