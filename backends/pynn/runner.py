"""Run a program's emitted PyNN script on NEST (in its own venv) and compare with spikec's reference.

``run_pynn(program, x)`` writes the script and network (``emit.py``) into a
temporary folder, runs it once per batch item with the NEST venv's
interpreter (``backends/toolenvs.py``), and returns ``{population: [T, B, n]}``
spike rasters (and ``v.<population>`` traces of LI read-outs).
``reference_rasters`` gives the same from spikec's SpiNNaker reference
executor, and ``agreement`` measures how close two rasters are.
"""
from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...ir.errors import SpikecError
from .. import toolenvs
from .emit import DATA_NAME, SCRIPT_NAME, network_of, write_pynn_script

_RUN_TIMEOUT_S = 600


class PyNNRunError(SpikecError):
    """The PyNN script failed in its simulator's environment."""


def _batched(net, x: Any) -> dict[str, np.ndarray]:
    from ..reference.spinnaker_executor import spike_inputs

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


def reference_rasters(program: Any, x: Any) -> dict[str, np.ndarray]:
    """Every neuron population's spikes ``[T, B, n]`` (and LI ``v.<pop>``) from spikec's SpiNNaker reference."""
    from ..reference.spinnaker_executor import run_network

    net = network_of(program)
    spiking = {p.name: (p.name, "spikes") for p in net.populations if not p.is_source}
    traces = {f"v.{p.name}": (p.name, "v") for p in net.populations if not p.is_source and p.params.model == "li"}
    full = dataclasses.replace(net, outputs={**spiking, **traces}, readouts={})
    xs = _batched(net, x)
    out = run_network(full, xs)
    return {k: (v.reshape(v.shape[0], v.shape[1], -1) if v.ndim > 2 else v[:, :, None]) for k, v in out.items()}


@dataclasses.dataclass(frozen=True)
class Agreement:
    """How two spike rasters agree: spikes in either, in both, and the worst time offset of a matched spike."""

    spikes_a: int
    spikes_b: int
    equal_entries_fraction: float  # over all [T, B, n] entries
    matched_fraction: float  # spikes at the same (t, b, n) / max(spikes_a, spikes_b)
    max_offset_steps: int  # per neuron, spike trains of equal length: worst |t_a - t_b|; -1 if counts differ

    def line(self) -> str:
        return (f"{self.spikes_a} vs {self.spikes_b} spikes, {100 * self.matched_fraction:.2f}% matched, "
                f"{100 * self.equal_entries_fraction:.3f}% of entries equal, max offset {self.max_offset_steps}")


def agreement(a: np.ndarray, b: np.ndarray) -> Agreement:
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    na, nb = int(a.sum()), int(b.sum())
    both = int((a & b).sum())
    offset = 0
    for idx in np.ndindex(a.shape[1:]):
        ta, tb = np.flatnonzero(a[(slice(None), *idx)]), np.flatnonzero(b[(slice(None), *idx)])
        if ta.size != tb.size:
            offset = -1
            break
        if ta.size:
            offset = max(offset, int(np.abs(ta - tb).max()))
    return Agreement(na, nb, float((a == b).mean()) if a.size else 1.0, both / max(na, nb, 1), offset)
