"""PyNN on NEST (``backends/pynn``) against spikec's SpiNNaker reference: rasters and how close they are.

``reference_rasters`` gives every population's spikes from the reference
executor in the layout ``backends.pynn.runner.run_pynn`` returns, and
``agreement`` compares two rasters.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..backends.reference.spinnaker_executor import run_network
from ..compiler.spinnaker.network import network_of, spike_inputs


def _batched(net, x: Any) -> dict[str, np.ndarray]:
    xs, _, _, _ = spike_inputs(net, x)  # {source: [T, B, n]}, checked like the reference
    return xs


def reference_rasters(program: Any, x: Any) -> dict[str, np.ndarray]:
    """Every neuron population's spikes ``[T, B, n]`` (and LI ``v.<pop>``) from spikec's SpiNNaker reference."""
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
