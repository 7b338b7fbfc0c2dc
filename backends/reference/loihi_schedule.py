"""The fast schedule of the Loihi reference executor: the same integers as stepping, far fewer Python steps.

Why time can be batched: every Dense adds at least one step of latency
(``docs/semantics.md`` section 3), so a population's input at step t depends
only on its sources' spikes up to step t - 1. Populations are visited in
topological order of their strongly connected components (Dense edges), one
chunk of time steps at a time:

- a population in no cycle runs the whole chunk at once (its input for the
  chunk is already known), then the synaptic sums of all the chunk's spikes
  of each of its Dense are one event-driven gather (``event_sums``);
- populations in a cycle (recurrent connections) step together, one step at a
  time, sending along their Dense inside the cycle after each step.

Integer rules are those of ``loihi_executor`` (the step-by-step definition):
each Dense's sum, per step and delay slot, is shifted by ``weight_exp``
(floor) and then accumulated in int64 into the target's input at step
``t + delay + 1``. Lava's int32 buffers and ``a_in`` wrap modulo 2**32, which
commutes with addition, so one ``wrap_int32`` at the neuron update gives the
same value. The neuron update is ``loihi_executor.neuron_step`` (numpy path)
or its compiled transcription ``loihi_kernels.advance`` (numba, if installed).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from ...compiler.loihi.nodes import Dense, LoihiNeurons, LoihiOutput, gather_parts, merge_part_traces
from ...compiler.loihi.readout import readout_values, readouts, source_recordings
from ...compiler.target import LoihiNumeric
from ...ir.errors import SpikecError
from ...ir.graph import Graph
from .event_sums import PackedColumns, compiled_kernels
from .loihi_neuron import neuron_step, wrap_int32

#: packed synapses of each Dense node seen (nodes are frozen; entries go with the node)
_PACKED: "weakref.WeakKeyDictionary[Dense, list[tuple[int, PackedColumns]]]" = weakref.WeakKeyDictionary()

#: elements of one chunk's [steps, batch, neurons] block (bounds memory)
CHUNK_ELEMENTS = 1 << 21


@dataclass
class Synapses:
    """One Dense: its packed weights per delay (``[(delay, PackedColumns)]``), source and target."""

    name: str
    dense: Dense
    source: str
    target: str
    slots: list[tuple[int, PackedColumns]]

    @classmethod
    def of(cls, name: str, d: Dense, source: str, target: str) -> "Synapses":
        slots = _PACKED.get(d)
        if slots is None:  # Dense nodes are frozen: pack each once
            if d.delays is None:
                slots = [(0, PackedColumns(d.weights))]
            else:
                delays = d.delays.astype(np.int64)
                slots = [(int(k), PackedColumns(np.where(delays == k, d.weights, 0))) for k in np.unique(delays[d.weights != 0])]
            _PACKED[d] = slots
        return cls(name, d, source, target, slots)

    @property
    def max_delay(self) -> int:
        return max((k for k, _ in self.slots), default=0)

    def send(self, spikes: np.ndarray, pending: np.ndarray, at: int, compiled: bool) -> None:
        """Add the sums of ``spikes`` [t, B, n_in] (local steps at..at+t-1) to ``pending`` at +delay+1."""
        steps, batch = spikes.shape[:2]
        for k, packed in self.slots:
            dest = pending[at + k + 1: at + k + 1 + steps].reshape(steps * batch, -1)
            packed.add_shifted(spikes.reshape(steps * batch, -1), self.dense.weight_exp, dest, compiled=compiled)


@dataclass
class Population:
    """A population's state, its constants for the compiled kernel, and its recordings."""

    name: str
    node: LoihiNeurons
    u: np.ndarray
    v: np.ndarray
    owed: np.ndarray
    record: dict[str, np.ndarray] = field(default_factory=dict)  # "s"/"v"/"u" -> [T, B, n]

    def constants(self, fmt: LoihiNumeric) -> tuple:
        p = self.node
        unity = 1 << fmt.decay_bits
        bias = np.where(p.bias_exp >= 0, p.bias_mant.astype(np.int64) << np.maximum(p.bias_exp, 0),
                        p.bias_mant.astype(np.int64) >> np.maximum(-p.bias_exp, 0))
        bias = (bias + (1 << 31)) % (1 << 32) - (1 << 31)
        return (unity - (p.du + fmt.decay_offset_u), unity - (p.dv + fmt.decay_offset_v), fmt.decay_bits,
                fmt.activation_shift, 1 << (fmt.state_bits - 1), bias.astype(np.int64),
                int(p.vth) << fmt.threshold_shift, p.spiking, p.reset_delay, p.reset == "subtract",
                p.reset_recheck, p.v_reset.astype(np.int64))


def _advance(pop: Population, fmt: LoihiNumeric, a_in: np.ndarray, t0: int, kernels: Any) -> np.ndarray:
    """Run ``pop`` over ``a_in`` [t, B, n] (global steps t0..); returns its spikes [t, B, n] (bool)."""

    steps = a_in.shape[0]
    s_out = pop.record["s"][t0:t0 + steps] if "s" in pop.record else np.zeros(a_in.shape, bool)
    if kernels is not None:
        v_out = pop.record.get("v", np.zeros((1, 1, 1), np.int32))[t0:t0 + steps]
        u_out = pop.record.get("u", np.zeros((1, 1, 1), np.int32))[t0:t0 + steps]
        kernels.advance(a_in, pop.u, pop.v, pop.owed, s_out, v_out, u_out, *pop.constants(fmt),
                        "v" in pop.record, "u" in pop.record)
        return s_out
    for t in range(steps):
        pop.u, pop.v, s, pop.owed = neuron_step(pop.node, fmt, pop.u, pop.v, pop.owed, wrap_int32(a_in[t]))
        s_out[t] = s
        for var in ("v", "u"):
            if var in pop.record:
                pop.record[var][t0 + t] = getattr(pop, var)
    return s_out


