"""Compiler time and peak memory per pass, 10^3 to 10^6 neurons, for the Loihi and SpiNNaker pipelines.

    python bench/bench_compiler.py [--loihi 1000,10000,100000] [--spinnaker 1000,10000,100000,1000000]

Loihi: the pipeline's passes (``compiler.api.PIPELINES["loihi"]``) on a float
graph Input -> [Affine -> LIF] x layers of 1000 neurons, 100 synapses per
neuron, on ``loihi2`` with ceil(n / 50,000) chips; weights are CSR (``networks.sparse_chain``).
SpiNNaker: the stages of ``compile_event_tables`` after quantisation
(partition, place, keys, route, compress, rows) on networks built directly as
quantised ``SpiNNakerNetwork``s (``spinnaker_scale.random_network``: 100
synapses per neuron, layers of 10,000).
Per pass: seconds and the peak of memory allocated during it (tracemalloc,
which also sees numpy's buffers; tracing slows Python-heavy passes), and the
growth exponent of its time against the synapse count from the previous row
(1 = linear; n log n shows as slightly above 1).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench/README.md: BLAS threads on a loaded 2-core machine

import argparse
import math
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from networks import machine, sparse_chain  # noqa: E402

from spikec.api import PIPELINES  # noqa: E402
from spikec.compiler.pipeline import CompileState  # noqa: E402
from spikec.compiler.target import load_target  # noqa: E402
from spikec.ir.graph import Graph  # noqa: E402
from spikec.ir.nodes import LIF, Affine, Input, Output  # noqa: E402

DT_S = 1e-4


def float_chain(n_neurons: int, width: int = 1000, fan_in: int = 100, seed: int = 0) -> Graph:
    """The float chain (``networks.sparse_chain``: CSR weights, the draws of the earlier dense builder)."""
    return sparse_chain(n_neurons, width, fan_in, seed, DT_S)


def measured(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, peak MB allocated during the call)."""
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    return result, seconds, (tracemalloc.get_traced_memory()[1] - base) / 1e6


def loihi_rows(n: int) -> tuple[int, list[tuple[str, float, float]]]:
    graph = float_chain(n)
    synapses = sum(int(np.count_nonzero(node.weight)) for node in graph.nodes.values() if isinstance(node, Affine))
    target = load_target("loihi2")  # one chip holds 128 cores: give the large graphs as many chips as they need
    target = replace(target, limits=replace(target.limits, chips=max(1, math.ceil(n / 50_000))))
    state = CompileState(source=graph, graph=graph, target=target, dt_s=DT_S)
    rows = []
    for p in PIPELINES["loihi"]():
        state, t, mb = measured(lambda: p.run(state))
        rows.append((p.name, t, mb))
    return synapses, rows


def spinnaker_rows(n: int) -> tuple[int, list[tuple[str, float, float]]]:
    from spinnaker_scale import random_network

    from spikec.compiler.spinnaker.keys import allocate_keys
    from spikec.compiler.spinnaker.partition import partition
    from spikec.compiler.spinnaker.place import SpiNNakerMachine, place
    from spikec.compiler.spinnaker.route import build_routing_tables, fit_tables, vertex_targets
    from spikec.compiler.spinnaker.rows import SynapticWordFormat, build_rows

    net = random_network(n, 100, min(n, 10_000))
    cores = sum(math.ceil(p.size / 256) for p in net.populations)
    side = max(2, math.ceil(math.sqrt(cores / 16)))
    mach = SpiNNakerMachine(side, side, 16, 256, 1023, wrap_around=True)
    rows = []
    vertices, t, mb = measured(lambda: partition(net, mach.neurons_per_core))
    rows.append(("partition", t, mb))
    placements, t, mb = measured(lambda: place(vertices, mach))
    rows.append(("place", t, mb))
    keys, t, mb = measured(lambda: allocate_keys(vertices))
    rows.append(("keys", t, mb))
    tables, t, mb = measured(lambda: build_routing_tables(mach, vertices, placements, keys, vertex_targets(net, vertices)))
    rows.append(("route", t, mb))
    _, t, mb = measured(lambda: fit_tables(tables, mach.routing_table_entries))
    rows.append(("compress", t, mb))
    _, t, mb = measured(lambda: build_rows(net, vertices, keys, SynapticWordFormat.for_core(mach.neurons_per_core)))
    rows.append(("rows", t, mb))
    return sum(len(p) for p in net.projections), rows


def table(title: str, sizes: list[int], measure: Callable[[int], tuple[int, list]]) -> None:
    print(f"\n## {title}\n")
    print("| neurons | synapses | pass | seconds | peak MB | growth exponent vs synapses |")
    print("|---:|---:|---|---:|---:|---:|", flush=True)
    previous: dict[str, tuple[int, float]] = {}
    for n in sizes:
        synapses, rows = measure(n)
        for name, t, mb in rows:
            exp = ""
            if name in previous and previous[name][1] > 0.01 and t > 0.01:
                s0, t0 = previous[name]
                exp = f"{math.log(t / t0) / math.log(synapses / s0):.2f}"
            previous[name] = (synapses, t)
            print(f"| {n:,} | {synapses:,} | {name} | {t:.3f} | {mb:.0f} | {exp} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loihi", default="1000,10000,100000")
    parser.add_argument("--spinnaker", default="1000,10000,100000,1000000")
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    tracemalloc.start()
    if args.loihi:
        table("Loihi pipeline (float graph -> lowered program)", [int(s) for s in args.loihi.split(",")], loihi_rows)
    if args.spinnaker:
        table("SpiNNaker stages (quantised network -> tables and rows)", [int(s) for s in args.spinnaker.split(",")],
              spinnaker_rows)
    print(f"\n# load average after the run: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
