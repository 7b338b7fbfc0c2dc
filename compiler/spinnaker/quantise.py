"""Graph -> SpiNNaker network: populations, integer projections, integer neuron parameters.

What SpiNNaker runs is populations connected by projections (sparse synapses
with a weight, a synapse type and a delay of at least one tick). This pass
collapses every stateless chain between two populations into one matrix (via
``node_matrices.node_matrix``), keeps apart paths of different delay (back
edges and ``Delay`` nodes), and quantises (``docs/semantics.md`` section 4):

* **Time alignment.** A spike on SpiNNaker takes at least one tick. Population
  ``p`` is run ``k_p`` ticks late (``k`` = longest chain of forward
  projections from an input), so a projection of graph delay ``g`` gets
  ``g + k_post - k_pre >= 1`` ticks and the graph's timing is kept exactly.
  Only a back edge into an earlier layer can need less than one tick; it is
  given one and the deviation is reported.
* **Scale.** Per population, real value = raw / ``2^(15 + e)``, ``e`` the
  largest power of two that keeps thresholds below 2^8 and weights below 2^30
  raw (so s16.15 keeps its headroom). Gains (``dt/tau * r`` ...) are folded
  into the weights.
* **Weights.** 16-bit magnitudes, excitatory or inhibitory, with one left
  shift per population and type: the smallest with which the largest
  possible per-tick sum fits sPyNNaker's 16-bit ring buffer (no saturation).
* **LI chains.** An ``LI -> LI`` pair (``compiler/li_chains.py``: Norse's
  ``LICell``, a synaptic current then a membrane) is one ``cuba_li``
  population: the current-based neuron without a threshold, fed by the first
  LI's inputs. A voltage cannot otherwise travel between populations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from ...ir.check import normalise
from ...ir.errors import CompileError
from ...ir.graph import Graph
from ...ir.nodes import IF, LI, LIF, CubaLIF, Input, Integrator, Node, Output, NEURON_TYPES
from ...ir.shapes import infer_shapes
from ...ir import weights
from .. import readout
from ..li_chains import li_chain_pairs
from ..readout import Readout, is_population as _is_population, records_directly as _records_directly
from .format import (
    EXCITATORY, INHIBITORY, INT32_MAX, RING_BUFFER_MAX, NeuronParams, UINT32_MAX, WEIGHT_MAX,
)

STATE_HEADROOM_BITS = 8  # thresholds at most 2^8 in real units * 2^e
WEIGHT_RAW_LIMIT = float(1 << 30)


@dataclass(frozen=True, eq=False)
class Population:
    """A graph Input (``params is None``: spike source) or neuron node, flattened."""

    name: str
    size: int
    shape: tuple[int, ...]
    params: NeuronParams | None
    start_tick: int  # k: the machine tick at which graph step 0 happens

    @property
    def is_source(self) -> bool:
        return self.params is None


#: SynapseList's arrays in the narrowest type that holds them (10^8 synapses: 1.1 GB, not 3.2 GB as int64);
#: a value outside it keeps int64 (io.py saves every field as int64, so program bytes do not depend on this)
_FIELD_TYPES = {"pre_index": np.int32, "post_index": np.int32, "weight": np.uint16, "synapse_type": np.uint8}


def _narrow(values: Any, dtype: Any) -> np.ndarray:
    """A read-only copy of ``values`` as ``dtype``, or as int64 when some value does not fit it."""
    arr = np.asarray(values)
    if not np.can_cast(arr.dtype, dtype):
        info = np.iinfo(dtype)
        if arr.dtype.kind not in "iub" or (arr.size and (arr.min() < info.min or arr.max() > info.max)):
            dtype = np.int64
    out = np.array(arr, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class SynapseList:
    """Synapses of one projection, as arrays: pre, post (indices), weight (0..65535), type, delay.

    Integer arrays of the narrowest type that holds them (``_FIELD_TYPES``)."""

    pre: str
    post: str
    pre_index: np.ndarray
    post_index: np.ndarray
    weight: np.ndarray
    synapse_type: np.ndarray
    delay: int  # ticks, >= 1

    def __post_init__(self) -> None:
        for name, dtype in _FIELD_TYPES.items():
            object.__setattr__(self, name, _narrow(getattr(self, name), dtype))

    def __len__(self) -> int:
        return int(self.pre_index.shape[0])


@dataclass(frozen=True, eq=False)
class SpiNNakerNetwork:
    """The quantised network every SpiNNaker stage works from."""

    dt_s: float
    populations: tuple[Population, ...]
    projections: tuple[SynapseList, ...]
    outputs: dict[str, tuple[str, str]]  # output node -> (population, "spikes" | "v")
    notes: tuple[str, ...] = ()
    readouts: dict[str, Readout] = field(default_factory=dict)  # outputs after a stateless chain (spinnaker_readout)

    def population(self, name: str) -> Population:
        return self._by_name[name]

    @cached_property
    def _by_name(self) -> dict[str, Population]:
        return {p.name: p for p in self.populations}

    def incoming(self, name: str) -> tuple[SynapseList, ...]:
        """The projections into population ``name``, in ``projections`` order."""
        return self._incoming.get(name, ())

    @cached_property
    def _incoming(self) -> dict[str, tuple[SynapseList, ...]]:
        out: dict[str, list[SynapseList]] = {}
        for p in self.projections:
            out.setdefault(p.post, []).append(p)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def max_start_tick(self) -> int:
        return max(p.start_tick for p in self.populations)


# --- paths between populations ---------------------------------------------------------


def collect_paths(graph: Graph) -> tuple[dict, dict]:
    """For each neuron node and read-out Output: {(source, back_edges, delay_steps): matrix} and
    {(back, delay): constant} (``readout.collect_paths``, dt from the graph's metadata). A neuron's
    matrices keep their kind (CSR when large and sparse, ``ir/weights.py``); read-outs' are dense."""
    return readout.collect_paths(graph, sparse=True)


def _readout(graph: Graph, name: str, shape: tuple[int, ...], forms: dict, consts: dict) -> Readout:
    """The Output's stateless chain as terms over its source populations' recordings (graph time)."""
    return readout.build_readout(shape, forms, consts,
                                 lambda src: "v" if isinstance(graph.nodes[src], (LI, Integrator)) else "spikes")


# --- neuron parameters -------------------------------------------------------------------


@dataclass(frozen=True)
class _Gains:
    """Real-valued per-neuron factors of one node at dt (before scaling)."""

    model: str
    decay_v: np.ndarray
    decay_j: np.ndarray
    input_gain: np.ndarray  # what one unit of synaptic input adds (to j or v)
    leak_v: np.ndarray
    leak_j: np.ndarray | None = None  # cuba_li: the first LI's leak, added to j every tick

    @property
    def to_j(self) -> bool:
        """Whether synaptic input and biases go into the current j (the two-state models)."""
        return self.model in ("cuba_lif", "cuba_li")

    @property
    def leak_j_max(self) -> float:
        return float(np.abs(self.leak_j).max(initial=0.0)) if self.leak_j is not None else 0.0


def _flat(a: Any, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)) if np.ndim(a) == 0 else np.asarray(a).reshape(-1)


