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
works is reused after one quick check. Finding, checking and building the
venv is ``backends/toolenvs.py``'s, as for every outside tool; this module
says what Lava needs and how to find a 3.10 interpreter.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ...ir.errors import SpikecError
from ..toolenvs import ToolEnv, ToolEnvironmentError, ensure

LAVA_REQUIREMENTS: tuple[str, ...] = ("numpy<2", "lava-nc==0.10.0")
LAVA_PYTHON_VERSION: tuple[int, int] = (3, 10)
_CHECK_TIMEOUT_S = 60


class LavaEnvironmentError(ToolEnvironmentError):
    """No usable Lava environment: says what is missing and how to get it."""


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


#: Lava's venv: ``SPIKEC_LAVA_VENV`` or ``~/.cache/spikec/lava-venv``; the probe imports Lava's
#: fixed-point models and checks numpy < 2. Never beside spikec: Lava cannot be imported on 3.11.
LAVA = ToolEnv("lava", (LAVA_REQUIREMENTS,),
               "import numpy, lava.proc.lif.models, lava.proc.dense.models;"
               "assert int(numpy.__version__.split('.')[0]) < 2, numpy.__version__",
               "lava-nc 0.10.0 (Python 3.10, numpy<2)", base_python=find_python310, beside_spikec=False,
               command="python -m spikec.backends.lava.env", error=LavaEnvironmentError)


def ensure_lava_env(create: bool = True) -> Path:
    """The interpreter of a working Lava environment, creating it if needed.

    Fast when the venv exists and works (one interpreter start, once per
    process). With ``create=False`` a missing environment raises instead of
    being built.
    """
    return ensure(LAVA, create=create)


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
