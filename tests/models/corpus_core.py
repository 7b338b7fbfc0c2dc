"""The model corpus: what one entry records, and how each stage of it is checked.

An ``Entry`` is one model definition taken from a public repository (its path and
the class, function or line it follows), rebuilt here with seeded random weights
(trained weights cannot be downloaded here). Each entry states, per stage, what
spikec does with it *today*:

- ``"ok"``: the stage must pass (frontend accepts; float equals the framework;
  the target compiles and its backend equals its reference);
- ``"refuse:<regex>"``: ``spikec.compile`` must raise a ``SpikecError`` whose
  message matches the regex (a hardware limit, named); for ``frontend``, the frontend
  must raise it (an op no spikec graph computes), and every later stage inherits it;
- ``"xfail:<feature>:<engineer>"``: fails today for want of a feature being built
  in parallel (issue 15); the test is a strict xfail, so it turns into an XPASS
  failure once the feature lands and the marker must then be replaced.

Stages: ``frontend``, ``float``, one per target (``TARGETS`` plus an entry's
``extra_targets``), and ``lava`` (the Loihi 2 program run by Lava). A stage not
listed is ``"ok"``; when the frontend is an xfail or a refusal every later stage inherits it.

Framework outputs are computed once per entry and cached, as are graphs,
programs and reference runs, so each stage costs only its own work.
"""
from __future__ import annotations

import copy
import functools
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from framework_runs import step_norse, step_snntorch  # tests/framework_runs.py (tests/ is on sys.path: pytest, scripts/corpus.py)

#: targets every entry is checked on
TARGETS = ("loihi2", "spinnaker1", "rram-512")
#: targets an entry may add (cheap ones only)
EXTRA_TARGETS = ("loihi1", "spinnaker2", "rram-256")
#: native backend per target family, compared with ``spikec.run(program, x)`` (the reference)
NATIVE = {"loihi": "lava", "spinnaker": "spinnaker", "rram": "rram"}
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, eq=False)  # hashed by identity: the caches key on the entry
class Entry:
    """One corpus model: where it comes from, how it is built and run, what spikec does with it."""

    id: str
    framework: str  # "snntorch" | "norse" | "nir"
    repo: str  # owner/name on GitHub
    path: str  # file in that repository
    follows: str  # the class, function or line the builder follows
    adaptation: str  # what differs from the source ("" when nothing)
    build: Callable[[], Any]  # torch module (snntorch/norse) or a nir.NIRGraph / path (nir)
    frame: tuple[int, ...]  # one input frame, no time or batch dimension
    steps: int = 60
    batch: int = 2
    rate: float = 0.3  # input spike probability per entry and step
    today: Mapping[str, str] = field(default_factory=dict)
    extra_targets: tuple[str, ...] = ()
    slow: bool = False  # every stage of this entry only under -m slow
    lava_fast: bool = False  # run the Lava comparison in the fast suite
    readout: str = "spikes"  # "spikes", or "voltage" for any real-valued output (float32 frameworks: rtol 1e-5)
    reference: Callable[[np.ndarray], np.ndarray] | None = None  # nir entries: the framework run
    load: Callable[[Any], Any] | None = None  # nir entries: how the frontend loads what build returns
    dt_s: float | None = None

    @property
    def targets(self) -> tuple[str, ...]:
        return TARGETS + tuple(self.extra_targets)

    def expectation(self, stage: str) -> str:
        """What ``stage`` does today; later stages inherit a frontend (or float) xfail."""
        own = self.today.get(stage)
        if own is not None:
            return own
        if stage == "lava":
            return self.expectation("loihi2")
        front = self.today.get("frontend", "ok")
        if front.startswith(("xfail:", "refuse:")):
            return front
        return "ok"

    @property
    def seed(self) -> int:
        return sum(map(ord, self.id)) % 10_000


def xfail_parts(expectation: str) -> tuple[str, str]:
    """``"xfail:<feature>:<engineer>"`` -> (feature, engineer); the feature may itself hold colons."""
    feature, who = expectation[len("xfail:"):].rsplit(":", 1)
    return feature, who


def xfail_reason(expectation: str) -> str:
    feature, who = xfail_parts(expectation)
    return f"needs {feature} (issue 15, {who})"


# --- building and running the frameworks ------------------------------------------------------


