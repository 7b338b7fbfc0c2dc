"""Reference executor of the SpiNNaker numeric family (``docs/semantics.md`` section 4).

Runs a quantised ``SpiNNakerNetwork`` with numpy: per tick, each population's
ring-buffer sums are the sums of the integer weights (per synapse type) of
the synapses whose sources spiked ``delay`` ticks ago, saturated to 16 bits;
then ``spinnaker_format.neuron_tick``.
It knows nothing of routing tables, keys or rows: the event-driven machine in
``backends/spinnaker`` must reach the same spikes from those alone.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...compiler.spinnaker.quantise import SpiNNakerNetwork
from ...compiler.spinnaker.readout import apply_readout
from ...compiler.spinnaker.format import (
    EXCITATORY, INHIBITORY, RING_BUFFER_MAX, neuron_tick, new_state, synaptic_input,
)
from ...compiler.spinnaker.network import network_of, spike_inputs  # noqa: F401  (re-exported)


def decode_recordings(net: SpiNNakerNetwork, raw: dict[str, np.ndarray], batched: bool,
                      record: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Raw per-population recordings ``[T, B, n]`` to the graph's outputs (float64)."""
    result: dict[str, np.ndarray] = {}
    for out_name, (pop_name, kind) in net.outputs.items():
        pop = net.population(pop_name)
        data = raw[f"{pop_name}.{kind}"].astype(np.float64)
        if kind == "v":
            data = data / pop.params.scale
        result[out_name] = data.reshape(data.shape[0], data.shape[1], *pop.shape)
    for out_name, readout in net.readouts.items():  # outputs after a stateless chain, from their sources
        sources = {}
        for pop_name, kind in readout.sources:
            data = raw[f"{pop_name}.{kind}"].astype(np.float64)
            sources[f"{pop_name}.{kind}"] = data / net.population(pop_name).params.scale if kind == "v" else data
        result[out_name] = apply_readout(readout, sources)
    if "v" in record:
        for key, data in raw.items():
            pop_name, kind = key.rsplit(".", 1)
            if kind == "v":
                pop = net.population(pop_name)
                result[key] = (data / pop.params.scale).reshape(data.shape[0], data.shape[1], *pop.shape)
    if "s" in record:  # every population's spikes, as "<population>.s" (the Loihi executor's key)
        for key, data in raw.items():
            pop_name, kind = key.rsplit(".", 1)
            if kind == "spikes":
                pop = net.population(pop_name)
                result[f"{pop_name}.s"] = data.astype(np.float64).reshape(data.shape[0], data.shape[1], *pop.shape)
    if not batched:
        result = {k: v[:, 0] for k, v in result.items()}
    return result


def recorded_keys(net: SpiNNakerNetwork, record: tuple[str, ...]) -> list[str]:
    keys = {f"{pop}.{kind}" for pop, kind in net.outputs.values()}
    keys |= {f"{pop}.{kind}" for r in net.readouts.values() for pop, kind in r.sources}
    if "v" in record:
        keys |= {f"{p.name}.v" for p in net.populations if not p.is_source}
    if "s" in record:
        keys |= {f"{p.name}.spikes" for p in net.populations if not p.is_source}
    return sorted(keys)


def _by_source(proj, syn_type: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synapses of one type grouped by source neuron: (row pointer, target, weight)."""
    sel = proj.synapse_type == syn_type
    pre, post, weight = proj.pre_index[sel], proj.post_index[sel], proj.weight[sel]
    order = np.argsort(pre, kind="stable")
    counts = np.bincount(pre, minlength=int(pre.max(initial=-1)) + 1)
    return np.r_[0, np.cumsum(counts)], post[order], weight[order]


def _gather(table: tuple[np.ndarray, np.ndarray, np.ndarray], sent: np.ndarray, n_post: int) -> np.ndarray:
    """Per batch item: the sum of the weights of every synapse whose source spiked (int64, exact)."""
    ptr, post, weight = table
    out = np.zeros((sent.shape[0], n_post), dtype=np.int64)
    n_rows = ptr.size - 1
    for b in range(sent.shape[0]):
        fired = np.flatnonzero(sent[b, :n_rows])
        if fired.size == 0:
            continue
        lengths = ptr[fired + 1] - ptr[fired]
        idx = np.repeat(ptr[fired] - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
        out[b] = np.bincount(post[idx], weights=weight[idx], minlength=n_post).astype(np.int64)
    return out


def run_network(net: SpiNNakerNetwork, inputs: Any, record: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Run ``net`` on spike inputs ``[T, (B,) *shape]``; outputs aligned to graph steps."""
    xs, batched, steps, batch = spike_inputs(net, inputs)
    ticks = steps + net.max_start_tick
    max_delay = max([p.delay for p in net.projections] + [1])
    history = {p.name: np.zeros((max_delay + 1, batch, p.size), dtype=np.int64) for p in net.populations}
    incoming: dict[str, list] = {p.name: [] for p in net.populations}  # per target: (projection, tables by type)
    for proj in net.projections:
        incoming[proj.post].append((proj, [_by_source(proj, t) for t in (EXCITATORY, INHIBITORY)]))
    states = {p.name: new_state(p.size, batch) for p in net.populations if not p.is_source}
    keys = recorded_keys(net, record)
    raw = {k: [] for k in keys}
    for t in range(ticks):
        current = {}
        for pop in net.populations:
            local = t - pop.start_tick
            if pop.is_source:
                current[pop.name] = xs[pop.name][local] if 0 <= local < steps else np.zeros((batch, pop.size), np.int64)
                continue
            exc = np.zeros((batch, pop.size), dtype=np.int64)
            inh = np.zeros((batch, pop.size), dtype=np.int64)
            for proj, by_type in incoming[pop.name]:
                sent = history[proj.pre][(t - proj.delay) % (max_delay + 1)]
                exc += _gather(by_type[0], sent, pop.size)
                inh += _gather(by_type[1], sent, pop.size)
            inp = synaptic_input(np.minimum(exc, RING_BUFFER_MAX), np.minimum(inh, RING_BUFFER_MAX), pop.params.shift)
            if local >= 0:
                current[pop.name] = neuron_tick(pop.params, states[pop.name], inp, local)
            else:
                current[pop.name] = np.zeros((batch, pop.size), dtype=np.int64)
        for pop in net.populations:
            history[pop.name][t % (max_delay + 1)] = current[pop.name]
        for key in keys:
            pop_name, kind = key.rsplit(".", 1)
            pop = net.population(pop_name)
            local = t - pop.start_tick
            if 0 <= local < steps:
                raw[key].append(current[pop_name] if kind == "spikes" else states[pop_name]["v"].copy())
    stacked = {k: np.stack(v) if v else np.zeros((0, batch, net.population(k.rsplit(".", 1)[0]).size)) for k, v in raw.items()}
    return decode_recordings(net, stacked, batched, record)


def run_program(program: Any, inputs: Any, record: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The reference dispatch's entry for the ``spinnaker`` family."""
    return run_network(network_of(program), inputs, tuple(record))
