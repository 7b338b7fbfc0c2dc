"""Monte Carlo trials over device draws: spike agreement with the ideal chip, across read times.

A *trial* is one chip: one draw of programming noise, faults and drift, with
fresh read and ADC noise at every read. The *ideal* run is the same program
with every non-ideality off (``RramConfig.ideal()``), which by construction
equals the float reference on the quantised graph. Agreement is the fraction
of output entries (time x batch x neuron) equal to the ideal run's; accuracy,
when labels are given, takes the class with the most output spikes per
sample (ties to the lowest index). Trial seeds come from
``SeedSequence(seed).generate_state(trials)``, so a table is reproducible.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ...compiler.rram.lower import RramMapping
from ...ir.errors import InputError
from .simulator import mapping_of, simulate_rram

READ_TIMES_S: dict[str, float] = {"1 s": 1.0, "1 h": 3600.0, "1 day": 86400.0, "1 year": 365.0 * 86400.0}
_UNITS_S = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "day": 86400.0, "y": 365.0 * 86400.0, "year": 365.0 * 86400.0}


def parse_duration_s(text: str | float) -> float:
    """Seconds from ``"1h"``, ``"30 min"``, ``"2d"``, ``"1 year"`` or a plain number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([a-z]*)\s*", text)
    if not match or match.group(2) not in _UNITS_S | {"": 1.0}:
        raise InputError(f"cannot read the duration {text!r} (use e.g. 1s, 1h, 1d, 1y)", parameter="read_time", value=text)
    return float(match.group(1)) * _UNITS_S.get(match.group(2), 1.0)


@dataclass(frozen=True)
class TrialStats:
    """Agreement (and accuracy) over trials at one read time."""

    t_s: float
    agreement: tuple[float, ...]
    accuracy: tuple[float, ...] = ()
    ideal_accuracy: float | None = None

    @property
    def agreement_mean(self) -> float:
        return float(np.mean(self.agreement))

    @property
    def agreement_std(self) -> float:
        return float(np.std(self.agreement))


def predicted_class(spikes: np.ndarray) -> np.ndarray:
    """Argmax of spike counts over time, per sample: [T, B, classes] -> [B]."""
    return np.argmax(spikes.sum(axis=0), axis=-1)


def trial_seeds(seed: int, trials: int) -> list[int]:
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(trials)]


def monte_carlo(
    mapping: RramMapping,
    inputs: Any,
    *,
    output: str | None = None,
    dt_s: float | None = None,
    trials: int = 10,
    seed: int = 0,
    t_s: float = 1.0,
    labels: Sequence[int] | None = None,
    compensate_drift: bool = False,
    ideal: np.ndarray | None = None,
    executor: Any = None,
) -> TrialStats:
    """Run ``trials`` simulated chips at read time ``t_s`` and compare with the ideal chip."""
    (stats,) = _run_trials(mapping, inputs, {"t": t_s}, output=output, dt_s=dt_s, trials=trials, seed=seed,
                           labels=labels, compensate_drift=compensate_drift, ideal=ideal, executor=executor).values()
    return stats


def _batched(spikes: np.ndarray) -> np.ndarray:
    return spikes if spikes.ndim >= 3 else spikes[:, None]


def drift_table(
    mapping: RramMapping,
    inputs: Any,
    *,
    read_times_s: dict[str, float] | None = None,
    **kwargs: Any,
) -> dict[str, TrialStats]:
    """``monte_carlo`` at each read time (default 1 s, 1 h, 1 day, 1 year), same trial seeds.

    ``executor`` (``spikec.verification.execution``; default serial) runs the
    read times x trials as one set of work items; the table does not depend on it.
    """
    return _run_trials(mapping, inputs, read_times_s or READ_TIMES_S, **kwargs)


def _run_trials(mapping: RramMapping, inputs: Any, read_times_s: dict[str, float], *, output: str | None = None,
                dt_s: float | None = None, trials: int = 10, seed: int = 0, labels: Sequence[int] | None = None,
                compensate_drift: bool = False, ideal: np.ndarray | None = None, executor: Any = None) -> dict[str, TrialStats]:
    """One work item per (read time, trial); rows reassembled in item order."""
    from ...compiler.program import graph_to_bytes

    output = output or mapping.graph.outputs[0]
    if ideal is None:
        ideal = simulate_rram(mapping, inputs, dt_s=dt_s, config=mapping.config.ideal())[output]
    label_array = None if labels is None else np.asarray(labels)
    in_process = executor is None or getattr(executor, "in_process", False)
    chip: Any = mapping if in_process else (
        graph_to_bytes(mapping.graph), mapping.crossbars.to_bytes(), mapping.config)
    shared = (chip, inputs, output, dt_s, ideal, label_array, compensate_drift)
    seeds = trial_seeds(seed, trials)
    items = [(t, s) for t in read_times_s.values() for s in seeds]
    # no executor: one trial after another here (the execution layer sits above the backends)
    results = iter([run_trial(shared, item) for item in items] if executor is None else executor.run(run_trial, items, shared))
    ideal_acc = float(np.mean(predicted_class(_batched(ideal)) == label_array)) if labels is not None else None
    rows = {}
    for name, t in read_times_s.items():
        found = [next(results) for _ in seeds]
        rows[name] = TrialStats(t, tuple(a for a, _ in found), tuple(c for _, c in found if c is not None), ideal_acc)
    return rows


