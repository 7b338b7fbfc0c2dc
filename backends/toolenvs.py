"""Separate environments for the outside toolchains spikec is checked against.

NEST (with PyNN), sPyNNaker (with PACMAN) and aihwkit are heavy, pin their
own numpy/torch, and are oracles rather than run-time needs; Lava needs
Python 3.10 (``backends/lava/env.py``). So each lives in its own venv and is
driven through a subprocess that is fed files; the core install stays light.
This module is the one place that finds, checks and builds such a venv.

    python -m spikec.backends.toolenvs nest        # PyNN 0.13.0 + NEST 3.10.0
    python -m spikec.backends.toolenvs spynnaker   # sPyNNaker 1!7.4.1 (+ PACMAN, SpiNNMachine)
    python -m spikec.backends.toolenvs aihwkit     # aihwkit 1.1.0 on torch 2.13.0 (CPU)

Where: ``SPIKEC_<NAME>_VENV`` if set, else ``~/.cache/spikec/<name>-venv``.
Each command is idempotent: an existing venv whose probe import works is reused.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..ir.errors import SpikecError

_CHECK_TIMEOUT_S = 120
_INSTALL_TIMEOUT_S = 3600


class ToolEnvironmentError(SpikecError):
    """No usable environment for an outside tool: says what is missing and the one command that makes it."""


@dataclass(frozen=True)
class ToolEnv:
    """One outside tool's venv: what to install (in order) and the import that proves it works."""

    name: str
    steps: tuple[tuple[str, ...], ...]  # pip install arguments, one tuple per pip call
    probe: str  # Python run in the venv; exit 0 = usable
    what: str
    #: the interpreter that creates the venv (Lava: a Python 3.10 it must find); default this one
    base_python: Callable[[], str] = lambda: sys.executable
    #: may the tool be installed beside spikec instead (``pip install spikec[<name>]``)?
    beside_spikec: bool = True
    command: str = ""  # the setup command users run; default ``python -m spikec.backends.toolenvs <name>``
    error: type[ToolEnvironmentError] = ToolEnvironmentError

    def venv_dir(self) -> Path:
        env = os.environ.get(f"SPIKEC_{self.name.upper()}_VENV")
        return Path(env or f"~/.cache/spikec/{self.name}-venv").expanduser()

    def python(self) -> Path:
        """The venv's interpreter (POSIX and Windows layouts)."""
        posix = self.venv_dir() / "bin" / "python"
        return posix if posix.exists() or os.name != "nt" else self.venv_dir() / "Scripts" / "python.exe"

    def setup_command(self) -> str:
        return self.command or f"python -m spikec.backends.toolenvs {self.name}"


ENVS: dict[str, ToolEnv] = {
    "nest": ToolEnv("nest", (("numpy", "pynn==0.13.0", "nest-simulator==3.10.0"),),
                    "import nest, pyNN.nest", "PyNN 0.13.0 with NEST 3.10.0"),
    "spynnaker": ToolEnv("spynnaker", (("spynnaker==1!7.4.1",),),
                         "import pyNN.spiNNaker, pacman.operations.router_compressors",
                         "sPyNNaker 1!7.4.1 with PACMAN and SpiNNMachine"),
    # --no-deps: aihwkit 1.1.0 requires torchvision, which moves torch to 2.14.1, a CUDA build (6 GB of venv);
    # its inference noise models need only torch, numpy, scipy, tqdm and scikit-learn.
    "aihwkit": ToolEnv("aihwkit", (("torch==2.13.0",), ("numpy", "scipy", "tqdm", "scikit-learn"),
                                   ("--no-deps", "aihwkit==1.1.0")),
                       "from aihwkit.inference import PCMLikeNoiseModel; from aihwkit.inference.noise.reram import ReRamCMONoiseModel",
                       "aihwkit 1.1.0 on torch 2.13.0 (CPU; its pure-torch inference noise models)"),
}

_WORKING: set[tuple[Path, str]] = set()


def works(env: ToolEnv, python: str | Path | None = None) -> bool:
    """True if the probe import runs in the env's interpreter (or ``python``); remembered per process."""
    python = Path(python) if python is not None else env.python()
    if (python, env.probe) in _WORKING:
        return True
    if not python.exists():
        return False
    try:
        out = subprocess.run([str(python), "-c", env.probe], capture_output=True, timeout=_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if out.returncode == 0:
        _WORKING.add((python, env.probe))
    return out.returncode == 0


def _run(env: ToolEnv, args: list[str], what: str) -> None:
    out = subprocess.run(args, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-10:]
        raise env.error(f"{what} failed (exit {out.returncode}): `{' '.join(args)}`\n" + "\n".join(tail))


def _in_this_interpreter(env: ToolEnv) -> bool:
    """The tool installed beside spikec (``pip install spikec[<name>]``): no separate venv needed."""
    import importlib.util

    module = env.probe.split()[1].split(".")[0].rstrip(",")
    return importlib.util.find_spec(module) is not None and works(env, sys.executable)


def ensure(name: str | ToolEnv, create: bool = False) -> Path:
    """The interpreter of a working environment for tool ``name``; with ``create``, build it first.

    Order: the venv (``SPIKEC_<NAME>_VENV`` or the default), then this interpreter if the tool is installed
    in it, then (``create``) a new venv (or a broken one repaired).
    """
    env = ENVS[name] if isinstance(name, str) else name
    if works(env):
        return env.python()
    if env.beside_spikec and _in_this_interpreter(env):
        return Path(sys.executable)
    venv = env.venv_dir()
    if not create:
        raise env.error(f"{env.what} is not installed at {venv}: run `{env.setup_command()}` "
                        f"(or set SPIKEC_{env.name.upper()}_VENV to a venv that has it)", parameter=env.name)
    if not env.python().exists():
        base = env.base_python()
        venv.parent.mkdir(parents=True, exist_ok=True)
        _run(env, [base, "-m", "venv", str(venv)], f"creating {venv}")
    for step in env.steps:
        _run(env, [str(env.python()), "-m", "pip", "install", "--quiet", *step], f"installing {' '.join(step)} into {venv}")
    if not works(env):
        raise env.error(f"installed {env.what} into {venv} but `{env.probe}` fails there")
    return env.python()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ENVS:
        print(f"usage: python -m spikec.backends.toolenvs {{{'|'.join(ENVS)}}}", file=sys.stderr)
        return 2
    try:
        print(ensure(args[0], create=True))
    except SpikecError as err:
        print(f"spikec: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
