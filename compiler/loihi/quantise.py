"""Quantise a discretised float graph into Lava's fixed point: the lowered Loihi graph.

Per neuron population, one free scale: integer voltage ``v_int = S_i v`` with
``S_i = vth << 6 / v_threshold_i`` (spiking) so one integer ``vth`` serves every
neuron (Lava holds one per process) whatever its float threshold. ``vth`` is the
largest value for which, on the declared input range (every input spiking every
step), u and v stay inside 24 bits, Dense's output inside 16 bits, every bias
inside ``bias_mant << bias_exp``, and the weights need no exponent above
``weight_exp_max``. Per Dense, ``weight_exp`` is the smallest exponent whose
8-bit mantissas hold the largest weight. Decays round to nearest, per neuron
(at most ``decay_configs_per_core`` distinct pairs per layer, clustered past
it: ``loihi_populations``); the split-populations pass then makes one Lava
process per distinct pair. Paths that
reach a layer early (skip connections) get synaptic delays that restore the
float timing; ``LI -> LI`` chains fuse into one read-out. Everything that
rounding, clamping or saturating changes is reported per layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from ...ir.errors import CompileError
from ...ir.graph import Graph
from ...ir.nodes import Input, Output, Threshold, NEURON_TYPES
from ...ir import weights
from ..linear_maps import LayerInputs, Projection, layer_inputs
from .fusion import fuse_li_chains
from .readout import is_direct_output, lower_readouts
from .populations import clustering_warning, decay_profiles, limit_profiles
from .nodes import SIGN_MODES, Dense, LoihiInput, LoihiNeurons, LoihiOutput
from ..quantise_delays import check_representable, delay_limits
from .scaling import (
    NeuronCoefficients, effective_decays, encode_bias, lava_clip_and_truncate, neuron_coefficients,
    one_or_many, quantise_decays, quantise_weights, sign_mode_of, weight_limits,
)
from ..target import LoihiNumeric, Target


@dataclass(frozen=True)
class LayerScale:
    """The scale chosen for one population and which bound set it."""

    k: float  # S_i = k * s_i
    binding: str


def _drive(projections: list[Projection], gain: np.ndarray) -> tuple[np.ndarray, float]:
    """Worst-case |input| per step into u (float volts) with every input spiking, and max |w| * gain."""
    sums = [weights.signed_row_sums(p.matrix) for p in projections]
    pos = sum((s[0] for s in sums), np.zeros_like(gain))
    neg = sum((s[1] for s in sums), np.zeros_like(gain))
    wmax = max((weights.abs_max(p.matrix, gain) for p in projections if np.prod(p.matrix.shape)), default=0.0)
    return np.maximum(pos, neg) * np.abs(gain), wmax


def choose_scale(c: NeuronCoefficients, projections: list[Projection], bias_v: np.ndarray, du: Any, dv: Any, fmt: LoihiNumeric,
                 k_cap: float = math.inf, drive: tuple[np.ndarray, float] | None = None) -> tuple[LayerScale, np.ndarray]:
    """The largest k (and per-neuron S = k s) that keeps every bound (see module docstring).

    ``du``, ``dv``: one integer for the layer, or one per neuron (a layer that
    becomes several populations keeps one scale, hence one ``vth``). ``drive``:
    ``_drive(projections, c.gain)`` when the caller has it already."""
    if c.spiking and (c.v_threshold <= 0).any():
        raise CompileError("v_threshold must be positive for a Loihi neuron", parameter="v_threshold", value=float(c.v_threshold.min()), limit="> 0")
    s = 1.0 / c.v_threshold if c.spiking else np.ones_like(c.gain)
    drive, wmax = drive if drive is not None else _drive(projections, c.gain)
    a_u, a_v = effective_decays(du, dv, fmt)
    u_bound = drive / a_u
    leaky = bool(np.all(np.asarray(a_v) > 0))
    horizon = 1.0 / a_v if leaky else float(1 << fmt.decay_bits)
    if c.spiking:
        v_bound = c.v_threshold + u_bound + np.abs(bias_v)
    else:
        v_bound = (u_bound + np.abs(bias_v)) * horizon
    state_max = (1 << (fmt.state_bits - 1)) - 1
    act_max = ((1 << (fmt.activation_bits - 1)) - 1) << fmt.activation_shift
    w_top = weight_limits("mixed", fmt)[1]
    candidates = {
        "16-bit Dense output": act_max / max(float((s * drive).max()), 1e-300),
        "weight exponent range": w_top * 2.0 ** (fmt.weight_exp_max + fmt.activation_shift) / max(wmax * float(s.max()), 1e-300),
    }
    if c.spiking or leaky:
        candidates["24-bit state on the declared input range"] = state_max / max(float((s * np.maximum(u_bound, v_bound)).max()), 1e-300)
    else:  # an integrator's v has no bound: keep Dense's full resolution (weight_exp 0), report steps to saturation
        candidates["24-bit u"] = state_max / max(float((s * u_bound).max()), 1e-300)
        candidates["full Dense resolution (weight_exp 0)"] = w_top * 2.0**fmt.activation_shift / max(wmax * float(s.max()), 1e-300)
    bias_max = float(((1 << (fmt.bias_mant_bits - 1)) - 1) << ((1 << fmt.bias_exp_bits) - 1))
    if np.any(bias_v):
        candidates["bias range (bias_mant << bias_exp)"] = bias_max / float((s * np.abs(bias_v)).max())
    if c.spiking:
        candidates["threshold bits"] = float(((1 << fmt.threshold_bits) - 1) << fmt.threshold_shift)
    if k_cap < math.inf:
        candidates["integer bounds after rounding"] = k_cap
    binding = min(candidates, key=candidates.get)
    k = candidates[binding]
    if c.spiking:
        vth = math.floor(k / (1 << fmt.threshold_shift))
        if vth < 1:
            raise CompileError(
                f"no threshold fits: the largest scale for {binding} gives vth < 1 "
                f"(weights or inputs too large relative to v_threshold; lower the weights or raise the threshold)",
                parameter="vth", value=k / (1 << fmt.threshold_shift), limit=1,
            )
        k = float(vth << fmt.threshold_shift)
    else:
        k = 2.0 ** math.floor(math.log2(k))
    return LayerScale(k, binding), k * s


def _dense(name: str, p: Projection, gain: np.ndarray, scale: np.ndarray, fmt: LoihiNumeric) -> tuple[Dense, dict[str, Any]]:
    """One Lava Dense for one projection; integer weights in units of a_in (before << 6).

    Works on the nonzero entries only (unrolled convolutions are mostly zeros).
    """
    row_scale = (gain * scale) / 2.0**fmt.activation_shift
    if weights.is_sparse(p.matrix) and p.matrix.has_canonical_format:  # row of each entry, not kept (10^8 of them)
        per_entry = np.repeat(row_scale, np.diff(p.matrix.indptr))[p.matrix.data != 0]
    else:
        per_entry = row_scale[p.nonzero[0]]
    scaled = weights.nonzero_values(p.matrix) * per_entry
    mode = sign_mode_of(scaled)
    lo, hi, step = weight_limits(mode, fmt)
    peak = float(np.abs(scaled).max(initial=0.0))
    top = {"excitatory": hi, "inhibitory": -lo}.get(mode, min(-lo, hi))
    exp = fmt.weight_exp_min if peak == 0 else math.ceil(math.log2(peak / top))
    exp = int(np.clip(exp, fmt.weight_exp_min, fmt.weight_exp_max))
    values = lava_clip_and_truncate(quantise_weights(scaled, exp, mode, fmt), mode, fmt.weight_bits, fmt)
    err = values * 2.0**exp - scaled
    norm = float(np.sqrt((scaled**2).sum())) or 1.0
    report = {
        "source": p.source, "target": p.target, "weight_exp": exp, "sign_mode": mode,
        "bits_used": int(np.ceil(np.log2(np.abs(values).max(initial=0) // step + 1))) + (mode == "mixed"),
        "weight_rel_rms_error": float(np.sqrt((err**2).sum())) / norm,
        "weight_max_abs_error_lsb": float(np.abs(err).max(initial=0.0) / 2.0**exp),
        "zeroed_synapses": int((values == 0).sum()),
        "clipped_synapses": int((np.abs(scaled / 2.0**exp) > top + step / 2).sum()),
        "float_delays": sorted(p.back_edges),
    }
    w_int = weights.where_nonzero(p.matrix, values, np.int32)  # CSR when the projection is (no delays then)
    if p.delays is not None:
        report["delay_steps_max"] = int(p.delays.max(initial=0))
    node = Dense(weights=w_int, weight_exp=exp, num_weight_bits=fmt.weight_bits, sign_mode=SIGN_MODES[mode],
                 weight_scale=row_scale, delays=None if p.delays is None else np.where(w_int != 0, p.delays, 0))
    return node, report


def worst_case_use(denses: list, c: NeuronCoefficients, s_int: np.ndarray, scale: LayerScale, bias_v: np.ndarray, du: Any, dv: Any, fmt: LoihiNumeric) -> dict[str, float]:
    """Integer worst case (every input spiking every step) as a fraction of each limit (<= 1: cannot saturate).

    ``activation``: Dense output vs 16 bits; ``u``: current vs 24 bits; ``v``
    (spiking only): threshold plus one step of u and bias vs 24 bits. Negative
    v of a leaky neuron under sustained inhibition is not bounded here: it
    saturates (clips) rather than wraps.
    """
    n = s_int.size
    pos, neg = np.zeros(n), np.zeros(n)
    for _, d, _ in denses:  # int64 sums (exact), then scaled by a power of 2: exact in float64 either kind
        d_pos, d_neg = weights.signed_row_sums(d.weights)
        pos += d_pos * 2.0**d.weight_exp
        neg += d_neg * 2.0**d.weight_exp
    act = np.maximum(pos, neg).max(initial=0.0) + 1.0  # +1: floor of a negative shifted sum
    a_u, _ = effective_decays(du, dv, fmt)
    u_bound = float(np.max(act * 2.0**fmt.activation_shift / a_u))  # the slowest current decay (per neuron)
    state_max = (1 << (fmt.state_bits - 1)) - 1
    v_bound = (scale.k if c.spiking else 0.0) + u_bound + float(np.abs(bias_v * s_int).max(initial=0.0))
    act_max = (1 << (fmt.activation_bits - 1)) - 1
    use = {"activation": float(act / act_max), "u": float(u_bound / state_max)}
    if c.spiking:
        use["v"] = float(v_bound / state_max)
    return use


def _summary(values: Any) -> int | list[int]:
    """A layer's decay for the report: the one integer, or the distinct ones."""
    return values if isinstance(values, int) else [int(v) for v in np.unique(values)]


