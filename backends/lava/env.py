"""The Python 3.10 environment Lava runs in.

Why a separate environment: lava-nc 0.10.0 (the last release; Lava's
repositories are archived) declares Python >=3.10,<3.11 and numpy<2, and
cannot be imported on 3.11 (a dataclass default 3.11 rejects). spikec itself
runs on 3.11+, so the Lava backend runs Lava in a subprocess of a 3.10 venv
that holds only numpy and lava-nc (spikec is not installed there; the runner
is a standalone script).

Where the environment is:
- ``SPIKEC_LAVA_VENV`` if set, else ``~/.cache/spikec/lava-venv``.
Which interpreter creates it (first that reports version 3.10):
- ``SPIKEC_LAVA_PYTHON``, then ``python3.10`` on PATH, then
  ``~/.pyenv/versions/3.10*/bin/python``.

``python -m spikec.backends.lava.env`` creates it (README and CI call this);
``ensure_lava_env()`` does the same from Python and returns the venv's
interpreter. Both are idempotent: an existing venv where ``import lava``
works is reused after one quick check.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ...ir.errors import SpikecError

LAVA_REQUIREMENTS: tuple[str, ...] = ("numpy<2", "lava-nc==0.10.0")
LAVA_PYTHON_VERSION: tuple[int, int] = (3, 10)
DEFAULT_VENV = Path("~/.cache/spikec/lava-venv")
_CHECK_TIMEOUT_S = 60
_INSTALL_TIMEOUT_S = 1800

# Checks the interpreter can import Lava's fixed-point models and numpy < 2.
_PROBE = (
    "import numpy, lava.proc.lif.models, lava.proc.dense.models;"
    "assert int(numpy.__version__.split('.')[0]) < 2, numpy.__version__"
)


class LavaEnvironmentError(SpikecError):
    """No usable Lava environment: says what is missing and how to get it."""


def venv_dir() -> Path:
    """Where the Lava venv lives (``SPIKEC_LAVA_VENV`` or the default)."""
    return Path(os.environ.get("SPIKEC_LAVA_VENV") or DEFAULT_VENV).expanduser()


def venv_python(venv: Path) -> Path:
    """The interpreter inside a venv (POSIX and Windows layouts)."""
    posix = venv / "bin" / "python"
    return posix if posix.exists() or os.name != "nt" else venv / "Scripts" / "python.exe"


def _python_version(executable: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None if it does not run.

    Runs it rather than trusting its name: a pyenv shim called ``python3.10``
    exists even when pyenv has not selected 3.10, and then fails.
    """
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True, text=True, timeout=_CHECK_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    try:
        major, minor = (int(x) for x in out.stdout.split())
    except ValueError:
        return None
    return major, minor


def interpreter_candidates() -> list[str]:
    """Interpreters to try, in order of preference."""
    candidates: list[str] = []
    explicit = os.environ.get("SPIKEC_LAVA_PYTHON")
    if explicit:
        candidates.append(explicit)
    on_path = shutil.which("python3.10")
    if on_path:
        candidates.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates.extend(sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.10*", "bin", "python")), reverse=True))
    return candidates


def find_python310() -> str:
    """The first candidate interpreter that really is Python 3.10."""
    tried = []
    for candidate in interpreter_candidates():
        version = _python_version(candidate)
        tried.append(f"{candidate} ({'does not run' if version is None else '%d.%d' % version})")
        if version == LAVA_PYTHON_VERSION:
            return candidate
    raise LavaEnvironmentError(
        "the Lava backend needs a Python 3.10 interpreter (lava-nc 0.10.0 supports only 3.10) and none was found"
        + (f"; tried: {', '.join(tried)}" if tried else "")
        + ". Install Python 3.10 (e.g. `pyenv install 3.10.13`, `apt-get install python3.10 python3.10-venv`, "
        "or `uv python install 3.10`) or point SPIKEC_LAVA_PYTHON at one, then run "
        "`python -m spikec.backends.lava.env`.",
        parameter="python", limit="3.10",
    )


def lava_env_works(python: Path) -> bool:
    """True if ``python`` imports Lava's fixed-point models with numpy < 2."""
    if not python.exists():
        return False
    try:
        out = subprocess.run([str(python), "-c", _PROBE], capture_output=True, timeout=_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def _run_step(args: list[str], what: str) -> None:
    out = subprocess.run(args, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-15:]
        raise LavaEnvironmentError(f"{what} failed (exit {out.returncode}): `{' '.join(args)}`\n" + "\n".join(tail))


def create_lava_env(venv: Path) -> Path:
    """Create (or repair) the venv at ``venv`` and install Lava into it."""
    base = find_python310()
    python = venv_python(venv)
    if not python.exists():
        venv.parent.mkdir(parents=True, exist_ok=True)
        _run_step([base, "-m", "venv", str(venv)], f"creating the Lava venv at {venv}")
    _run_step([str(python), "-m", "pip", "install", "--quiet", *LAVA_REQUIREMENTS],
              f"installing {' '.join(LAVA_REQUIREMENTS)} into {venv}")
    if not lava_env_works(python):
        raise LavaEnvironmentError(f"installed {' '.join(LAVA_REQUIREMENTS)} into {venv} but `import lava` still fails there")
    return python


#: venvs checked in this process: the check imports Lava (about a second), so do it once.
_WORKING: set[Path] = set()


def ensure_lava_env(create: bool = True) -> Path:
    """The interpreter of a working Lava environment, creating it if needed.

    Fast when the venv exists and works (one interpreter start, once per
    process). With ``create=False`` a missing environment raises instead of
    being built.
    """
    venv = venv_dir()
    python = venv_python(venv)
    if python in _WORKING and python.exists():
        return python
    if lava_env_works(python):
        _WORKING.add(python)
        return python
    if not create:
        raise LavaEnvironmentError(
            f"no working Lava environment at {venv}; run `python -m spikec.backends.lava.env` to create it "
            "(or set SPIKEC_LAVA_VENV to an existing Python 3.10 venv with lava-nc 0.10.0 and numpy<2)"
        )
    python = create_lava_env(venv)
    _WORKING.add(python)
    return python


def main(argv: list[str] | None = None) -> int:
    """Entry point: create the Lava venv and print its interpreter's path."""
    try:
        python = ensure_lava_env()
    except SpikecError as err:
        print(f"spikec: {err}", file=sys.stderr)
        return 2
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