def _current_fraction(name: str, parameter: str, tau: np.ndarray, dt: float) -> np.ndarray:
    """``dt/tau`` of a synaptic current, whose decay ``1 - dt/tau`` must fit u0.32 (not be negative)."""
    if np.any(dt / tau > 1):
        raise CompileError(f"{parameter} shorter than dt: the current decay 1 - dt/{parameter} is negative",
                           node=name, parameter=parameter, value=float(tau.min()), limit=f">= {dt}")
    return dt / tau


def _gains(name: str, node: Node, dt_s: float | None, n: int) -> _Gains:
    def need_dt() -> float:
        if dt_s is None:
            raise CompileError(f"{node.kind} needs dt_s to be discretised", node=name, parameter="dt_s")
        return dt_s

    ones, zeros = np.ones(n), np.zeros(n)
    flat = lambda a: _flat(a, n)
    if isinstance(node, CubaLIF):
        dt = need_dt()
        a_s, a_m = _current_fraction(name, "tau_syn", flat(node.tau_syn), dt), dt / flat(node.tau_mem)
        c = a_m * flat(node.r)
        return _Gains("cuba_lif", 1 - a_m, 1 - a_s, c * a_s * flat(node.w_in), a_m * flat(node.v_leak))
    if isinstance(node, LIF):
        a = need_dt() / flat(node.tau)
        return _Gains("lif", 1 - a, zeros, a * flat(node.r), a * flat(node.v_leak))
    if isinstance(node, LI):
        a = need_dt() / flat(node.tau)
        return _Gains("li", 1 - a, zeros, a * flat(node.r), a * flat(node.v_leak))
    if isinstance(node, IF):
        return _Gains("if", ones, zeros, flat(node.r), zeros)
    if isinstance(node, Integrator):
        return _Gains("li", ones, zeros, flat(node.r), zeros)
    raise CompileError(f"{node.kind} has no SpiNNaker neuron model", node=name)