def _span(values: np.ndarray) -> tuple[float, float]:
    return float(np.min(values)), float(np.max(values))


def _fit_scale(name: str, c: NeuronCoefficients, projections: list[Projection], bias_v: np.ndarray, du: Any, dv: Any, fmt: LoihiNumeric):
    """The population's scale and Dense nodes; rounding can push integer sums past a bound the float
    scale met, so the integer worst case is re-checked and the scale shrunk until it fits."""
    k_cap = math.inf
    drive = _drive(projections, c.gain)
    for _ in range(16):
        try:
            scale, s_int = choose_scale(c, projections, bias_v, du, dv, fmt, k_cap, drive)
        except CompileError as exc:
            raise CompileError(str(exc), node=name, parameter=exc.parameter, value=exc.value, limit=exc.limit) from None
        denses = [(p.source, *_dense(name, p, c.gain, s_int, fmt)) for p in projections]
        use = worst_case_use(denses, c, s_int, scale, bias_v, du, dv, fmt)
        if max(use.values()) <= 1.0:
            break
        k_cap = scale.k / max(use.values()) * 0.99  # a 1 % step: rounding may hide smaller ones
    return scale, s_int, denses, use


def _population(name: str, node: Any, shape: tuple[int, ...], c: NeuronCoefficients, inputs: LayerInputs, target: Target) -> tuple[LoihiNeurons, list[tuple[str, Dense, dict]], dict[str, Any]]:
    """One neuron node as a ``LoihiNeurons`` population, its incoming Dense nodes and its report.

    Decays are per neuron; where neurons differ (within the target's profile
    limit, clustered past it) the population holds them per neuron and the
    split-populations pass makes one Lava process per profile."""
    fmt: LoihiNumeric = target.numeric
    projections = [p for p in inputs.projections[name] if weights.any_nonzero(p.matrix)]
    du_all, dv_all, warnings = quantise_decays(name, c, fmt)
    du_all, dv_all, clustering = limit_profiles(name, du_all, dv_all, target.limits, fmt)
    if clustering is not None:
        warnings.append(clustering_warning(name, clustering))
    du, dv = one_or_many(du_all), one_or_many(dv_all)
    a_u, a_v = effective_decays(du, dv, fmt)
    constant = inputs.constants[name]
    bias_v = c.leak_bias + c.gain * constant / np.where(c.has_current, c.a_u, 1.0)
    scale, s_int, denses, use = _fit_scale(name, c, projections, bias_v, du, dv, fmt)
    bias_mant, bias_exp, bias_saturated = encode_bias(bias_v * s_int, fmt)
    bias_repr = (bias_mant.astype(np.float64) * 2.0**bias_exp) / s_int
    state_max = (1 << (fmt.state_bits - 1)) - 1
    vth = int(scale.k) >> fmt.threshold_shift if c.spiking else 0
    population = LoihiNeurons(
        shape=shape, du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp,
        reset=c.reset, v_reset=np.clip(np.rint(c.v_reset * s_int), -state_max, state_max), reset_delay=c.reset_delay,
        reset_recheck=c.reset_recheck, spiking=c.spiking, v_scale=s_int, origin=node.kind,
    )
    if bias_saturated:
        warnings.append(f"node '{name}': {bias_saturated} biases saturate the {fmt.bias_mant_bits}-bit mantissa")
    if c.has_current and np.any(constant):
        warnings.append(f"node '{name}': synaptic bias enters v's bias at its steady state (transient over tau_syn differs)")
    report = {
        "kind": node.kind, "neurons": int(c.gain.size), "du": _summary(du), "dv": _summary(dv), "vth": vth,
        "decay_profiles": decay_profiles(du_all, dv_all),
        "decay_u_requested": float(np.mean(c.a_u)), "decay_u_represented": float(np.mean(a_u)),
        "decay_v_requested": float(np.mean(c.a_v)), "decay_v_represented": float(np.mean(a_v)),
        "scale_binding": scale.binding, "v_scale_min": float(s_int.min()), "v_scale_max": float(s_int.max()),
        "threshold_represented": None if not c.spiking else [float(x) for x in _span(vth * 2.0**fmt.threshold_shift / s_int)],
        "threshold_max_abs_error": None if not c.spiking else float(np.max(np.abs(vth * 2.0**fmt.threshold_shift / s_int - c.v_threshold))),
        "bias_requested_max_abs": float(np.abs(bias_v).max()),
        "bias_represented_max_abs": float(np.abs(bias_repr).max()),
        "bias_max_abs_error": float(np.abs(bias_repr - bias_v).max()),
        "bias_saturated": bias_saturated, "stock_lava": population.is_stock_lava,
        "worst_case_use": use, "saturation_risk": max(use.values()) > 1.0 or bias_saturated > 0,
        "warnings": warnings, "dense": [rep for _, _, rep in denses],
    }
    if clustering is not None:
        report["decay_clustering"] = clustering
    if not c.spiking and not np.any(a_v):
        per_step = float(np.max(s_int * (_drive(projections, c.gain)[0] + np.abs(bias_v)))) or 1e-300
        report["steps_to_saturation_worst_case"] = int(state_max / per_step)
    return population, denses, report


