"""Pass: every hardware limit the model breaks, listed at once, before lowering.

Each finding names the node, the figure, the limit and a fix (split the layer,
lower the weight precision, raise dt, use more chips). Errors stop the
compile with one ``CompileError`` listing all of them; warnings go to the
report. Limits come from the target file, never from code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...ir.errors import CompileError
from ...ir.nodes import Threshold, NEURON_TYPES
from ...ir import weights
from ..linear_maps import LayerInputs, layer_inputs
from .populations import decay_profiles
from .scaling import neuron_coefficients, one_or_many, quantise_decays
from .quantise import choose_scale
from ..pipeline import CompileState
from ..target import LoihiNumeric, Target


@dataclass(frozen=True)
class Finding:
    """One broken (or nearly broken) limit."""

    node: str
    figure: str
    value: Any
    limit: Any
    fix: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"node '{self.node}': {self.figure} = {self.value}, limit {self.limit}; fix: {self.fix}"

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "figure": self.figure, "value": self.value, "limit": self.limit, "fix": self.fix, "severity": self.severity}


def resource_findings(state: CompileState, inputs: LayerInputs) -> list[Finding]:
    """Neurons, cores, fan-in, fan-out, synapses and delays against ``[limits]``."""
    lim = state.target.limits
    out: list[Finding] = []
    layers = {n: int(np.prod(inputs.shapes[n][0])) for n, node in state.graph.items() if isinstance(node, NEURON_TYPES)}
    cores = sum(math.ceil(n / lim.neurons_per_core) for n in layers.values())
    available = lim.chips * lim.cores_per_chip
    if cores > available:
        out.append(Finding("<graph>", "cores needed (neurons_per_core per layer)", cores, available, "use more chips (raise [limits] chips) or a smaller model"))
    total = sum(layers.values())
    if lim.neurons_per_chip and total > lim.chips * lim.neurons_per_chip:
        out.append(Finding("<graph>", "neurons", total, lim.chips * lim.neurons_per_chip, "use more chips or a smaller model"))
    synapses = 0
    fan_out: dict[str, np.ndarray] = {}
    for target, projections in inputs.projections.items():
        if target not in layers:
            continue
        fan_in = sum(weights.count_nonzero(p.matrix, axis=1) for p in projections) if projections else np.zeros(1)
        synapses += int(sum(weights.count_nonzero(p.matrix) for p in projections))
        if lim.max_fan_in and int(np.max(fan_in)) > lim.max_fan_in:
            out.append(Finding(target, "fan-in (synapses into one neuron)", int(np.max(fan_in)), lim.max_fan_in, "split the layer's inputs over several layers or prune weights"))
        for p in projections:
            fan_out[p.source] = fan_out.get(p.source, 0) + weights.count_nonzero(p.matrix, axis=0)
    for source, counts in fan_out.items():
        if lim.max_fan_out and int(np.max(counts)) > lim.max_fan_out:
            out.append(Finding(source, "fan-out (synapses from one neuron)", int(np.max(counts)), lim.max_fan_out, "split the target layers or prune weights"))
    if lim.synapses_per_chip and synapses > lim.chips * lim.synapses_per_chip:
        out.append(Finding("<graph>", "synapses", synapses, lim.chips * lim.synapses_per_chip, "use more chips or prune weights"))
    # delays: the quantise-delays pass checks them against the longest chain of stages the target builds
    return out


def loihi_findings(state: CompileState, inputs: LayerInputs) -> list[Finding]:
    """What Lava's fixed point cannot hold: decays, per-process parameters, thresholds, weight range."""
    fmt: LoihiNumeric = state.target.numeric
    out: list[Finding] = []
    for name, node in state.graph.items():
        if isinstance(node, Threshold):
            out.append(Finding(name, "node kind", node.kind, "LIF, CubaLIF, IF, LI, Integrator", "the Loihi lowering does not support it yet: remove it or target another family"))
        if not isinstance(node, NEURON_TYPES):
            continue
        c = neuron_coefficients(name, node, state.dt_s)
        du, dv, warnings = quantise_decays(name, c, fmt)
        out += _profile_findings(name, du, dv, state.target)
        for w in warnings:
            out.append(Finding(name, "decay", w.split(": ", 1)[1], f"0..{(1 << fmt.decay_bits) - 1}", "raise or lower dt", "warning"))
        if c.spiking and (c.v_threshold <= 0).any():
            out.append(Finding(name, "v_threshold", float(c.v_threshold.min()), "> 0", "use a positive threshold"))
        else:
            out += _scale_findings(name, c, inputs, fmt)
        for p in inputs.projections.get(name, []):
            nonzero = np.abs(weights.nonzero_values(p.matrix))
            lost = float((nonzero < nonzero.max() / 2 ** fmt.weight_bits).mean()) if nonzero.size else 0.0
            if lost > 0.25:
                out.append(Finding(name, f"share of weights from '{p.source}' below the {fmt.weight_bits}-bit resolution", round(lost, 3), 0.25,
                                   "these weights round to zero: prune or retrain with fewer distinct magnitudes", "warning"))
    return out


def _profile_findings(name: str, du: np.ndarray, dv: np.ndarray, target: Target) -> list[Finding]:
    """Distinct (du, dv) per layer: Lava holds one per process, so each is a population, up to
    ``decay_configs_per_core``; over it they are clustered (warning) or, with clustering off, refused."""
    lim = target.limits
    need = decay_profiles(du, dv)
    if lim.decay_configs_per_core is None or need <= lim.decay_configs_per_core:
        return []
    if lim.decay_clustering:
        return [Finding(name, "distinct (du, dv) decay profiles after quantisation", need, lim.decay_configs_per_core,
                        "clustered into the limit (error budget in the quantise-loihi report); use fewer distinct time constants to avoid it", "warning")]
    return [Finding(name, "distinct (du, dv) decay profiles after quantisation", need, lim.decay_configs_per_core,
                    "set decay_clustering = true in [limits] to cluster them, or use fewer distinct time constants")]


def _scale_findings(name: str, c, inputs: LayerInputs, fmt: LoihiNumeric) -> list[Finding]:
    """Whether any integer threshold fits the state, activation and weight-exponent bounds at once."""
    projections = [p for p in inputs.projections.get(name, []) if weights.any_nonzero(p.matrix)]
    try:
        du, dv, _ = quantise_decays(name, c, fmt)
        du, dv = one_or_many(du), one_or_many(dv)
        bias_v = c.leak_bias + c.gain * inputs.constants[name] / np.where(c.has_current, c.a_u, 1.0)
        choose_scale(c, projections, bias_v, du, dv, fmt)
    except CompileError as exc:
        if exc.parameter != "vth":
            return []
        return [Finding(name, "largest integer threshold (vth) the state bounds allow", round(float(exc.value), 4), 1,
                        "lower the weights or raise v_threshold (inputs per step are too large for 24-bit state)")]
    return []


FAMILY_CHECKS = {"loihi": loihi_findings}


@dataclass(frozen=True)
class Feasibility:
    """List every broken hardware limit at once (node, figure, limit, fix)."""

    name: ClassVar[str] = "feasibility"

    def run(self, state: CompileState) -> CompileState:
        inputs = layer_inputs(state.graph, state.dt_s)
        findings = resource_findings(state, inputs)
        family_check = FAMILY_CHECKS.get(state.target.family)
        if family_check is not None:
            findings += family_check(state, inputs)
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise CompileError(
                f"{len(errors)} hardware limits of target '{state.target.name}' are broken: " + "; ".join(map(str, errors)),
                value=len(errors),
            )
        return state.evolve(notes={self.name: [f.to_dict() for f in findings]})
