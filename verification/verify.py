"""``verify``: does each target's own backend compute what its program says?

For every target: compile, run the program on the reference executor (the
oracle of its numeric format) and on the target's native backend, on the same
input, and compare. Equivalence is exact for the digital families; a mismatch
is bisected to the earliest step and node whose spikes diverge. Fidelity (how
far the program is from the float model) is reported beside it, never mixed
into the verdict.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..ir.errors import SpikecError
from ..ir.graph import Graph
from ..ir.summary import summarise
from .fidelity import compile as compile_graph
from ..backends import run

#: family -> (native backend, keyword arguments that make it comparable bit for bit)
NATIVE_BACKENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "loihi": ("lava", {}),
    "spinnaker": ("spinnaker", {}),
    "rram": ("rram", {"ideal": True}),
}
#: Relative tolerance for non-spike (read-out) values, per family. The integer
#: families must agree exactly. The RRAM family's digital side is float64 and
#: its simulator adds tile partial sums in another order than the reference's
#: one matrix product, so read-out voltages agree to rounding (docs/semantics.md
#: section 5); spikes are still compared exactly.
ANALOG_RTOL: dict[str, float] = {"rram": 1e-9}


def count_mismatches(a: np.ndarray, b: np.ndarray, rtol: float) -> np.ndarray:
    """Boolean mask of differing entries: exact for spikes, within ``rtol`` for analog values."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    binary = np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()
    if binary or rtol == 0.0:
        return a != b
    return ~np.isclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.abs(a).max(initial=0.0))))


@dataclass(frozen=True)
class Mismatch:
    """The first entry where two recordings differ."""

    step: int
    node: str
    neuron: tuple[int, ...]
    reference: float
    backend: float

    def __str__(self) -> str:
        return f"step {self.step}, node '{self.node}', neuron {self.neuron}: reference {self.reference:g}, backend {self.backend:g}"


@dataclass(frozen=True)
class TargetResult:
    target: str
    family: str
    backend: str
    neurons: int
    entries_compared: int
    spikes_compared: int
    mismatches: int
    first_mismatch: Mismatch | None
    diverging_node: Mismatch | None
    fidelity: Mapping[str, Any]
    seconds: float
    error: str | None = None
    #: where ``error`` happened: "compile" (the target cannot take the model) or "run"
    error_stage: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.mismatches == 0

    @property
    def mismatched(self) -> bool:
        """The backend ran and differs from the reference: the only finding that is a mismatch."""
        return self.error is None and self.mismatches > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "family": self.family, "backend": self.backend, "neurons": self.neurons,
            "entries_compared": self.entries_compared, "spikes_compared": self.spikes_compared,
            "mismatches": self.mismatches, "ok": self.ok,
            "first_mismatch": None if self.first_mismatch is None else vars(self.first_mismatch) | {"neuron": list(self.first_mismatch.neuron)},
            "diverging_node": None if self.diverging_node is None else vars(self.diverging_node) | {"neuron": list(self.diverging_node.neuron)},
            "fidelity": dict(self.fidelity), "seconds": round(self.seconds, 3), "error": self.error,
            "error_stage": self.error_stage,
        }


@dataclass(frozen=True)
class VerifyReport:
    results: tuple[TargetResult, ...]
    steps: int
    batch: int
    seed: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def mismatched(self) -> bool:
        """Some backend ran and differs from its reference (exit status 1)."""
        return any(r.mismatched for r in self.results)

    @property
    def errors(self) -> tuple[TargetResult, ...]:
        """Targets that could not compile or run the model (exit status 2 when nothing mismatched)."""
        return tuple(r for r in self.results if r.error is not None)


def first_difference(reference: Mapping[str, np.ndarray], backend: Mapping[str, np.ndarray], names: Sequence[str],
                     rtol: float = 0.0) -> Mismatch | None:
    """The earliest (step, then order in ``names``) entry where the recordings differ."""
    best: Mismatch | None = None
    for name in names:
        if name not in reference or name not in backend:
            continue
        a, b = np.asarray(reference[name]), np.asarray(backend[name])
        if a.shape != b.shape:
            return Mismatch(0, name, (), float("nan"), float("nan"))
        diff = np.argwhere(count_mismatches(a, b, rtol))
        if diff.size == 0:
            continue
        step = int(diff[:, 0].min())
        if best is None or step < best.step:
            idx = tuple(int(i) for i in diff[diff[:, 0] == step][0])
            best = Mismatch(step, name, idx[1:], float(a[idx]), float(b[idx]))
    return best


def random_spikes(shape: tuple[int, ...], steps: int, batch: int, seed: int, rate: float = 0.2) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, *shape)) < rate).astype(np.float32)


def verify_target(program: Any, x: Any, *, backend: str | None = None) -> TargetResult:
    """Run ``program`` on the reference and on ``backend`` (default: its family's native one) and compare."""
    family = program.family
    native, options = NATIVE_BACKENDS.get(family, (None, {}))
    backend = backend or native
    start = time.perf_counter()
    neurons = int(summarise(program.source)["neurons"])
    if backend is None:
        raise SpikecError(f"no native backend for the {family} family")
    reference = run(program, x, backend="reference", record=("s",))
    module_run = _backend_runner(backend)
    measured = module_run(program, x, record=("s",), **options)
    outputs = list(program.source.outputs)
    compared = sum(np.asarray(reference[n]).size for n in outputs)
    spikes = int(sum(np.count_nonzero(reference[n]) for n in outputs))
    rtol = ANALOG_RTOL.get(family, 0.0)
    mismatches = int(sum(np.count_nonzero(count_mismatches(reference[n], measured[n], rtol)) for n in outputs))
    first = first_difference(reference, measured, outputs, rtol)
    order, _ = program.graph.execution_order()
    layers = [str(getattr(program.graph.nodes[n], "metadata", {}).get("layer", n)) for n in order]  # split layers: their parts' layer
    traces = [f"{n}.s" for n in dict.fromkeys(layers)]
    diverging = first_difference(reference, measured, traces, rtol) if mismatches else None
    return TargetResult(
        target=program.target.name, family=family, backend=backend, neurons=neurons,
        entries_compared=compared, spikes_compared=spikes, mismatches=mismatches,
        first_mismatch=first, diverging_node=diverging, fidelity=dict(program.fidelity or {}),
        seconds=time.perf_counter() - start,
    )