def _latencies(graph: Graph, inputs: LayerInputs) -> dict[str, int]:
    """Steps each population lags the float reference: the longest ``d_S + 1 - b`` over its inputs
    whose latency is already known (one Dense each, minus the float path's back edges)."""
    order, _ = graph.execution_order()
    latency = {n: 0 for n in graph.inputs}
    for name in order:
        if name not in inputs.projections or isinstance(graph.nodes[name], Output):
            continue
        cands = [latency[p.source] + 1 - b for p in inputs.projections[name] if p.source in latency for b in p.back_edges]
        latency[name] = max(cands) if cands else 1
    return latency


def align_paths(inputs: LayerInputs, latency: dict[str, int]) -> tuple[LayerInputs, list[str]]:
    """Give every projection that arrives early the synaptic delay that makes it arrive with the float timing.

    A projection from S into N arrives ``d_N - (d_S + 1 - b)`` steps early (a skip
    connection past a layer); that many steps of DelayDense delay fix it. One
    arriving late (a back edge from a deeper layer) cannot be fixed: reported.
    """
    warnings: list[str] = []
    projections: dict[str, list[Projection]] = {}
    for target, plist in inputs.projections.items():
        if target not in latency:
            projections[target] = plist
            continue
        fixed = []
        for p in plist:
            early = sorted({latency[target] - (latency[p.source] + 1 - b) for b in p.back_edges if p.source in latency})
            if len(early) > 1 or (early and early[0] < 0):
                warnings.append(f"node '{target}': input from '{p.source}' arrives {early} steps off the float timing on Loihi (unequal Dense depth): spikes may shift")
            if early and len(early) == 1 and early[0] > 0:
                dense = weights.to_dense(p.matrix)  # per-synapse delays are dense (linear_maps.Projection)
                base = p.delays if p.delays is not None else np.zeros(dense.shape, np.int64)
                p = replace(p, matrix=dense, delays=np.where(dense != 0, base + early[0], 0))
            fixed.append(p)
        projections[target] = fixed
    return LayerInputs(projections, inputs.constants, inputs.shapes), warnings


