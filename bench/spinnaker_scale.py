"""Compile random SpiNNaker networks of growing size; print time per stage, chips, cores, table entries.

Networks are built directly as quantised ``SpiNNakerNetwork``s (a graph with dense
Linear weights cannot hold 10^6 neurons): a spike source of ``n/10`` neurons and
layers of ``layer`` LIF neurons in a chain, every neuron projecting to ``fan_out``
random neurons of the next layer (and the last layer back to the first: a
recurrent edge). Run: ``python -m spikec.bench.spinnaker_scale`` or
``python bench/spinnaker_scale.py [max_neurons]``.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from spikec.compiler.spinnaker.quantise import Population, SpiNNakerNetwork, SynapseList
from spikec.compiler.spinnaker.format import NeuronParams
from spikec.compiler.spinnaker.keys import allocate_keys
from spikec.compiler.spinnaker.partition import partition
from spikec.compiler.spinnaker.place import SpiNNakerMachine, place
from spikec.compiler.spinnaker.route import build_routing_tables, fit_tables, vertex_targets
from spikec.compiler.spinnaker.rows import SynapticWordFormat, build_rows


def lif_params(n: int) -> NeuronParams:
    z = np.zeros(n, dtype=np.int64)
    return NeuronParams("lif", "zero", False, ">=", np.full(n, 29491), z, z, np.full(n, 1 << 15), np.full(n, 1 << 15),
                        (0,), z[None], z[None], (4, 4), float(1 << 15))


def random_network(n_neurons: int, fan_out: int, layer: int, seed: int = 0) -> SpiNNakerNetwork:
    rng = np.random.default_rng(seed)
    n_in = max(1, n_neurons // 10)
    sizes = [layer] * max(1, (n_neurons - n_in) // layer)
    pops = [Population("in", n_in, (n_in,), None, 0)]
    pops += [Population(f"l{i}", s, (s,), lif_params(s), i + 1) for i, s in enumerate(sizes)]
    projs = []
    chain = [("in", n_in)] + [(f"l{i}", s) for i, s in enumerate(sizes)]
    for (pre, n_pre), (post, n_post) in zip(chain, chain[1:]):
        projs.append(_random_projection(rng, pre, n_pre, post, n_post, fan_out, 1))
    if len(sizes) > 1:
        projs.append(_random_projection(rng, chain[-1][0], chain[-1][1], "l0", sizes[0], fan_out // 10 or 1,
                                        1))
    return SpiNNakerNetwork(1e-3, tuple(pops), tuple(projs), {"out": (chain[-1][0], "spikes")})


def _random_projection(rng, pre, n_pre, post, n_post, fan_out, delay) -> SynapseList:
    pre_index = np.repeat(np.arange(n_pre, dtype=np.int64), fan_out)
    post_index = rng.integers(0, n_post, pre_index.size)
    weight = rng.integers(1, 1 << 12, pre_index.size)
    syn_type = (rng.random(pre_index.size) < 0.2).astype(np.int64)
    return SynapseList(pre, post, pre_index, post_index, weight, syn_type, delay)


def compile_stages(net: SpiNNakerNetwork, machine: SpiNNakerMachine) -> dict:
    t = {}
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        t[name] = now - clock
        clock = now

    vertices = partition(net, machine.neurons_per_core)
    lap("partition")
    placements = place(vertices, machine)
    lap("place")
    keys = allocate_keys(vertices)
    lap("keys")
    targets = vertex_targets(net, vertices)
    tables = build_routing_tables(machine, vertices, placements, keys, targets)
    lap("route")
    loaded, reports = fit_tables(tables, machine.routing_table_entries)
    lap("compress+check")
    rows = build_rows(net, vertices, keys, SynapticWordFormat.for_core(machine.neurons_per_core))
    lap("rows")
    t["cores"] = len(vertices)
    t["chips"] = len(placements.chips_used)
    t["entries_max"] = max(r.entries for r in reports)
    t["no_default_max"] = max(r.without_defaults for r in reports)
    t["loaded_max"] = max(r.loaded for r in reports)
    t["synapses"] = sum(len(p) for p in net.projections)
    t["syn_MB"] = sum(r.n_bytes for r in rows.values()) / 1e6
    return t


def main(max_neurons: int = 10**6) -> None:
    print("| neurons | synapses | cores | chips | partition s | place s | route s | compress+check s | rows s | "
          "total s | entries/chip max: all, no defaults, loaded | synaptic MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    n = 1000
    while n <= max_neurons:
        net = random_network(n, 100, min(n, 10_000))
        cores_needed = sum(math.ceil(p.size / 256) for p in net.populations)
        side = max(2, math.ceil(math.sqrt(cores_needed / 16)))
        machine = SpiNNakerMachine(side, side, 16, 256, 1023, wrap_around=True)
        t = compile_stages(net, machine)
        total = sum(t[k] for k in ("partition", "place", "keys", "route", "compress+check", "rows"))
        print(f"| {n:,} | {t['synapses']:,} | {t['cores']} | {t['chips']} | {t['partition']:.2f} | {t['place']:.2f} | "
              f"{t['route']:.2f} | {t['compress+check']:.2f} | {t['rows']:.2f} | {total:.1f} | "
              f"{t['entries_max']}, {t['no_default_max']}, {t['loaded_max']} | {t['syn_MB']:.0f} |", flush=True)
        n *= 10


if __name__ == "__main__":
    main(int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**6)
