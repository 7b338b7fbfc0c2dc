"""The Lava backend: run a compiled Loihi program on Lava's fixed-point CPU models.

``run(program, inputs, record=())`` has the reference executor's contract:
time-first arrays keyed by output node name (``[T, *shape]``, or
``[T, B, *shape]`` for batched inputs); ``record=("v", "u")`` adds
``"<population>.v"``/``"<population>.u"`` traces. Lava runs in its own
Python 3.10 environment (``env.py``) as a subprocess fed a serialised
description (``emit.py`` -> ``launch.py`` -> ``runner.py``). Batches are
vectorised: one Lava network holds every sample side by side.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .emit import LavaNetwork, assemble_results, emit_network, spike_inputs
from .env import ensure_lava_env
from .launch import TIMING_KEY, LavaRunError, run_description

__all__ = ["LavaRunError", "emit_network", "ensure_lava_env", "run", "run_with_timing"]


def run_with_timing(program: Any, inputs: Any, record: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``run`` plus Lava's own (build, compile + run, stop) seconds, for benchmarks."""
    spikes, batched = spike_inputs(program, inputs)
    network: LavaNetwork = emit_network(program, spikes, record)
    if network.description["num_steps"] == 0:  # nothing to run; Lava rejects zero steps
        batch = network.description["batch"]
        results = {r.key: np.zeros((0, batch, int(np.prod(r.shape))), np.int32) for r in network.recordings}
        results[TIMING_KEY] = np.zeros(3)
    else:
        results = run_description(network.description, network.arrays)
    flat = {rec.key: results[rec.key] for rec in network.recordings}  # [T, B, n]
    outputs = assemble_results(program, flat, record, spikes)  # split layers back in layer order, read-outs applied
    return {k: v if batched else v[:, 0] for k, v in outputs.items()}, results[TIMING_KEY]


def run(program: Any, inputs: Any, record: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Run ``program`` in Lava (``Loihi2SimCfg(select_tag="fixed_pt")``) on binary input spikes."""
    return run_with_timing(program, inputs, record)[0]