def random_spikes(entry: Entry) -> np.ndarray:
    rng = np.random.default_rng(entry.seed)
    return (rng.random((entry.steps, entry.batch, *entry.frame)) < entry.rate).astype(np.float32)


def run_snntorch(net: Any, x: np.ndarray, take: int = 0) -> np.ndarray:
    """The snnTorch run of a copy of ``net`` in eval mode (the entry's module is never stepped)."""
    return step_snntorch(copy.deepcopy(net).eval(), x, take=take)


def run_norse(net: Any, x: np.ndarray) -> np.ndarray:
    """The Norse run of a copy of ``net`` in eval mode."""
    return step_norse(copy.deepcopy(net).eval(), x)


@functools.lru_cache(maxsize=None)
def built(entry: Entry) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return entry.build()


@functools.lru_cache(maxsize=None)
def inputs(entry: Entry) -> np.ndarray:
    return random_spikes(entry)


@functools.lru_cache(maxsize=None)
def framework_output(entry: Entry) -> np.ndarray:
    """The framework's own forward output on ``inputs(entry)``, time-first."""
    x = inputs(entry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if entry.framework == "snntorch":
            return run_snntorch(built(entry), x, take=1 if entry.readout == "voltage" else 0)
        if entry.framework == "norse":
            return run_norse(built(entry), x)
        assert entry.reference is not None, f"{entry.id}: a nir entry needs a reference run"
        return np.asarray(entry.reference(x), dtype=np.float64)


@functools.lru_cache(maxsize=None)
def frontend_graph(entry: Entry) -> Any:
    """The spikec Graph the frontend makes of the model (exceptions propagate)."""
    import spikec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = built(entry)
        if entry.framework == "snntorch":
            import torch

            kw = {} if entry.dt_s is None else {"dt_s": entry.dt_s}
            return spikec.from_snntorch(model, torch.zeros(*entry.frame), **kw)
        if entry.framework == "norse":
            import torch

            kw = {} if entry.dt_s is None else {"dt_s": entry.dt_s}
            return spikec.from_norse(model, torch.zeros(*entry.frame), **kw)
        return entry.load(model) if entry.load is not None else spikec.load_nir(model)


def the_output(recording: Mapping[str, np.ndarray], graph: Any) -> np.ndarray:
    """The single Output's recording (every corpus model has one Output)."""
    outs = list(graph.outputs)
    assert len(outs) == 1, f"corpus models have one output, this has {outs}"
    return np.asarray(recording[outs[0]], dtype=np.float64)


@functools.lru_cache(maxsize=None)
def simulated(entry: Entry) -> np.ndarray:
    import spikec

    graph = frontend_graph(entry)
    return the_output(spikec.simulate(graph, inputs(entry), entry.dt_s), graph)


@functools.lru_cache(maxsize=None)
def compiled(entry: Entry, target: str) -> Any:
    import spikec

    return spikec.compile(frontend_graph(entry), target, dt_s=entry.dt_s, fidelity_steps=0)


@functools.lru_cache(maxsize=None)
def reference_run(entry: Entry, target: str) -> np.ndarray:
    import spikec

    program = compiled(entry, target)
    return the_output(spikec.run(program, inputs(entry)), program.source)


def backend_run(entry: Entry, target: str) -> np.ndarray:
    """The target's native backend on the same program and input (RRAM: every non-ideality off)."""
    import spikec

    program = compiled(entry, target)
    family = program.family
    if family == "rram":
        from spikec.backends.rram import run as run_rram

        rec = run_rram(program, inputs(entry), ideal=True)
    else:
        rec = spikec.run(program, inputs(entry), backend=NATIVE[family])
    return the_output(rec, program.source)


# --- the checks (each raises AssertionError or the library's exception) -------------------------


def assert_active(values: np.ndarray, what: str, spikes: bool = False) -> None:
    """No check passes on silence (or, for spikes, on a layer firing at every step): the recording must carry something."""
    assert values.size > 0 and np.count_nonzero(values) > 0, f"{what}: all zero, the comparison would prove nothing"
    if spikes:
        rate = float(np.mean(values != 0))
        assert rate < 0.95, f"{what}: {rate:.0%} of entries spike, the comparison would prove little"


def check_frontend(entry: Entry) -> None:
    graph = frontend_graph(entry)
    assert len(graph.outputs) == 1 and len(graph.inputs) == 1
    shape = tuple(graph.nodes[graph.inputs[0]].shape)
    assert int(np.prod(shape)) == int(np.prod(entry.frame)), f"input shape {shape}, frame {entry.frame}"


def check_float(entry: Entry) -> None:
    expected = framework_output(entry)
    got = simulated(entry)
    assert_active(expected, f"{entry.id}: the framework's output", spikes=entry.readout == "spikes")
    assert got.shape == expected.shape, f"spikec {got.shape}, framework {expected.shape}"
    if entry.readout == "voltage":
        # real values: float32 frameworks to float32 precision; the float64 NIR reference to rounding
        # (its Euler steps group the products differently from spikec's); spikes are always exact
        tol = 1e-10 if entry.framework == "nir" else 1e-5
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())
    else:
        np.testing.assert_array_equal(got, expected)


