"""A program's quantised SpiNNaker network, and the spike inputs it accepts.

Shared by the reference executor, the PyNN emitter and the fidelity report,
none of which may import the others (``scripts/import_graph.py``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...ir.errors import InputError
from .quantise import SpiNNakerNetwork


def spike_inputs(net: SpiNNakerNetwork, inputs: Any) -> tuple[dict[str, np.ndarray], bool, int, int]:
    """Inputs as ``{source: int64 [T, B, n]}`` of 0/1, whether batched, T and B.

    SpiNNaker's inputs are spike sources: anything but 0 and 1 is refused.
    """
    sources = [p for p in net.populations if p.is_source]
    if not isinstance(inputs, dict):
        if len(sources) != 1:
            raise InputError(f"network has {len(sources)} inputs {[p.name for p in sources]}: pass a dict")
        inputs = {sources[0].name: inputs}
    names = {p.name for p in sources}
    if set(inputs) != names:
        raise InputError(f"inputs {sorted(inputs)} do not match the Input nodes {sorted(names)}")
    out, batched, steps, batch = {}, set(), set(), set()
    for p in sources:
        x = np.asarray(inputs[p.name])
        is_batched = x.ndim == len(p.shape) + 2
        if x.ndim not in (len(p.shape) + 1, len(p.shape) + 2) or x.shape[x.ndim - len(p.shape):] != p.shape:
            raise InputError(f"input of shape {x.shape} does not fit [T, (B,) *{p.shape}]", node=p.name)
        x = x if is_batched else x[:, None]
        if not np.isin(x, (0, 1)).all():
            raise InputError("SpiNNaker inputs are spikes: values must be 0 or 1", node=p.name)
        out[p.name] = x.reshape(x.shape[0], x.shape[1], -1).astype(np.int64)
        batched.add(is_batched)
        steps.add(x.shape[0])
        batch.add(x.shape[1])
    if len(batched) != 1 or len(steps) != 1 or len(batch) != 1:
        raise InputError("all inputs must share T and B (and all be batched or not)")
    return out, batched.pop(), steps.pop(), batch.pop()


def network_of(program: Any) -> SpiNNakerNetwork:
    """The quantised network of a SpiNNaker program (interim ``SpiNNakerProgram`` or a Program's artefacts)."""
    if isinstance(program, SpiNNakerNetwork):
        return program
    net = getattr(program, "network", None)
    if isinstance(net, SpiNNakerNetwork):
        return net
    art = getattr(program, "artefacts", None)
    if hasattr(art, "values"):
        for value in art.values():
            if isinstance(value, SpiNNakerNetwork):
                return value
            if isinstance(getattr(value, "network", None), SpiNNakerNetwork):
                return value.network
    raise InputError("this program carries no SpiNNaker network: compile it for a spinnaker target")
