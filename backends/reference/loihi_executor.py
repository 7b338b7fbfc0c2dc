"""Bit-accurate executor of lowered Loihi graphs: Lava's fixed-point LIF and Dense, in numpy.

The living definition of ``docs/semantics.md`` section 3. Each step, in Lava's
order (``LoihiProtocol``): every Dense sends the activation it computed last
step; every population updates u, v from it and spikes; every Dense then
accumulates this step's spikes of its source. So each Dense adds one step of
latency (plus its synaptic delay, for Lava's DelayDense). Integer widths follow Lava's Python models exactly: u, v, a_in in
int32 (with int32 wrap-around where Lava's numpy would wrap), products in
int64, truncation toward zero in the decays, u wrapped and v clipped to 24
bits. Arrays are ``[B, n]``; the time loop is the only Python loop.

``run_loihi_stepwise`` is that loop, step by step in Lava's order: the
definition. ``run_loihi`` computes the same integers faster
(``loihi_schedule``: event-driven sums over chunks of time steps, numba
kernels when installed); ``tests/test_loihi_fast_path.py`` checks the two
agree on random programs.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...compiler.loihi.nodes import Dense, LoihiInput, LoihiNeurons, LoihiOutput, gather_parts, layer_shape, merge_part_traces
from ...compiler.loihi.readout import readout_values, readouts, source_recordings
from ...compiler.target import LoihiNumeric
from ...ir.errors import SpikecError
from ...ir.graph import Graph
from ...ir.inputs import time_first_inputs
from ...ir.weights import Matrix, is_sparse, nonzero, nonzero_values
from .loihi_neuron import neuron_step, wrap_int32
from .loihi_schedule import run_schedule


class WeightSum:
    """Sum of a Dense's integer weights over the spiking inputs, exactly, for a batch of spike vectors.

    Mostly-zero matrices (unrolled convolutions) are summed from their nonzero
    entries (``bincount`` over target rows), others by float64 BLAS; both are
    exact, as every partial sum of 8-bit weights stays far below 2**53.
    """

    def __init__(self, weights: Matrix, sparse_below: float = 0.25) -> None:
        self.n_out = weights.shape[0]
        self.sparse = is_sparse(weights) or np.count_nonzero(weights) < sparse_below * weights.size
        if self.sparse:
            self.rows, self.cols = nonzero(weights)
            self.values = nonzero_values(weights).astype(np.float64)
        else:
            self.weights_t = np.ascontiguousarray(weights.T, dtype=np.float64)

    def __call__(self, spikes: np.ndarray) -> np.ndarray:
        if not self.sparse:
            return np.rint(spikes.astype(np.float64) @ self.weights_t).astype(np.int64)
        out = np.empty((spikes.shape[0], self.n_out), np.int64)
        for b in range(spikes.shape[0]):
            active = spikes[b, self.cols]
            out[b] = np.rint(np.bincount(self.rows[active], self.values[active], minlength=self.n_out)).astype(np.int64)
        return out


def dense_activation(d: Dense, spikes: np.ndarray, weight_sum: WeightSum | None = None) -> np.ndarray:
    """Lava's ``PyDenseModelBitAcc``: sum of weights over spiking inputs, shifted by ``weight_exp`` (floor)."""
    acc = (weight_sum or WeightSum(d.weights))(spikes.astype(bool))
    acc = acc << d.weight_exp if d.weight_exp > 0 else acc >> -d.weight_exp
    return wrap_int32(acc)  # the int32 channel Lava sends it through


class DenseBuffer:
    """A Dense's activation buffer: Lava's ``Dense`` (one slot) or ``DelayDense`` (max delay + 1 slots).

    Each step ``send`` returns slot 0; ``accumulate`` then clears slot 0, shifts
    the slots down by one and adds, per delay k, this step's shifted sum of
    the weights of delay k into slot k (``PyDelayDenseModelBitAcc``), so a
    spike crosses a synapse of delay d d + 1 steps later.
    """

    def __init__(self, d: Dense, batch: int) -> None:
        self.dense = d
        if d.delays is None:  # (weights may be CSR then)
            self.slots = [(0, WeightSum(d.weights))]
            depth = 1
        else:
            delays = d.delays.astype(np.int64)
            self.slots = [(int(k), WeightSum(np.where(delays == k, d.weights, 0))) for k in np.unique(delays)]
            depth = int(delays.max(initial=0)) + 1
        self.buffer = np.zeros((batch, d.weights.shape[0], depth), np.int32)

    def send(self) -> np.ndarray:
        return self.buffer[:, :, 0].copy()

    def accumulate(self, spikes: np.ndarray) -> None:
        self.buffer[:, :, 0] = 0
        self.buffer = np.roll(self.buffer, -1, axis=2)
        for k, weight_sum in self.slots:
            self.buffer[:, :, k] = wrap_int32(self.buffer[:, :, k].astype(np.int64) + dense_activation(self.dense, spikes, weight_sum))