def check_target(entry: Entry, target: str) -> None:
    """Compile; the reference must run and be active; spinnaker/rram backends must equal it here."""
    program = compiled(entry, target)
    want = reference_run(entry, target)
    assert_active(want, f"{entry.id} on {target}: the reference's output")
    if program.family == "loihi":
        # Lava is checked in test_lava; here the fast path against Lava's order step by step (the definition)
        from spikec.backends.reference.loihi_executor import run_loihi_stepwise

        rec = run_loihi_stepwise(program.graph, program.target.numeric, inputs(entry))
        np.testing.assert_array_equal(the_output(rec, program.source), want)
        return
    assert_equal_backend(program.family, backend_run(entry, target), want)


def assert_equal_backend(family: str, got: np.ndarray, want: np.ndarray) -> None:
    binary = np.isin(want, (0.0, 1.0)).all()
    if family == "rram" and not binary:
        # read-out voltages: tile partial sums are added in another order (docs/rram.md, verification/verify.py)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(want).max())))
    else:
        np.testing.assert_array_equal(got, want)


def check_refusal(entry: Entry, target: str, pattern: str) -> None:
    from spikec.ir.errors import SpikecError

    try:
        compiled(entry, target)
    except SpikecError as exc:
        assert re.search(pattern, str(exc)), f"refused, but not as stated: {exc}"
        return
    raise AssertionError(f"{entry.id}: {target} compiled it; expected a refusal matching {pattern!r}")


def check_frontend_refusal(entry: Entry, pattern: str) -> None:
    from spikec.ir.errors import SpikecError

    try:
        frontend_graph(entry)
    except SpikecError as exc:
        assert re.search(pattern, str(exc)), f"refused, but not as stated: {exc}"
        return
    raise AssertionError(f"{entry.id}: the frontend accepted it; expected a refusal matching {pattern!r}")


def check_lava(entry: Entry) -> None:
    want = reference_run(entry, "loihi2")
    assert_active(want, f"{entry.id} on loihi2: the reference's output")
    np.testing.assert_array_equal(backend_run(entry, "loihi2"), want)


def lava_available() -> tuple[bool, str]:
    from spikec.backends.lava.env import ensure_lava_env
    from spikec.ir.errors import SpikecError

    try:
        ensure_lava_env(create=False)
    except SpikecError as err:  # pragma: no cover - depends on the machine
        return False, str(err)
    return True, ""


# --- seeded weights ---------------------------------------------------------------------------


def excite(module: Any, seed: int, gain: float = 2.0, skip: tuple[type, ...] = ()) -> Any:
    """Seeded weights: uniform(-1, 1) * gain / sqrt(fan_in), biases uniform(-0.05, 0.05).

    Zero-mean weights keep a layer's input current at a spread of about
    ``gain * sqrt(rate / 3)`` whatever its fan-in, so layers neither fall silent
    nor fire at every step (a saturated output would prove little; the float
    check asserts it is not). Every ``nn.Linear`` / ``nn.Conv*`` not inside a
    module of a type in ``skip`` is re-drawn.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    skipped = {id(m) for s in module.modules() if isinstance(s, skip) for m in s.modules()} if skip else set()
    with torch.no_grad():
        for m in module.modules():
            if id(m) in skipped or not isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)):
                continue
            fan_in = m.weight[0].numel()
            m.weight.copy_((torch.rand(m.weight.shape, generator=gen) * 2.0 - 1.0) * gain / fan_in**0.5)
            if m.bias is not None:
                m.bias.copy_((torch.rand(m.bias.shape, generator=gen) - 0.5) * 0.1)
    return module
