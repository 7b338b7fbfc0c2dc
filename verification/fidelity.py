"""Fidelity: how far the fixed-point program is from the float model it came from.

Both run on the same seeded random input spikes: the float reference on the
source graph (with a probe Output on every neuron layer) and the reference
executor on the program (recording every population's spikes and v). Each
population lags the float model by its ``latency_steps`` (one step per Dense
on the path), so layer L's fixed-point step t + d_L is compared with float
step t. Per layer: spike counts, count agreement ``1 - sum|c_float - c_fixed|
/ sum(c_float + c_fixed)`` over (batch, neuron), train agreement (fraction of
equal (t, b, neuron) entries), and the Jaccard index of the spike sets; for
read-outs the relative RMS error of v.

Every family has one (``FIDELITY_FAMILIES``): Loihi as above; SpiNNaker
compares its integer reference executor (graph-aligned: no lag) with the
float model layer by layer, spikes for spiking layers and v (in float units)
for read-outs; RRAM compares its reference, the float executor on the
program's graph (the weights its tiles represent), with the float model.

This measures the compiler, not a backend: backends are held to the reference
executor bit for bit.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from .. import backends
from ..backends.reference import float_executor
from ..compiler import api
from ..compiler.loihi.nodes import gather_parts, layer_parts, layer_shape
from ..compiler.program import Program
from ..compiler.target import Target
from ..ir.errors import SpikecError
from ..ir.graph import Graph
from ..ir.nodes import NEURON_TYPES, SPIKING_TYPES, Output
from .metrics import neuron_count

PROBE = "__probe__."
#: families whose reference executor the fidelity report can compare population by population
FIDELITY_FAMILIES = ("loihi", "spinnaker", "rram")
#: Neuron-steps (neurons x steps x samples) the default fidelity run may take: 10^5 neurons x 100 steps x 2
#: samples, a few seconds. A larger model's compile would spend most of its time here (10^6 neurons:
#: minutes), so by default its report says the run was skipped and how to ask for it.
FIDELITY_BUDGET_NEURON_STEPS = 2 * 10**7
FIDELITY_BATCH = 2


def random_spikes(shape: tuple[int, ...], steps: int, batch: int, rate: float, seed: int) -> np.ndarray:
    """Bernoulli(rate) spikes ``[T, B, *shape]`` as float64 0/1, from ``seed``."""
    rng = np.random.default_rng(seed)
    return (rng.random((steps, batch, *shape)) < rate).astype(np.float64)


def with_probes(graph: Graph, layers: list[str]) -> Graph:
    """The graph plus an Output after each named layer (to record what the float model computes there)."""
    nodes = dict(graph.nodes) | {PROBE + n: Output() for n in layers}
    return Graph(nodes, graph.edges + tuple((n, PROBE + n) for n in layers), graph.metadata)


def compare_layer(f: np.ndarray, q: np.ndarray) -> dict[str, Any]:
    """Agreement of two aligned spike arrays [T, B, ...]."""
    flat = lambda a: a.reshape(a.shape[0], a.shape[1], int(np.prod(a.shape[2:])))  # (no -1: a layer may have 0 aligned steps)
    f, q = flat(f) > 0, flat(q) > 0
    cf, cq = f.sum(axis=0), q.sum(axis=0)
    total = int(cf.sum() + cq.sum())
    union = int((f | q).sum())
    return {
        "spikes_float": int(cf.sum()), "spikes_fixed": int(cq.sum()),
        "count_agreement": 1.0 - float(np.abs(cf - cq).sum()) / total if total else 1.0,
        "train_agreement": float((f == q).mean()) if f.size else 1.0,
        "jaccard": float((f & q).sum()) / union if union else 1.0,
    }


def _aligned(f: np.ndarray, q: np.ndarray, spiking: bool, scale: float = 1.0) -> dict[str, Any]:
    """One layer's record from aligned float and fixed-point arrays: spike agreement, or v's relative RMS error."""
    if spiking:
        return compare_layer(f, q) | {"latency_steps": 0}
    rms = float(np.sqrt(np.mean(f**2))) or 1.0
    return {"latency_steps": 0, "v_rel_rms_error": float(np.sqrt(np.mean((q / scale - f) ** 2))) / rms}


def _graph_aligned_report(program: Any, inputs: dict[str, np.ndarray], fixed: dict[str, np.ndarray], layers: list[str]) -> dict[str, Any]:
    floats = float_executor.simulate(with_probes(program.source, layers), inputs, program.dt_s)
    out = {}
    for name in layers:
        spiking = isinstance(program.source.nodes[name], SPIKING_TYPES)
        out[name] = _aligned(floats[PROBE + name], fixed[name], spiking)
    return out


def _spinnaker_layers(program: Any, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """SpiNNaker: its integer reference executor (spikes and v of every population) vs the float model."""
    from ..backends.reference.spinnaker_executor import network_of

    names = {p.name for p in network_of(program).populations if not p.is_source}
    layers = [n for n, node in program.source.items() if isinstance(node, NEURON_TYPES) and n in names]
    raw = backends.run(program, inputs, backend="reference", record=("s", "v"))
    fixed = {n: raw[f"{n}.s"] if isinstance(program.source.nodes[n], SPIKING_TYPES) else raw[f"{n}.v"] for n in layers}
    return _graph_aligned_report(program, inputs, fixed, layers)


def _rram_layers(program: Any, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """RRAM: its reference (the float executor on the graph of tile weights) vs the float model."""
    layers = [n for n, node in program.source.items() if isinstance(node, NEURON_TYPES) and n in program.graph.nodes]
    fixed_probes = float_executor.simulate(with_probes(program.graph, layers), inputs, program.dt_s)
    return _graph_aligned_report(program, inputs, {n: fixed_probes[PROBE + n] for n in layers}, layers)


def fidelity_report(program: Any, *, steps: int = 100, batch: int = FIDELITY_BATCH, rate: float = 0.2, seed: int = 0) -> dict[str, Any]:
    """Float reference vs the program's integer arithmetic, per layer (see module docstring)."""
    if program.family in ("spinnaker", "rram"):
        inputs = {n: random_spikes(program.source.nodes[n].shape, steps, batch, rate, seed) for n in program.source.inputs}
        layers = (_spinnaker_layers if program.family == "spinnaker" else _rram_layers)(program, inputs)
        return {"steps": steps, "batch": batch, "input_rate": rate, "seed": seed, "layers": layers}
    scales: dict[str, np.ndarray] = {}
    split = layer_parts(program.graph)
    pops = {}
    for n, node in program.graph.items():
        layer = node.metadata.get("layer", n)  # a split layer's parts stand for the layer
        if type(node).__name__ == "LoihiNeurons" and layer in program.source.nodes and layer not in pops:  # not relays
            pops[layer] = node
            if layer in split:
                scales[layer] = gather_parts(program.graph, split[layer], lambda p: program.graph.nodes[p].v_scale)
    inputs = {n: random_spikes(program.graph.nodes[n].shape, steps, batch, rate, seed) for n in program.source.inputs}
    floats = float_executor.simulate(with_probes(program.source, list(pops)), inputs, program.dt_s)
    fixed = backends.run(program, inputs, backend="reference", record=("s", "v"))
    layers: dict[str, Any] = {}
    for name, pop in pops.items():
        d = min(pop.latency_steps, steps)
        f = floats[PROBE + name][: steps - d]
        if pop.spiking:
            layers[name] = compare_layer(f, fixed[f"{name}.s"][d:]) | {"latency_steps": d}
        else:
            shape = layer_shape(program.graph, name)
            v = fixed[f"{name}.v"][d:] / scales.get(name, pop.v_scale).reshape(shape)
            rms = float(np.sqrt(np.mean(f**2))) or 1.0
            layers[name] = {"latency_steps": d, "v_rel_rms_error": float(np.sqrt(np.mean((v - f) ** 2))) / rms}
    return {"steps": steps, "batch": batch, "input_rate": rate, "seed": seed, "layers": layers}