def _backend_runner(backend: str) -> Callable[..., dict[str, np.ndarray]]:
    from ..backends import runner

    return runner(backend)


def _target_name(target: str) -> str:
    """The target's own name (a config file's [target] name), or what the user typed if it cannot be read."""
    from ..compiler.target import load_target

    try:
        return load_target(target).name
    except SpikecError:
        return target


def verify_one_target(shared: tuple[bytes, Any, float | None, int, int], target: str) -> TargetResult:
    """One work item of ``verify``: compile the graph (as bytes in ``shared``) for ``target``, run both, compare."""
    from ..compiler.program import graph_from_bytes

    graph_bytes, inputs, dt_s, fidelity_steps, seed = shared
    try:
        program = compile_graph(graph_from_bytes(graph_bytes), target, dt_s=dt_s, fidelity_steps=fidelity_steps, seed=seed)
    except SpikecError as exc:
        return TargetResult(_target_name(target), "?", "?", 0, 0, 0, 0, None, None, {}, 0.0, error=str(exc), error_stage="compile")
    try:
        return verify_target(program, inputs)
    except SpikecError as exc:
        return TargetResult(target, program.family, "?", 0, 0, 0, 0, None, None, {}, 0.0, error=str(exc), error_stage="run")


def verify(
    graph: Graph,
    targets: Sequence[str],
    *,
    inputs: Any = None,
    steps: int = 100,
    batch: int = 2,
    seed: int = 0,
    dt_s: float | None = None,
    fidelity_steps: int | None = None,
    progress: Callable[[str], None] | None = None,
    executor: Any = None,
) -> VerifyReport:
    """Compile ``graph`` for each target and compare its native backend with the reference.

    One work item per target on ``executor`` (``verification/execution.py``; default:
    serial, in this process); results in the order of ``targets``.
    """
    from .execution import SerialExecutor
    from ..compiler.program import graph_to_bytes

    (input_name,) = graph.inputs if inputs is None else (None,)
    if inputs is None:
        inputs = random_spikes(tuple(graph.nodes[input_name].shape), steps, batch, seed)
    targets = list(targets)
    executor = executor or SerialExecutor()
    if progress and isinstance(executor, SerialExecutor):
        progress(f"compiling and running {', '.join(targets)} in turn")
    elif progress:
        progress(f"{len(targets)} targets on {executor.describe()}")
    found: dict[int, TargetResult] = {}
    for index, result in executor.stream(verify_one_target, targets, (graph_to_bytes(graph), inputs, dt_s, fidelity_steps, seed)):
        found[index] = result
        if progress:
            verdict = f"cannot {result.error_stage}" if result.error else "agrees" if result.ok else "MISMATCH"
            progress(f"{result.target}: {verdict} ({len(found)}/{len(targets)})")
    results = [found[i] for i in range(len(targets))]
    arr = next(iter(inputs.values())) if isinstance(inputs, Mapping) else np.asarray(inputs)
    return VerifyReport(tuple(results), steps=int(arr.shape[0]), batch=int(arr.shape[1]) if arr.ndim > 2 else 1, seed=seed)


def error_line(result: TargetResult) -> str:
    """One line for a target that could not compile or run the model."""
    first = (result.error or "").strip().splitlines()[0] if result.error else ""
    return f"{result.target}: cannot {result.error_stage or 'compile'}: {first}"


def verdict(report: VerifyReport) -> str:
    """The last line of the table: a mismatch outranks an error, an error outranks agreement."""
    head = f"{report.steps} steps x {report.batch} samples, seed {report.seed}"
    if report.mismatched:
        return f"MISMATCH: {head}"
    if report.errors:
        names = ", ".join(r.target for r in report.errors)
        return f"ERROR: {len(report.errors)} of {len(report.results)} targets could not take the model ({names}); {head}"
    return f"ALL AGREE: {head}"


def format_report(report: VerifyReport) -> str:
    rows = [("target", "backend", "neurons", "entries", "spikes", "mismatches", "first mismatch", "float vs fixed (train agr.)")]
    for r in report.results:
        fid = r.fidelity.get("layers") if r.fidelity else None
        agreement = "-" if not fid else ", ".join(f"{k} {v.get('train_agreement', float('nan')):.3f}" for k, v in fid.items())
        first = f"cannot {r.error_stage} (below)" if r.error else ("-" if r.first_mismatch is None else str(r.first_mismatch))
        rows.append((r.target, r.backend, str(r.neurons), str(r.entries_compared), str(r.spikes_compared),
                     "error" if r.error else str(r.mismatches), first, agreement))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    for r in report.results:
        if r.diverging_node is not None:
            lines.append(f"{r.target}: first divergence at {r.diverging_node}")
    lines.extend(error_line(r) for r in report.errors)
    lines.append(verdict(report))
    return "\n".join(lines)
