"""A cross-platform fidelity matrix, like the NIR paper's: every run against every other.

For one model and one input, each *run* is a way of computing the output:
the float model, and for every target its compiled program on the reference
executor and on the target's native backend. Outputs are aligned in time
first (a Loihi program lags the float model by the output population's
``latency_steps``; SpiNNaker and RRAM programs keep the float model's timing).
Two measures per pair:

- spike-train agreement: the fraction of equal (step, sample, neuron) entries;
- cosine similarity of activity: the cosine of the two vectors of per-neuron
  spike counts (summed over time, per sample), 1.0 when both are silent.

This is fidelity (how far each platform is from the trained model), not the
equivalence verdict of ``verify``, which is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..backends.reference.float_executor import simulate
from ..ir.errors import SpikecError
from ..ir.graph import Graph
from .fidelity import compile as compile_graph
from ..backends import run
from .verify import NATIVE_BACKENDS, random_spikes


@dataclass(frozen=True)
class FidelityMatrix:
    runs: tuple[str, ...]
    agreement: np.ndarray  # [runs, runs]
    cosine: np.ndarray  # [runs, runs]
    spikes: tuple[int, ...]
    skipped: tuple[str, ...] = ()


def output_lag(program: Any) -> int:
    """Steps by which the program's output trails the float model's."""
    if program.family != "loihi":
        return 0
    from ..compiler.loihi.nodes import output_latency

    graph = program.graph
    return max((output_latency(graph, name) for name, node in graph.items() if node.kind in ("LoihiOutput", "LoihiReadout")), default=0)


def train_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float((a == b).mean()) if a.size else 1.0


def activity_cosine(a: np.ndarray, b: np.ndarray) -> float:
    ca, cb = a.sum(axis=0).ravel(), b.sum(axis=0).ravel()
    na, nb = float(np.linalg.norm(ca)), float(np.linalg.norm(cb))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(ca @ cb) / (na * nb)


def collect_runs(graph: Graph, targets: Sequence[str], x: np.ndarray, *, dt_s: float | None = None,
                 native: bool = True) -> tuple[dict[str, np.ndarray], list[str]]:
    """Aligned output spikes ``[T', B, ...]`` per run name, and the runs that could not be made."""
    (output,) = graph.outputs[:1]
    runs: dict[str, np.ndarray] = {"float": simulate(graph, x, dt_s)[output]}
    lags = {"float": 0}
    skipped = []
    for target in targets:
        try:
            program = compile_graph(graph, target, dt_s=dt_s, fidelity_steps=0)
        except SpikecError as exc:
            skipped.append(f"{target}: {exc}")
            continue
        lag = output_lag(program)
        runs[f"{target}/reference"], lags[f"{target}/reference"] = run(program, x)[output], lag
        backend = NATIVE_BACKENDS.get(program.family, (None, {}))[0]
        if native and backend is not None:
            runs[f"{target}/{backend}"], lags[f"{target}/{backend}"] = run(program, x, backend=backend)[output], lag
    steps = min(len(r) - lags[name] for name, r in runs.items())
    return {name: r[lags[name]: lags[name] + steps] for name, r in runs.items()}, skipped


def fidelity_matrix(graph: Graph, targets: Sequence[str], *, inputs: Any = None, steps: int = 200, batch: int = 4,
                    seed: int = 0, rate: float = 0.2, dt_s: float | None = None, native: bool = True) -> FidelityMatrix:
    """Every run against every other on the same input (see the module docstring)."""
    if inputs is None:
        (name,) = graph.inputs
        inputs = random_spikes(tuple(graph.nodes[name].shape), steps, batch, seed, rate)
    runs, skipped = collect_runs(graph, targets, inputs, dt_s=dt_s, native=native)
    names = tuple(runs)
    n = len(names)
    agreement, cosine = np.ones((n, n)), np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            a, b = runs[names[i]] > 0, runs[names[j]] > 0
            agreement[i, j] = agreement[j, i] = train_agreement(a, b)
            cosine[i, j] = cosine[j, i] = activity_cosine(a.astype(float), b.astype(float))
    return FidelityMatrix(names, agreement, cosine, tuple(int((runs[r] > 0).sum()) for r in names), tuple(skipped))


def format_matrix(matrix: FidelityMatrix) -> str:
    width = max(12, max(len(r) for r in matrix.runs))
    lines = []
    for title, values in (("spike-train agreement", matrix.agreement), ("cosine similarity of activity", matrix.cosine)):
        lines.append(f"{title}:")
        lines.append(" " * (width + 1) + " ".join(f"{i:>7}" for i in range(len(matrix.runs))))
        for i, name in enumerate(matrix.runs):
            lines.append(f"{name:<{width}} " + " ".join(f"{v:7.3f}" for v in values[i]) + f"   [{i}] {matrix.spikes[i]} spikes")
    lines += [f"skipped {s}" for s in matrix.skipped]
    return "\n".join(lines)