def prepare_spikes(graph: Graph, inputs: Any) -> tuple[dict[str, np.ndarray], bool, int]:
    """Inputs as ``{input: bool [T, B, n]}``; Loihi programs take binary spikes only."""
    shapes = {n: tuple(node.shape) for n, node in graph.items() if isinstance(node, LoihiInput)}
    xs, batched, steps = time_first_inputs(inputs, shapes, binary=True, dtype=bool)
    return {n: x.reshape(*x.shape[:2], int(np.prod(shapes[n]))) for n, x in xs.items()}, batched, steps


def run_loihi(graph: Graph, fmt: LoihiNumeric, inputs: Any, record: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Run a lowered Loihi graph; outputs (and ``"<population>.<u|v|s>"`` traces) time-first.

    Runs ``loihi_schedule`` (event-driven sums, chunks of time steps; numba
    kernels when installed), which computes the same integers as
    ``run_loihi_stepwise`` (tested on random programs).
    """

    spikes_in, batched, steps = prepare_spikes(graph, inputs)
    batch = next(iter(spikes_in.values())).shape[1]
    raw = run_schedule(graph, fmt, spikes_in, steps, batch, tuple(record))
    result = {}
    for key, arr in raw.items():
        shape = graph.nodes[key].shape if key in graph.nodes else layer_shape(graph, key.rsplit(".", 1)[0])
        arr = arr.reshape(steps, batch, *shape)
        result[key] = arr if batched else arr[:, 0]
    return result


def run_loihi_stepwise(graph: Graph, fmt: LoihiNumeric, inputs: Any, record: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """``run_loihi``, one step at a time in Lava's order: the straightforward definition the fast path is tested against."""
    spikes_in, batched, steps = prepare_spikes(graph, inputs)
    batch = next(iter(spikes_in.values())).shape[1]
    pops = {n: node for n, node in graph.items() if isinstance(node, LoihiNeurons)}
    denses = {n: node for n, node in graph.items() if isinstance(node, Dense)}
    outputs = {n: node for n, node in graph.items() if isinstance(node, LoihiOutput)}
    source_of = {n: graph.predecessors(n)[0] for n in denses}
    sources = {n: graph.predecessors(n) for n in outputs}  # a split layer's output reads every part
    target_of = {n: graph.successors(n)[0] for n in denses}
    state = {n: {"u": np.zeros((batch, p.n), np.int32), "v": np.zeros((batch, p.n), np.int32),
                 "s": np.zeros((batch, p.n), bool), "owed": np.zeros((batch, p.n), bool)} for n, p in pops.items()}
    buffers = {n: DenseBuffer(d, batch) for n, d in denses.items()}
    traces = [(n, var) for n in pops for var in record if var in ("u", "v", "s")]
    computed = readouts(graph)  # outputs after a stateless chain: from their sources' recordings
    needed = [(p, var) for n in computed for p, var in source_recordings(graph, n) if p in pops]
    kept = {f"{n}.{var}" for n, var in traces}
    traces += [pv for pv in dict.fromkeys(needed) if pv not in traces]
    rec: dict[str, list[np.ndarray]] = {n: [] for n in outputs} | {f"{n}.{var}": [] for n, var in traces}
    for t in range(steps):
        a_in = {n: np.zeros((batch, p.n), np.int64) for n, p in pops.items()}
        for n in denses:
            a_in[target_of[n]] += buffers[n].send()
        for n, p in pops.items():
            st = state[n]
            try:
                st["u"], st["v"], st["s"], st["owed"] = neuron_step(p, fmt, st["u"], st["v"], st["owed"], wrap_int32(a_in[n]))
            except Exception as exc:
                raise SpikecError(f"while executing step {t}: {type(exc).__name__}: {exc}", node=n) from exc
        for n, d in denses.items():
            src = source_of[n]
            buffers[n].accumulate(spikes_in[src][t] if src in spikes_in else state[src]["s"])
        for n, o in outputs.items():
            frame = gather_parts(graph, sources[n], lambda p: state[p][o.reads])
            rec[n].append(frame.astype(np.int8) if o.reads == "s" else frame.copy())
        for n, var in traces:
            rec[f"{n}.{var}"].append(state[n][var].astype(np.int8) if var == "s" else state[n][var].copy())
    flat = {key: np.stack(frames) if frames else np.zeros((0, batch, outputs[key].n if key in outputs else pops[key.rsplit(".", 1)[0]].n), np.int32)
            for key, frames in rec.items()}
    for n in computed:
        flat[n] = readout_values(graph, n, lambda p, var: spikes_in[p] if p in spikes_in else flat[f"{p}.{var}"])
    flat = {k: v for k, v in flat.items() if k in outputs or k in kept or k in computed}
    result = {}
    for key, arr in merge_part_traces(graph, flat).items():
        shape = graph.nodes[key].shape if key in graph.nodes else layer_shape(graph, key.rsplit(".", 1)[0])
        arr = arr.reshape(steps, batch, *shape)
        result[key] = arr if batched else arr[:, 0]
    return result