def run_trial(shared: tuple, item: tuple[float, int]) -> tuple[float, float | None]:
    """One work item: one simulated chip (``item = (t_s, trial seed)``); ``(agreement, accuracy or None)``."""
    chip, inputs, output, dt_s, ideal, labels, compensate_drift = shared
    t_s, trial_seed = item
    mapping = chip if isinstance(chip, RramMapping) else _cached_mapping(*chip)
    out = simulate_rram(mapping, inputs, dt_s=dt_s, seed=trial_seed, t_s=t_s, compensate_drift=compensate_drift)[output]
    agreement = float(np.mean(out == ideal))
    accuracy = None if labels is None else float(np.mean(predicted_class(_batched(out)) == labels))
    return agreement, accuracy


_MAPPINGS: dict[str, RramMapping] = {}


def _cached_mapping(graph_bytes: bytes, crossbar_bytes: bytes, config: Any) -> RramMapping:
    """An RramMapping rebuilt from bytes, once per worker process."""
    import hashlib

    from ...compiler.rram.crossbar_map import CrossbarMap
    from ...compiler.program import graph_from_bytes

    key = hashlib.sha256(graph_bytes + crossbar_bytes + repr(config).encode()).hexdigest()
    if key not in _MAPPINGS:
        _MAPPINGS.clear()
        _MAPPINGS[key] = RramMapping(graph=graph_from_bytes(graph_bytes), crossbars=CrossbarMap.from_bytes(crossbar_bytes),
                                     config=config, report=None)
    return _MAPPINGS[key]


def format_table(rows: dict[str, TrialStats]) -> str:
    """One line per read time: agreement mean +- std (and accuracy if measured)."""
    with_acc = any(r.accuracy for r in rows.values())
    head = f"{'read time':<10}{'trials':>7}{'agreement':>12}{'spread':>9}"
    head += f"{'accuracy':>10}{'spread':>9}{'ideal':>8}" if with_acc else ""
    lines = [head]
    for name, r in rows.items():
        line = f"{name:<10}{len(r.agreement):>7}{r.agreement_mean:>12.4f}{r.agreement_std:>9.4f}"
        if with_acc:
            line += f"{np.mean(r.accuracy):>10.3f}{np.std(r.accuracy):>9.3f}{r.ideal_accuracy:>8.3f}"
        lines.append(line)
    return "\n".join(lines)


def monte_carlo_report(
    program: Any,
    inputs: Any,
    *,
    trials: int = 10,
    seed: int = 0,
    read_time: str | float | None = None,
    labels: Sequence[int] | None = None,
    compensate_drift: bool = False,
    executor: Any = None,
    with_drift_table: bool = False,
) -> str:
    """The text ``spikec run PROGRAM --backend rram --trials N`` prints.

    With ``read_time`` one row at that time (followed by the rows at 1 s, 1 h,
    1 day and 1 year if ``with_drift_table``); otherwise the drift table at
    those four times. ``program`` is a Program or an RramMapping; ``executor``
    (``spikec.verification.execution``) runs the trials, default serially.
    """

    mapping = mapping_of(program)
    dt_s = getattr(program, "dt_s", None)
    times = {str(read_time): parse_duration_s(read_time)} if read_time is not None else None
    if times is not None and with_drift_table:
        times |= {name: t for name, t in READ_TIMES_S.items() if t not in times.values()}
    rows = drift_table(mapping, inputs, read_times_s=times, dt_s=dt_s, trials=trials, seed=seed,
                       labels=labels, compensate_drift=compensate_drift, executor=executor)
    head = (f"{mapping.config.name}: {trials} simulated chips (seed {seed}), spike agreement with the ideal chip"
            + (", global drift compensation on" if compensate_drift else ""))
    return head + "\n" + format_table(rows)