def format_fidelity(report: dict[str, Any]) -> str:
    """A table, one line per layer."""
    lines = [f"fidelity: float reference vs fixed point, {report['steps']} steps x {report['batch']} samples, "
             f"input rate {report['input_rate']}, seed {report['seed']}",
             f"  {'layer':<20} {'lag':>3} {'spikes float':>12} {'spikes fixed':>12} {'count agr.':>10} {'train agr.':>10} {'jaccard':>8}"]
    for name, r in report["layers"].items():
        if "spikes_float" in r:
            lines.append(f"  {name:<20} {r['latency_steps']:>3} {r['spikes_float']:>12} {r['spikes_fixed']:>12} "
                         f"{r['count_agreement']:>10.3f} {r['train_agreement']:>10.4f} {r['jaccard']:>8.3f}")
        else:
            lines.append(f"  {name:<20} {r['latency_steps']:>3} read-out v relative RMS error {r['v_rel_rms_error']:.4f}")
    return "\n".join(lines)


def with_fidelity(program: Program, *, steps: int = 100, seed: int = 0) -> Program:
    """``program`` with ``report["fidelity"]`` (or ``{"error": ...}``) when its family is lowered and comparable."""
    if not steps or program.family not in FIDELITY_FAMILIES:
        return program
    try:
        fidelity = fidelity_report(program, steps=steps, seed=seed)
    except SpikecError as exc:
        fidelity = {"error": str(exc)}
    return Program(**{**program.__dict__, "report": {**program.report, "fidelity": fidelity}})


def compile(graph: Graph | str | os.PathLike, target: str | os.PathLike | Target, *, dt_s: float | None = None,
            dump_after: str | None = None, fidelity_steps: int | None = None, seed: int = 0, chips: int | str | None = None,
            on_pass: Callable[[str, int, int], None] | None = None) -> Program:
    """``spikec.compile``: the compiler's Program plus the float-vs-fixed fidelity report.

    ``fidelity_steps`` sets the length of the random-input comparison with the
    float reference stored in ``program.report["fidelity"]``: 0 skips it, a
    number runs that many steps; None (the default) runs 100 steps unless that
    is over ``FIDELITY_BUDGET_NEURON_STEPS``, and then records why it was skipped.
    The other arguments are ``spikec.compiler.api.compile``'s (``on_pass`` is also
    told of the fidelity run, as a last step named ``fidelity``).
    """
    program = api.compile(graph, target, dt_s=dt_s, dump_after=dump_after, chips=chips, on_pass=on_pass)
    if fidelity_steps is None and program.family in FIDELITY_FAMILIES:
        work = neuron_count(program.source) * 100 * FIDELITY_BATCH
        if work > FIDELITY_BUDGET_NEURON_STEPS:
            skipped = {"skipped": (f"{neuron_count(program.source)} neurons x 100 steps x {FIDELITY_BATCH} samples is "
                                   f"over the compile-time budget of {FIDELITY_BUDGET_NEURON_STEPS} neuron-steps; "
                                   "ask for it with --fidelity-steps N (fidelity_steps=N) or run spikec verify")}
            return Program(**{**program.__dict__, "report": {**program.report, "fidelity": skipped}})
    steps = 100 if fidelity_steps is None else fidelity_steps
    if on_pass is not None and steps and dump_after is None:
        on_pass("fidelity", len(program.pass_log) + 1, len(program.pass_log) + 1)
    return with_fidelity(program, steps=steps, seed=seed)