def _components(pops: dict[str, LoihiNeurons], synapses: list[Synapses]) -> list[tuple[list[str], bool]]:
    """Strongly connected components of the population graph in topological order, with "is a cycle"."""
    g = nx.DiGraph()
    g.add_nodes_from(pops)
    g.add_edges_from((s.source, s.target) for s in synapses if s.source in pops)
    cond = nx.condensation(g)
    order = []
    for c in nx.topological_sort(cond):
        members = sorted(cond.nodes[c]["members"], key=list(pops).index)
        order.append((members, len(members) > 1 or g.has_edge(members[0], members[0])))
    return order


def run_schedule(graph: Graph, fmt: LoihiNumeric, spikes_in: dict[str, np.ndarray], steps: int, batch: int,
                 record: tuple[str, ...], *, compiled: bool | None = None) -> dict[str, np.ndarray]:
    """Run a lowered Loihi graph on bool spikes ``{input: [T, B, n]}``; ``[T, B, n]`` per output and trace."""
    kernels = compiled_kernels() if compiled is None or compiled else None
    if compiled and kernels is None:
        raise RuntimeError("the compiled path needs numba")
    pops = {n: node for n, node in graph.items() if isinstance(node, LoihiNeurons)}
    outputs = {n: node for n, node in graph.items() if isinstance(node, LoihiOutput)}
    synapses = [Synapses.of(n, node, graph.predecessors(n)[0], graph.successors(n)[0])
                for n, node in graph.items() if isinstance(node, Dense)]
    want = {n: set() for n in pops}
    for n in outputs:
        for source in graph.predecessors(n):  # a split layer's output reads every part
            want[source].add(outputs[n].reads)
    computed = readouts(graph)  # outputs after a stateless chain: from their sources' recordings
    for n in computed:
        for source, var in source_recordings(graph, n):
            if source in want:
                want[source].add(var)
    for n in pops:
        want[n] |= {var for var in record if var in ("u", "v", "s")}
    state = {n: Population(n, p, np.zeros((batch, p.n), np.int32), np.zeros((batch, p.n), np.int32),
                           np.zeros((batch, p.n), bool),
                           {var: np.zeros((steps, batch, p.n), bool if var == "s" else np.int32) for var in want[n]})
             for n, p in pops.items()}
    widest = max([p.n for p in pops.values()] + [a.shape[2] for a in spikes_in.values()] + [1])
    chunk = max(1, min(steps, CHUNK_ELEMENTS // (batch * widest)))
    depth = max([s.max_delay for s in synapses] + [0]) + 1
    pending = {n: np.zeros((chunk + depth, batch, p.n), np.int64) for n, p in pops.items()}
    components = _components(pops, synapses)
    for t0 in range(0, steps, chunk):
        tc = min(chunk, steps - t0)
        for s in synapses:
            if s.source in spikes_in:
                s.send(spikes_in[s.source][t0:t0 + tc], pending[s.target], 0, bool(kernels))
        for members, cyclic in components:
            try:
                _run_component(members, cyclic, state, synapses, pending, fmt, t0, tc, kernels)
            except SpikecError:
                raise
            except Exception as exc:
                raise SpikecError(f"while executing steps {t0}..{t0 + tc - 1}: {type(exc).__name__}: {exc}",
                                  node=members[0]) from exc
        for buf in pending.values():  # carry what lands past this chunk to the next
            buf[:depth] = buf[tc:tc + depth].copy()
            buf[depth:] = 0
    result = {}
    for n, o in outputs.items():
        rec = gather_parts(graph, graph.predecessors(n), lambda p: state[p].record[o.reads])
        result[n] = rec.astype(np.int8) if o.reads == "s" else rec
    for n in computed:
        result[n] = readout_values(graph, n, lambda p, var: spikes_in[p] if p in spikes_in else state[p].record[var])
    traces = {}
    for n in pops:
        for var in record:
            if var in ("u", "v", "s"):
                rec = state[n].record[var]
                traces[f"{n}.{var}"] = rec.astype(np.int8) if var == "s" else rec
    return result | merge_part_traces(graph, traces)


def _run_component(members: list[str], cyclic: bool, state: dict[str, Population], synapses: list[Synapses],
                   pending: dict[str, np.ndarray], fmt: LoihiNumeric, t0: int, tc: int, kernels: Any) -> None:
    """Advance one strongly connected component over local steps 0..tc-1, then send its spikes on."""
    inside = set(members)
    internal = [s for s in synapses if s.source in inside and s.target in inside]
    spikes = {}
    if not cyclic:
        (name,) = members
        spikes[name] = _advance(state[name], fmt, pending[name][:tc], t0, kernels)
    else:
        spikes = {n: np.zeros((tc, *state[n].v.shape), bool) for n in members}
        for t in range(tc):
            for n in members:
                spikes[n][t] = _advance(state[n], fmt, pending[n][t:t + 1], t0 + t, kernels)[0]
            for s in internal:
                s.send(spikes[s.source][t:t + 1], pending[s.target], t, bool(kernels))
    for s in synapses:
        if s.source in inside and s.target not in inside:
            s.send(spikes[s.source], pending[s.target], 0, bool(kernels))