def _li_chain_gains(first_name: str, first: LI, second: LI, dt_s: float, n: int) -> _Gains:
    """``first -> second`` as one ``cuba_li`` population, exactly the float reference's two Euler steps.

    The first LI's ``u`` (``a_A = dt/tau_A``) is this tick's current and the
    second's ``v`` (``a_B``) integrates it in the same tick, as CubaLIF's j and v:
    with ``j = a_B r_B u``, ``j <- (1 - a_A) j + a_B r_B a_A (v_leak_A + r_A x)``
    and ``v <- (1 - a_B) v + a_B v_leak_B + j``."""
    a_a = _current_fraction(first_name, "tau", _flat(first.tau, n), dt_s)
    a_b = dt_s / _flat(second.tau, n)
    to_j = a_b * _flat(second.r, n) * a_a
    return _Gains("cuba_li", 1 - a_b, 1 - a_a, to_j * _flat(first.r, n), a_b * _flat(second.v_leak, n),
                  leak_j=to_j * _flat(first.v_leak, n))


def _exponent(name: str, node: Node, g: _Gains, w_max: float, input_max: float) -> int:
    """The population's scale exponent e (real value = raw / 2^(15 + e))."""
    levels = [np.abs(g.leak_v).max(initial=0.0)]
    for field_name in ("v_threshold", "v_reset"):
        if hasattr(node, field_name):
            levels.append(float(np.abs(getattr(node, field_name)).max(initial=0.0)))
    if g.model in ("li", "cuba_li"):  # no threshold: leave room for a long sum of inputs
        levels.append(input_max * 64)
    p = max(levels)
    e_p = math.floor(STATE_HEADROOM_BITS - math.log2(p)) if p > 0 else 16
    e_w = math.floor(math.log2(WEIGHT_RAW_LIMIT / (w_max * 2**15))) if w_max > 0 else 16
    return int(np.clip(min(e_p, e_w), -16, 16))


def _rint(x: Any) -> np.ndarray:
    return np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)


def _check_fits(name: str, parameter: str, raw: np.ndarray, lo: int, hi: int) -> None:
    if raw.size and (raw.min() < lo or raw.max() > hi):
        bad = raw.max() if raw.max() > hi else raw.min()
        raise CompileError(f"{parameter} {bad} does not fit [{lo}, {hi}] at this population's scale",
                           node=name, parameter=parameter, value=int(bad), limit=(lo, hi))


# --- the pass --------------------------------------------------------------------------------


