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

from ...compiler.rram_lower import RramMapping
from ...ir.errors import InputError
from .simulator import simulate_rram

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
) -> TrialStats:
    """Run ``trials`` simulated chips at read time ``t_s`` and compare with the ideal chip."""
    output = output or mapping.graph.outputs[0]
    if ideal is None:
        ideal = simulate_rram(mapping, inputs, dt_s=dt_s, config=mapping.config.ideal())[output]
    agreement, accuracy = [], []
    for s in trial_seeds(seed, trials):
        out = simulate_rram(mapping, inputs, dt_s=dt_s, seed=s, t_s=t_s, compensate_drift=compensate_drift)[output]
        agreement.append(float(np.mean(out == ideal)))
        if labels is not None:
            accuracy.append(float(np.mean(predicted_class(_batched(out)) == np.asarray(labels))))
    ideal_acc = float(np.mean(predicted_class(_batched(ideal)) == np.asarray(labels))) if labels is not None else None
    return TrialStats(t_s, tuple(agreement), tuple(accuracy), ideal_acc)


def _batched(spikes: np.ndarray) -> np.ndarray:
    return spikes if spikes.ndim >= 3 else spikes[:, None]


def drift_table(
    mapping: RramMapping,
    inputs: Any,
    *,
    read_times_s: dict[str, float] | None = None,
    **kwargs: Any,
) -> dict[str, TrialStats]:
    """``monte_carlo`` at each read time (default 1 s, 1 h, 1 day, 1 year), same trial seeds."""
    read_times_s = read_times_s or READ_TIMES_S
    output = kwargs.pop("output", None) or mapping.graph.outputs[0]
    ideal = simulate_rram(mapping, inputs, dt_s=kwargs.get("dt_s"), config=mapping.config.ideal())[output]
    return {name: monte_carlo(mapping, inputs, output=output, t_s=t, ideal=ideal, **kwargs) for name, t in read_times_s.items()}


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
) -> str:
    """The text ``spikec run PROGRAM --backend rram --trials N`` prints.

    With ``read_time`` one row at that time; otherwise the drift table at
    1 s, 1 h, 1 day and 1 year. ``program`` is a Program or an RramMapping.
    """
    from . import mapping_of  # the package's entry point resolves Programs

    mapping = mapping_of(program)
    dt_s = getattr(program, "dt_s", None)
    times = {str(read_time): parse_duration_s(read_time)} if read_time is not None else None
    rows = drift_table(mapping, inputs, read_times_s=times, dt_s=dt_s, trials=trials, seed=seed,
                       labels=labels, compensate_drift=compensate_drift)
    head = (f"{mapping.config.name}: {trials} simulated chips (seed {seed}), spike agreement with the ideal chip"
            + (", global drift compensation on" if compensate_drift else ""))
    return head + "\n" + format_table(rows)
