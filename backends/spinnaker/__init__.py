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

from ...compiler.spinnaker_compile import SpiNNakerArtefacts
from ...ir.errors import InputError
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
    names = list(art.inputs)
    if not isinstance(inputs, dict):
        if len(names) != 1:
            raise InputError(f"program has {len(names)} inputs {names}: pass a dict")
        inputs = {names[0]: inputs}
    if set(inputs) != set(names):
        raise InputError(f"inputs {sorted(inputs)} do not match the program's inputs {sorted(names)}")
    out, flags, steps, batch = {}, set(), set(), set()
    for name_, (shape, _) in art.inputs.items():
        x = np.asarray(inputs[name_])
        if x.ndim not in (len(shape) + 1, len(shape) + 2) or tuple(x.shape[x.ndim - len(shape):]) != tuple(shape):
            raise InputError(f"input of shape {x.shape} does not fit [T, (B,) *{tuple(shape)}]", node=name_)
        batched = x.ndim == len(shape) + 2
        x = x if batched else x[:, None]
        if not np.isin(x, (0, 1)).all():
            raise InputError("SpiNNaker inputs are spikes: values must be 0 or 1", node=name_)
        out[name_] = x.reshape(x.shape[0], x.shape[1], -1).astype(np.int64)
        flags.add(batched)
        steps.add(x.shape[0])
        batch.add(x.shape[1])
    if len(flags) != 1 or len(steps) != 1 or len(batch) != 1:
        raise InputError("all inputs must share T and B (and all be batched or not)")
    return out, flags.pop(), steps.pop(), batch.pop()


def run_with_stats(program: Any, inputs: Any, record: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], MachineStats]:
    art = artefacts_of(program)
    xs, batched, steps, batch = _inputs(art, inputs)
    machine = EventMachine(art)
    # a read-out (LI) output is a membrane trace: record v for it even when the caller did not ask
    record_v = "v" in record or any(kind == "v" for kind, _, _ in art.outputs.values())
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
