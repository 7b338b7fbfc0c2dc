"""Run a program's emitted PyNN script on NEST (in its own venv).

``run_pynn(program, x)`` writes the script and network (``emit.py``) into a
temporary folder, runs it once per batch item with the NEST venv's
interpreter (``backends/toolenvs.py``), and returns ``{population: [T, B, n]}``
spike rasters (and ``v.<population>`` traces of LI read-outs).
``spikec.verification.pynn_agreement`` gives the same from spikec's
SpiNNaker reference executor and measures how close two rasters are.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...ir.errors import SpikecError
from .. import toolenvs
from ...compiler.spinnaker.network import network_of, spike_inputs
from .emit import DATA_NAME, SCRIPT_NAME, write_pynn_script

_RUN_TIMEOUT_S = 600


class PyNNRunError(SpikecError):
    """The PyNN script failed in its simulator's environment."""


def _batched(net, x: Any) -> dict[str, np.ndarray]:
    xs, _, _, _ = spike_inputs(net, x)  # {source: [T, B, n]}, checked like the reference
    return xs


def run_pynn(program: Any, x: Any, simulator: str = "nest", python: str | None = None) -> dict[str, np.ndarray]:
    """Spike rasters ``[T, B, n]`` per neuron population (and LI ``v.<pop>``) from the PyNN script on ``simulator``."""
    net = network_of(program)
    xs = _batched(net, x)
    py = python or str(toolenvs.ensure("nest" if simulator == "nest" else "spynnaker"))
    batch = next(iter(xs.values())).shape[1]
    results: list[dict[str, np.ndarray]] = []
    with tempfile.TemporaryDirectory(prefix="spikec-pynn-") as tmp:
        folder = write_pynn_script(program, tmp, {k: v[:, 0] for k, v in xs.items()})
        for b in range(batch):
            inp = Path(tmp) / f"input{b}.npz"
            np.savez(inp, **{f"input.{k}": v[:, b].astype(np.uint8) for k, v in xs.items()})
            out = Path(tmp) / f"spikes{b}.npz"
            done = subprocess.run([py, str(folder / SCRIPT_NAME), "--simulator", simulator, "--data", str(folder / DATA_NAME),
                                   "--input", str(inp), "--out", str(out)],
                                  capture_output=True, text=True, timeout=_RUN_TIMEOUT_S, cwd=tmp)
            if done.returncode != 0:
                tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
                raise PyNNRunError(f"the PyNN script failed on {simulator} (exit {done.returncode}):\n{tail}")
            with np.load(out) as f:
                results.append({k.split(".", 1)[1] if k.startswith("spikes.") else k: f[k] for k in f.files})
    return {k: np.stack([r[k] for r in results], axis=1) for k in results[0]}
