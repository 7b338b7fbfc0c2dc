"""Hand a network description to Lava and bring back its recordings.

The parent (spikec, Python 3.11+) writes the description as ``network.json``
plus ``arrays.npz`` into a fresh temporary folder, runs
``<lava python> runner.py <folder>`` and reads ``results.npz`` back. Nothing
spikec-specific is pickled: the Lava environment does not have spikec.

Always a subprocess, never in-process: spikec needs Python 3.11+, where
lava-nc 0.10.0 does not import; and even a Lava patched to import on 3.11
would, on import, set the multiprocessing start method of the whole spikec
process (``lava`` calls ``set_start_method('fork')``).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ...ir.errors import SpikecError
from .env import ensure_lava_env

RUNNER = Path(__file__).with_name("runner.py")
TIMING_KEY = "_timing_s"


class LavaRunError(SpikecError):
    """Lava failed to build or run the network; carries the child's message."""


def write_description(folder: Path, description: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    (folder / "network.json").write_text(json.dumps(description, indent=1))
    np.savez(folder / "arrays.npz", **{k: np.asarray(v) for k, v in arrays.items()})


def read_results(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "results.npz") as npz:
        return {k: npz[k] for k in npz.files}


def _shorten(text: str, limit: int = 600) -> str:
    """Lava puts whole matrices into some messages; keep their start."""
    return text if len(text) <= limit else text[:limit] + f" ... [{len(text) - limit} more characters]"


def _child_error(folder: Path, proc: subprocess.CompletedProcess[str]) -> LavaRunError:
    error_file = folder / "error.json"
    if error_file.exists():
        info = json.loads(error_file.read_text())
        message = _shorten(info["message"])
        where = [line for line in info["traceback"].splitlines() if line.startswith('  File "')][-2:]
        return LavaRunError(f"Lava run failed: {info['type']}: {message}\n" + "\n".join(where))
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-10:]
    return LavaRunError(f"Lava runner exited with status {proc.returncode}:\n" + "\n".join(tail))


def default_timeout_s(description: Mapping[str, Any]) -> float:
    """How long a run may take before it is presumed stuck.

    The runner turns exceptions of Lava's process models into errors (Lava
    itself would hang); the limit is for anything else that hangs: ``SPIKEC_LAVA_TIMEOUT_S`` if set, else 5 minutes
    plus 50 ms per step (about 20x what Lava needs for thousands of neurons).
    """
    explicit = os.environ.get("SPIKEC_LAVA_TIMEOUT_S")
    if explicit:
        return float(explicit)
    return 300.0 + 0.05 * int(description.get("num_steps", 0))


def _run_child(args: list[str], folder: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run the runner in its own process group and wait for the runner alone.

    Its output goes to files, not pipes: Lava's model processes (forked from
    the runner) inherit them and may outlive it after an error. Once the
    runner has exited, or at the time limit, what is left of its group ends.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    out_path, err_path = folder / "runner.out", folder / "runner.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        child = subprocess.Popen(args, stdout=out, stderr=err, env=env, start_new_session=True)
        try:
            status = child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            _end_group(child.pid)
            child.wait()
            tail = "\n".join(err_path.read_text().strip().splitlines()[-12:])
            raise LavaRunError(
                f"Lava did not finish within {timeout_s:.0f} s and was stopped "
                f"(set SPIKEC_LAVA_TIMEOUT_S for longer runs). Its last output:\n{tail}",
                limit=timeout_s,
            ) from exc
        finally:
            _end_group(child.pid)
    return subprocess.CompletedProcess(args, status, out_path.read_text(), err_path.read_text())


def _end_group(pgid: int) -> None:
    """End every process left in the runner's group (Lava's model processes)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_description(
    description: Mapping[str, Any], arrays: Mapping[str, np.ndarray], *, timeout_s: float | None = None,
) -> dict[str, np.ndarray]:
    """Run one description in Lava; returns the runner's results by key.

    ``timeout_s`` defaults to ``default_timeout_s(description)``. The result
    also holds ``_timing_s`` = (build, compile + run, stop) seconds measured
    inside the runner.
    """
    with tempfile.TemporaryDirectory(prefix="spikec-lava-") as tmp:
        folder = Path(tmp)
        write_description(folder, description, arrays)
        limit = default_timeout_s(description) if timeout_s is None else timeout_s
        proc = _run_child([str(ensure_lava_env()), str(RUNNER), str(folder)], folder, limit)
        if proc.returncode != 0:
            raise _child_error(folder, proc)
        return read_results(folder)
