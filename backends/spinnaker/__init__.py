"""The SpiNNaker backend: an event-driven machine that runs compiled routing tables and rows.

``run(program, inputs, record=())`` has the reference executor's contract:
inputs ``[T, (B,) *shape]`` of spikes per Input node, outputs one array per
Output node (time-first, float64; spikes as 0/1, LI outputs as values), and
``"<population>.v"`` traces when ``"v"`` is in ``record``. It reads only the
program's SpiNNaker artefacts (tables, keys, rows, core parameters,
placement map), never the graph.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...compiler.spinnaker.compile import SpiNNakerArtefacts
from ...compiler.spinnaker.readout import apply_readout
from ...ir.errors import InputError
from ...ir.inputs import time_first_inputs
from .machine import EventMachine, MachineError, MachineStats

name = "spinnaker"


def artefacts_of(program: Any) -> SpiNNakerArtefacts:
    """The SpiNNaker artefacts of a program (interim ``SpiNNakerProgram`` or a Program's artefact slot)."""
    if isinstance(program, SpiNNakerArtefacts):
        return program
    art = getattr(program, "artefacts", None)
    if isinstance(art, SpiNNakerArtefacts):
        return art
    if hasattr(art, "get"):
        value = art.get("spinnaker")
        if isinstance(value, SpiNNakerArtefacts):
            return value
        if isinstance(getattr(value, "artefacts", None), SpiNNakerArtefacts):
            return value.artefacts
    raise InputError("this program carries no SpiNNaker artefacts: compile it for a spinnaker target")


def _inputs(art: SpiNNakerArtefacts, inputs: Any) -> tuple[dict[str, np.ndarray], bool, int, int]:
    """``({input: int64 [T, B, n]}, batched, T, B)``; SpiNNaker inputs are spikes (0 or 1)."""
    shapes = {name: tuple(shape) for name, (shape, _) in art.inputs.items()}
    xs, batched, steps = time_first_inputs(inputs, shapes, binary=True, dtype=np.int64)
    out = {n: x.reshape(*x.shape[:2], int(np.prod(shapes[n]))) for n, x in xs.items()}
    return out, batched, steps, next(iter(out.values())).shape[1]


def run_with_stats(program: Any, inputs: Any, record: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], MachineStats]:
    art = artefacts_of(program)
    xs, batched, steps, batch = _inputs(art, inputs)
    machine = EventMachine(art)
    # a read-out (LI) output is a membrane trace: record v for it even when the caller did not ask
    record_v = ("v" in record or any(kind == "v" for kind, _, _ in art.outputs.values())
                or any(kind == "v" for kind, _, _ in art.readout_sources.values()))
    per_item = [machine.run({k: v[:, b] for k, v in xs.items()}, steps, record_v=record_v) for b in range(batch)]
    result: dict[str, np.ndarray] = {}
    for out_name, (kind, shape, vertex_ids) in art.outputs.items():
        start = art.ticks_before_output[out_name]
        items = []
        for rec in per_item:
            parts = [rec[v]["spikes" if kind == "spikes" else "v"][start:start + steps] for v in vertex_ids]
            data = np.concatenate(parts, axis=1).astype(np.float64)
            if kind == "v":
                data = data / art.cores[vertex_ids[0]].params.scale
            items.append(data)
        result[out_name] = np.stack(items, axis=1).reshape(steps, batch, *shape)
    if art.readouts:  # outputs after a stateless chain: the host applies it to the sources' recordings
        sources = {}
        for key, (kind, vertex_ids, start) in art.readout_sources.items():
            items = []
            for rec in per_item:
                parts = [rec[v]["spikes" if kind == "spikes" else "v"][start:start + steps] for v in vertex_ids]
                data = np.concatenate(parts, axis=1).astype(np.float64)
                items.append(data / art.cores[vertex_ids[0]].params.scale if kind == "v" else data)
            sources[key] = np.stack(items, axis=1)
        for out_name, readout in art.readouts.items():
            result[out_name] = apply_readout(readout, sources)
    if "v" in record:
        pops: dict[str, list[int]] = {}
        for i, core in enumerate(art.cores):
            if core.params is not None:
                pops.setdefault(core.vertex.population, []).append(i)
        for pop, ids in pops.items():
            start = art.cores[ids[0]].start_tick
            items = [np.concatenate([rec[i]["v"][start:start + steps] / art.cores[i].params.scale for i in ids], axis=1)
                     for rec in per_item]
            result[f"{pop}.v"] = np.stack(items, axis=1)
    if not batched:
        result = {k: v[:, 0] for k, v in result.items()}
    return result, machine.stats


def run(program: Any, inputs: Any, record: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Run ``program`` on the event-driven machine (see the module docstring)."""
    return run_with_stats(program, inputs, record)[0]


__all__ = ["EventMachine", "MachineError", "MachineStats", "artefacts_of", "name", "run", "run_with_stats"]