def quantise_spinnaker(graph: Graph, dt_s: float | None, *, spike_compare: str = ">=",
                       max_delay: int = 31) -> SpiNNakerNetwork:
    """Lower and quantise ``graph`` for the SpiNNaker family (see the module docstring)."""
    if dt_s is not None:
        graph = graph.with_metadata(dt_s=dt_s)
    dt_s = graph.metadata.get("dt_s")
    graph = normalise(graph)
    shapes = infer_shapes(graph)
    order, back = graph.execution_order()
    paths, constants = collect_paths(graph)
    notes: list[str] = []
    pairs = li_chain_pairs(graph) if dt_s is not None else {}  # {membrane: current}: one cuba_li population
    for second, first in pairs.items():  # the pair's inputs are the current's
        paths[second], constants[second] = paths.pop(first), constants.pop(first)
        notes.append(f"LI chain {first} -> {second} fused into one cuba_li population '{second}'")
    pop_names = [n for n in order if _is_population(graph.nodes[n]) and n not in pairs.values()]
    sizes = {n: int(np.prod(shapes[n][1])) for n in pop_names}

    # time alignment: longest forward chain, weights 1 - delay steps
    k = {n: 0 for n in pop_names}
    for post in pop_names:
        for (pre, b, d) in paths.get(post, {}):
            if b == 0:
                k[post] = max(k[post], k[pre] + 1 - d)

    populations: list[Population] = []
    projections: list[SynapseList] = []
    for name in pop_names:
        node = graph.nodes[name]
        if isinstance(node, Input):
            populations.append(Population(name, sizes[name], shapes[name][1], None, 0))
            continue
        n = sizes[name]
        if name in pairs:
            g = _li_chain_gains(pairs[name], graph.nodes[pairs[name]], node, dt_s, n)
        else:
            g = _gains(name, node, dt_s, n)
        incoming = paths[name]
        _check_spike_sources(graph, name, incoming)
        w_eff = {key: weights.scale_rows(m, g.input_gain) for key, m in incoming.items()}
        bias_eff = {key: c.reshape(-1) * g.input_gain for key, c in constants[name].items()}
        # worst case per tick: every synapse of one type into a neuron lands in the same ring-buffer slot
        type_sums = _type_sums(w_eff.values(), n)
        sum_max = max(float(t.max(initial=0.0)) for t in type_sums)
        input_max = sum_max + sum(np.abs(c).max(initial=0.0) for c in bias_eff.values()) + g.leak_j_max
        bias_max = max([np.abs(c).max(initial=0.0) for c in bias_eff.values()] + [g.leak_j_max])
        e = _exponent(name, node, g, max(sum_max, bias_max), input_max)
        scale = float(2.0 ** (15 + e))
        shift = []
        for sums in type_sums:  # the smallest shift whose 16-bit ring buffer cannot saturate
            m = float(sums.max(initial=0.0)) * scale
            s = max(0, math.ceil(math.log2(m / RING_BUFFER_MAX))) if m > RING_BUFFER_MAX else 0
            if s > 15:
                raise CompileError(f"weights need a left shift of {s} (max 15)", node=name, parameter="weight",
                                   value=float(m), limit=15)
            shift.append(s)
        params = _neuron_params(name, node, g, scale, tuple(shift), bias_eff, spike_compare)
        populations.append(Population(name, n, shapes[name][1], params, k[name]))
        for (pre, b, d), m in sorted(w_eff.items(), key=lambda kv: (pop_names.index(kv[0][0]), kv[0][1], kv[0][2])):
            delay = b + d + k[name] - k[pre]
            if delay < 1:
                notes.append(f"projection {pre} -> {name}: graph delay {b + d} needs {delay} ticks here; "
                             f"SpiNNaker's minimum 1 is used (timing differs from the graph)")
                delay = 1
            if delay > max_delay:
                raise CompileError(f"projection {pre} -> {name} needs a delay of {delay} ticks, more than the "
                                   f"{max_delay} a synaptic row and its delay extensions hold",
                                   node=name, parameter="delay", value=delay, limit=max_delay)
            projections.append(_synapses(pre, name, m * scale, shift, delay))
    outputs = {}
    readouts = {}
    for name, node in graph.items():
        if isinstance(node, Output):
            preds = graph.predecessors(name)
            if not _records_directly(graph, name):  # computed on the host from the sources' recordings
                readouts[name] = _readout(graph, name, shapes[name][1], paths[name], constants[name])
                continue
            src = graph.nodes[preds[0]]
            kind = "v" if isinstance(src, (LI, Integrator)) else "spikes"
            outputs[name] = (preds[0], kind)
    merged = _merge_projections(projections)
    return SpiNNakerNetwork(float(dt_s) if dt_s is not None else 0.0, tuple(populations), merged, outputs, tuple(notes), readouts)


def _check_spike_sources(graph: Graph, name: str, incoming: dict) -> None:
    """A population's inputs must be spikes: an LI's or Integrator's voltage cannot travel on SpiNNaker."""
    for pre, _, _ in incoming:
        src = graph.nodes[pre]
        if isinstance(src, (LI, Integrator)):
            raise CompileError(f"{src.kind} '{pre}' outputs a voltage, not spikes, and feeds '{name}': SpiNNaker "
                               "populations send only spikes, so a voltage can only feed an Output (a host read-out)",
                               node=name, parameter="source", value=pre)


def _merge_projections(projections: list[SynapseList]) -> tuple[SynapseList, ...]:
    """One SynapseList per (pre, post, delay): paths merged after quantisation keep their own words."""
    out: dict[tuple[str, str, int], list[SynapseList]] = {}
    for p in projections:
        out.setdefault((p.pre, p.post, p.delay), []).append(p)
    merged = []
    for (pre, post, delay), parts in out.items():
        if len(parts) == 1:
            merged.append(parts[0])
            continue
        cat = lambda f: np.concatenate([getattr(p, f) for p in parts])
        merged.append(SynapseList(pre, post, cat("pre_index"), cat("post_index"), cat("weight"), cat("synapse_type"), delay))
    return tuple(merged)