def _named_denses(name: str, denses: list, nodes: dict, graph: Graph, target: Target, dt_s: float | None) -> list[tuple[str, str, Dense]]:
    """The Dense nodes into ``name``, named ``<source>-><name>`` (``#k`` for a source split by colliding delays), checked."""
    fmt: LoihiNumeric = target.numeric
    limits = delay_limits(target)  # longer than DelayDense holds: relay chains (split-delays pass)
    out: list[tuple[str, str, Dense]] = []
    for source, dense, _ in denses:
        if dense.delays is not None:
            check_representable(name, dense.delays, limits, f"synaptic delay from '{source}'")
        if isinstance(graph.nodes[source], NEURON_TYPES) and not neuron_coefficients(source, graph.nodes[source], dt_s).spiking:
            raise CompileError(f"{graph.nodes[source].kind} '{source}' outputs a voltage, not spikes: on Loihi it can only feed an Output", node=name)
        dense_name = f"{source}->{name}"
        taken = [k for k in list(nodes) + [n for n, _, _ in out] if k == dense_name or k.startswith(dense_name + "#")]
        out.append((dense_name + (f"#{len(taken)}" if taken else ""), source, dense))
    return out


def lower_to_loihi(graph: Graph, target: Target, dt_s: float | None) -> tuple[Graph, dict[str, Any]]:
    """The lowered Loihi graph and its quantisation report (per population and Dense)."""
    fmt: LoihiNumeric = target.numeric
    for name, node in graph.items():
        if isinstance(node, Threshold):
            raise CompileError(f"{node.kind} nodes are not supported by the Loihi lowering yet", node=name)
    inputs, fused, pairs = fuse_li_chains(graph, layer_inputs(graph, dt_s), dt_s)
    absorbed = set(pairs.values())
    latency = _latencies(graph, inputs)
    inputs, timing_warnings = align_paths(inputs, latency)
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    report: dict[str, Any] = {"layers": {}, "warnings": list(timing_warnings), "fused_li_chains": dict(pairs)}
    report["warnings"] += [f"node '{second}': the leak of '{first}' (its current) enters v's bias at its steady state "
                           "(Loihi has no constant input to u; the transient over tau differs)"
                           for second, first in pairs.items() if np.any(graph.nodes[first].v_leak)]
    for name in graph.inputs:
        nodes[name] = LoihiInput(shape=inputs.shapes[name][1])
    for name, node in graph.items():
        if not isinstance(node, NEURON_TYPES) or name in absorbed:
            continue
        c = fused.get(name) or neuron_coefficients(name, node, dt_s)
        population, denses, rep = _population(name, node, inputs.shapes[name][0], c, inputs, target)
        nodes[name] = population.replace(latency_steps=latency.get(name, 1))
        report["layers"][name] = rep
        report["warnings"].extend(rep["warnings"])
        for dense_name, source, dense in _named_denses(name, denses, nodes, graph, target, dt_s):
            nodes[dense_name] = dense
            edges += [(source, dense_name), (dense_name, name)]
    computed = []  # outputs after a stateless chain: host-side read-outs (loihi_readout)
    for name in graph.outputs:
        projections = inputs.projections[name]
        if not is_direct_output(graph, projections, absorbed):
            computed.append(name)
            continue
        source = projections[0].source
        nodes[name] = LoihiOutput(shape=inputs.shapes[name][1], reads="s" if nodes[source].spiking else "v")
        edges.append((source, name))
    for name, readout in lower_readouts(graph, computed, nodes, dt_s).items():
        nodes[name] = readout
        edges += [(source, name) for source in dict.fromkeys(readout.sources)]
    if computed:  # (absent otherwise: a program without read-outs keeps its bytes)
        report["readouts"] = {name: {"sources": sorted(set(nodes[name].sources)), "terms": len(nodes[name].sources),
                                     "latency_steps": nodes[name].latency_steps} for name in computed}
    lowered = Graph(nodes, tuple(edges), {"dt_s": dt_s, "family": "loihi", "target": target.name})
    return lowered, report


@dataclass(frozen=True)
class QuantiseLoihi:
    """Lower to Lava's Dense and LIF integers (per-layer scales, 8-bit weights with an exponent)."""

    name: ClassVar[str] = "quantise-loihi"

    def run(self, state: "CompileState") -> "CompileState":
        lowered, report = lower_to_loihi(state.graph, state.target, state.dt_s)
        return state.evolve(lowered=lowered, notes={self.name: report}, family="loihi")
