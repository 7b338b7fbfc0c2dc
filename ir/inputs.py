"""Time-first input arrays, checked once for every executor and backend.

Callers pass ``[T, *shape]`` or ``[T, B, *shape]`` (a bare array for a
single-input graph, else a dict keyed by input node). Executors work on
``[T, B, *shape]`` and hand results back in the caller's layout.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .errors import InputError

Shape = tuple[int, ...]


def time_first_inputs(
    inputs: Any, shapes: Mapping[str, Shape], *, binary: bool = False, dtype: Any = np.float64,
) -> tuple[dict[str, np.ndarray], bool, int]:
    """``({input: [T, B, *shape]}, whether the caller passed a batch axis, T)``.

    ``shapes`` maps each input node to its shape (without time and batch).
    ``binary`` demands 0/1 spikes (integer hardware takes nothing else).
    """
    names = list(shapes)
    if not isinstance(inputs, Mapping):
        if len(names) != 1:
            raise InputError(f"graph has {len(names)} inputs {names}: pass a dict of arrays keyed by input node")
        inputs = {names[0]: inputs}
    unknown, missing = set(inputs) - set(names), set(names) - set(inputs)
    if unknown or missing:
        raise InputError(f"inputs do not match the graph's Input nodes {names} (missing {sorted(missing)}, unknown {sorted(unknown)})")
    out: dict[str, np.ndarray] = {}
    layouts: set[bool] = set()
    for name in names:
        arr = np.asarray(inputs[name])
        shape = tuple(shapes[name])
        if arr.shape[1:] == shape:
            layouts.add(False)
            arr = arr[:, None]
        elif arr.ndim == len(shape) + 2 and arr.shape[2:] == shape:
            layouts.add(True)
        else:
            dims = ", ".join(map(str, shape))
            raise InputError(
                f"input array of shape {arr.shape} fits neither [T, {dims}] nor [T, B, {dims}]",
                node=name, value=arr.shape, limit=shape,
            )
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise InputError("input contains NaN or infinite values", node=name)
        if binary and arr.dtype != bool and not ((arr == 0) | (arr == 1)).all():
            raise InputError("input must be binary spikes (0 or 1) for this integer target", node=name)
        out[name] = arr.astype(dtype, copy=False)
    if len(layouts) > 1 or len({a.shape[:2] for a in out.values()}) > 1:
        raise InputError("all inputs must share the same layout, T and B")
    first = out[names[0]]
    return out, layouts.pop(), int(first.shape[0])


def caller_layout(recordings: Mapping[str, np.ndarray], batched: bool) -> dict[str, np.ndarray]:
    """Drop the batch axis again (``[T, B, ...]`` -> ``[T, ...]``) if the caller gave none."""
    return {k: (v if batched else v[:, 0]) for k, v in recordings.items()}
