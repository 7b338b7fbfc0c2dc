"""Synaptic events per second of the Loihi reference executor vs connection density and batch size.

    python bench/bench_throughput.py [--neurons 2000] [--densities 0.01,0.02,0.05,0.1]
        [--batches 1,32,256] [--rate 0.05] [--repeats 3]

Network: ``networks.loihi_chain`` with two LIF populations of ``--neurons``
and fan-in = density x neurons; input spikes at ``--rate``; T = max(20, 4000 / B)
steps. A synaptic event is one spike crossing one synapse (spikes x fan-out,
counted exactly from the run's spikes). Both paths run interleaved:
``compiled`` (numba kernels) and ``numpy`` (the pure-numpy path, same
integers; asserted). Then a profile of the largest configuration: share of
time in the event-driven sums, the neuron updates, and the rest.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench/README.md: BLAS threads on a loaded 2-core machine

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from networks import input_spikes, loihi_chain, machine, median, timed  # noqa: E402

from spikec.backends.reference.event_sums import compiled_kernels  # noqa: E402
from spikec.backends.reference.loihi_executor import prepare_spikes  # noqa: E402
from spikec.backends.reference.loihi_schedule import Synapses, run_schedule  # noqa: E402
from spikec.compiler.loihi.nodes import Dense  # noqa: E402
from spikec.compiler.target import load_target  # noqa: E402


def count_events(program, spikes_in: dict, result: dict) -> int:
    total = 0
    for name, node in program.items():
        if isinstance(node, Dense):
            src = program.predecessors(name)[0]
            s = spikes_in[src] if src in spikes_in else result[f"{src}.s"]
            total += sum(packed.events(s) for _, packed in Synapses.of(name, node, src, "").slots)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=2000)
    parser.add_argument("--densities", default="0.01,0.02,0.05,0.1")
    parser.add_argument("--batches", default="1,32,256")
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    fmt = load_target("loihi2").numeric
    n = args.neurons
    paths = ([True] if compiled_kernels() is not None else []) + [False]
    print(f"# machine: {machine()}")
    print(f"# two populations of {n} LIF neurons, input rate {args.rate}")
    print("| density | fan-in | batch | steps | events | compiled s | compiled events/s | numpy s | numpy events/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    last = None
    warm = loihi_chain(40, 5, 20)  # load the numba kernels before timing (a fresh process's fixed cost)
    for p in paths:
        run_schedule(warm, fmt, prepare_spikes(warm, input_spikes(3, 20))[0], 3, 1, ("s",), compiled=p)
    for density in (float(d) for d in args.densities.split(",")):
        program = loihi_chain(2 * n, max(1, round(density * n)), n)
        for batch in (int(b) for b in args.batches.split(",")):
            steps = max(20, 4000 // batch)
            spikes, _, _ = prepare_spikes(program, input_spikes(steps, n, args.rate, batch))
            run = lambda compiled: run_schedule(program, fmt, spikes, steps, batch, ("s",), compiled=compiled)
            times: dict[bool, list[float]] = {p: [] for p in paths}
            results = {}
            for _ in range(args.repeats):
                for p in paths:
                    t, results[p] = timed(lambda: run(p))
                    times[p].append(t)
            for key in results[False]:
                np.testing.assert_array_equal(results[paths[0]][key], results[False][key])
            events = count_events(program, spikes, results[False])
            cells = []
            for p in (True, False):
                t = median(times.get(p, []))
                cells += [f"{t:.3f}" if p in times else "-", f"{events / t:.2e}" if p in times else "-"]
            print(f"| {density:g} | {max(1, round(density * n))} | {batch} | {steps} | {events:.2e} | " + " | ".join(cells) + " |",
                  flush=True)
            last = (run, paths[0])
    print(f"# load average after the run: {machine().rsplit('load average ', 1)[1]}")
    profile(*last)


def profile(run, compiled: bool) -> None:
    """Where the time goes, for the last configuration."""
    prof = cProfile.Profile()
    prof.runcall(run, compiled)
    stats = pstats.Stats(prof)
    total = max(stats.total_tt, 1e-9)
    parts = {"event-driven sums": ("gather_shift_add", "_sums_numpy", "add_shifted"), "neuron updates": ("advance", "neuron_step")}
    shares = {k: 0.0 for k in parts}
    for (file, line, fn), (cc, nc, tt, ct, callers) in stats.stats.items():
        for k, names in parts.items():
            if fn in names:
                shares[k] += tt
    rest = total - sum(shares.values())
    path = "compiled" if compiled else "numpy"
    print(f"# profile ({path} path, last configuration, {total:.2f} s): " +
          ", ".join(f"{k} {v / total:.0%}" for k, v in shares.items()) + f", rest {rest / total:.0%}")


if __name__ == "__main__":
    main()