def _type_sums(matrices: Any, n: int) -> list[np.ndarray]:
    """Per neuron, the sums of its positive and of its negative weights' magnitudes over ``matrices``."""
    sums = [np.zeros(n), np.zeros(n)]
    for m in matrices:
        sums = [s + p for s, p in zip(sums, weights.signed_row_sums(m))]
    return sums


def _by_source(raw: weights.Matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pre, post, value) of the nonzeros of ``raw`` (post x pre), listed by source neuron then target
    (``np.nonzero(raw.T)``'s order, whichever kind ``raw`` is; a CSR matrix never densified)."""
    if not weights.is_sparse(raw):
        pre_i, post_i = np.nonzero(raw.T)
        return pre_i, post_i, raw[post_i, pre_i]
    # CSC -> CSR sorts each source's targets; a stored zero is dropped with the zero weights (``_synapses``)
    by_pre = sp.csr_array(raw.T) if raw.has_canonical_format else weights.csr(raw.T)
    pre_i = np.repeat(np.arange(by_pre.shape[0], dtype=np.int32), np.diff(by_pre.indptr))
    return pre_i, by_pre.indices, by_pre.data


def _synapses(pre: str, post: str, raw: weights.Matrix, shift: list[int], delay: int) -> SynapseList:
    """16-bit magnitudes ``min(rint(|raw| / 2^shift), WEIGHT_MAX)`` of one projection; zeros are dropped."""
    pre_i, post_i, values = _by_source(raw)  # listed by source neuron, as rows are
    excitatory = values > 0
    w = np.minimum(np.rint(np.abs(values) / np.where(excitatory, 2.0 ** shift[0], 2.0 ** shift[1])), WEIGHT_MAX)
    keep = np.flatnonzero(w > 0)
    types = np.where(excitatory[keep], EXCITATORY, INHIBITORY).astype(np.uint8)
    return SynapseList(pre, post, pre_i[keep], post_i[keep], w[keep].astype(np.uint16), types, delay)


def _neuron_params(name: str, node: Node, g: _Gains, scale: float, shift: tuple[int, int],
                   bias_eff: dict, spike_compare: str) -> NeuronParams:
    n = g.decay_v.shape[0]
    decay_v = _rint(g.decay_v * 2**15)
    _check_fits(name, "decay_v", decay_v, -INT32_MAX, INT32_MAX)
    decay_j = np.clip(_rint(g.decay_j * 2.0**32), 0, UINT32_MAX)
    thr = np.asarray(getattr(node, "v_threshold", np.zeros(n)), dtype=np.float64).reshape(-1)
    thr_raw = _rint(thr * scale)
    v_reset = _rint(np.asarray(getattr(node, "v_reset", np.zeros(n)), dtype=np.float64).reshape(-1) * scale)
    v_thresh = thr_raw + 1 if spike_compare == ">=" else thr_raw  # graph's '>' on integers
    for label, raw in (("v_threshold", v_thresh), ("v_reset", v_reset)):
        _check_fits(name, label, raw, -INT32_MAX, INT32_MAX)
    starts = sorted({b + d for (b, d) in bias_eff} | {0})
    bias_j = np.zeros((len(starts), n), dtype=np.int64)
    bias_v = np.zeros((len(starts), n), dtype=np.int64)
    bias_v[0] += _rint(g.leak_v * scale)
    if g.leak_j is not None:
        bias_j[0] += _rint(g.leak_j * scale)
    for (b, d), c in bias_eff.items():
        target = bias_j if g.to_j else bias_v
        target[starts.index(b + d)] += _rint(c * scale)
    return NeuronParams(
        model=g.model, reset=getattr(node, "reset", "zero"), reset_delay=bool(getattr(node, "reset_delay", False)),
        reset_recheck=bool(getattr(node, "reset_recheck", False)),
        spike_compare=spike_compare, decay_v=decay_v, decay_j=decay_j, v_reset=v_reset, v_thresh=v_thresh,
        v_subtract=thr_raw, bias_start=tuple(starts), bias_j=bias_j, bias_v=bias_v, shift=shift, scale=scale,
    )
