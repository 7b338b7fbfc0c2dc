"""The repository root is the package `spikec`: check the wheel and the editable install."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import spikec

REPO = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("ir", "compiler", "verification", "backends", "cli", "frontends", "hw_configs")


def repo_modules() -> set[str]:
    """Every .py file under the package folders, as a wheel path."""
    found = {"spikec/__init__.py"}
    for folder in SUBPACKAGES:
        for path in (REPO / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found.add("spikec/" + path.relative_to(REPO).as_posix())
    return found


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, capture_output=True,
    )
    (wheel,) = out.glob("spikec-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_wheel_holds_every_module_under_spikec_and_nothing_top_level(wheel_names):
    missing = repo_modules() - wheel_names
    assert not missing, f"modules missing from the wheel (add their package to pyproject.toml): {sorted(missing)}"
    top = {name.split("/")[0] for name in wheel_names if not name.startswith("spikec-")}
    assert top == {"spikec"}
    top_level = next(n for n in wheel_names if n.endswith("top_level.txt"))
    assert top_level


def test_wheel_ships_hardware_configs_and_the_example(wheel_names):
    configs = {p.name for p in (REPO / "hw_configs").glob("*.toml")}
    assert configs, "no hardware configs in the repository"
    assert {f"spikec/hw_configs/{c}" for c in configs} <= wheel_names
    assert "spikec/examples/braille_subtract.nir" in wheel_names


def test_installed_package_maps_the_root_to_spikec_without_generic_top_level_names(tmp_path):
    # In a fresh interpreter away from the repository (python -m pytest puts the cwd on sys.path).
    probe = (
        "import importlib.util, spikec, sys; from pathlib import Path; "
        "print(Path(spikec.__file__).resolve().parent); "
        "print(sorted(n for n in ('compiler', 'verification', 'cli', 'backends', 'ir', 'hw_configs', 'frontends') "
        "if importlib.util.find_spec(n) is not None))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    location, generic = result.stdout.strip().splitlines()[-2:]
    assert Path(location) == REPO
    assert generic == "[]", f"generic top-level names importable: {generic}"
