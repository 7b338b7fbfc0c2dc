"""A test set on many compiled programs and backends, as work items of the execution layer.

``evaluate_test_set(programs, x, runs)`` runs each ``EvaluationRun`` (a
program, a backend, the backend's options) on the samples of ``x`` and returns
its outputs as if it had run on the whole set at once. Work items are
(run, slice of samples); the outputs are concatenated along the batch axis in
sample order, whatever order the items finished in (``docs/execution.md``).

Which runs are split into slices: every sample of a batch is computed
independently by the reference executors, the SpiNNaker machine, Lava and the
ideal RRAM chip, so slicing changes nothing. A noisy RRAM chip draws its read
noise for the whole batch at once (``default_rng((seed, 1))``), so slicing
would change the draws: such a run is one item (run many chips, ``seed=...``,
to use many workers), and equals ``backends.rram.run`` on the whole set.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..ir.errors import InputError
from .execution import Executor, SerialExecutor, cached_program
from ..compiler.program import program_to_bytes


@dataclass(frozen=True)
class EvaluationRun:
    """One run of the test set: ``programs[program]`` on ``backend`` with ``options``.

    ``options`` are the backend's keyword arguments as pairs, e.g. for a
    simulated RRAM chip a year after programming:
    ``(("seed", 3), ("t_s", 3.15e7), ("compensate_drift", True))``.
    ``samples``: only the first ``samples`` of the set (e.g. for Lava, which is slow).
    """

    program: str
    backend: str = "reference"
    options: tuple[tuple[str, Any], ...] = ()
    samples: int | None = None


@dataclass(frozen=True, eq=False)
class RunOutputs:
    """One run's outputs ``{name: [T, B, ...]}`` and the seconds its items took (one core's time)."""

    outputs: dict[str, np.ndarray]
    seconds: float


def run_in_float_time(program: Any, x: np.ndarray, backend: str, **options: Any) -> dict[str, np.ndarray]:
    """The default runner: outputs in the float model's steps and units (``verification/report.py``)."""
    from .report import run_in_float_time as run

    return run(program, x, backend, **options)


def _splittable(run: EvaluationRun) -> bool:
    return run.backend != "rram" or bool(dict(run.options).get("ideal"))


def evaluate_slice(shared: tuple, item: tuple[int, int, int]) -> tuple[dict[str, np.ndarray], float]:
    """One work item: run ``item = (run index, first sample, end sample)``; ``(outputs, seconds)``."""
    blobs, x, runs, runner = shared
    index, start, stop = item
    run = runs[index]
    program = cached_program(blobs[run.program])
    began = time.perf_counter()
    outputs = runner(program, x[:, start:stop], run.backend, **dict(run.options))
    return {k: np.asarray(v) for k, v in outputs.items()}, time.perf_counter() - began


def evaluate_test_set(
    programs: Mapping[str, Any],
    x: np.ndarray,
    runs: Sequence[EvaluationRun],
    *,
    samples_per_item: int = 64,
    executor: Executor | None = None,
    runner: Callable[..., Mapping[str, np.ndarray]] = run_in_float_time,
) -> dict[EvaluationRun, RunOutputs]:
    """Every run of ``runs`` on ``x`` (``[T, B, *shape]``), on ``executor`` (default: serial).

    ``programs`` maps a label to a compiled Program. ``runner(program, x, backend,
    **options)`` must be a module-level function (workers import it by name) that
    returns time-first, batch-second arrays. The result is keyed by run, in the
    order of ``runs``; it does not depend on the executor.
    """
    x = np.asarray(x)
    if x.ndim < 3:
        raise InputError(f"the test set must be [T, B, *shape], got shape {x.shape}", value=x.shape)
    unknown = sorted({r.program for r in runs} - set(programs))
    if unknown:
        raise InputError(f"runs name programs that were not given: {unknown}")
    items = []
    for index, run in enumerate(runs):
        n = x.shape[1] if run.samples is None else min(run.samples, x.shape[1])
        step = samples_per_item if _splittable(run) else max(n, 1)
        items += [(index, start, min(start + step, n)) for start in range(0, n, step)]
    blobs = {label: program_to_bytes(programs[label]) for label in sorted({r.program for r in runs})}
    results = (executor or SerialExecutor()).run(evaluate_slice, items, (blobs, x, tuple(runs), runner))
    found: dict[EvaluationRun, RunOutputs] = {}
    for index, run in enumerate(runs):
        parts = [result for item, result in zip(items, results) if item[0] == index]
        names = parts[0][0].keys() if parts else ()
        outputs = {k: np.concatenate([p[0][k] for p in parts], axis=1) for k in names}
        found[run] = RunOutputs(outputs, sum(p[1] for p in parts))
    return found
