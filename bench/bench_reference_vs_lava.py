"""Reference executor vs Lava, end to end, on the same compiled Loihi program: 1,000 to 100,000 neurons.

    python bench/bench_reference_vs_lava.py [--sizes 1000,2000,5000,10000,20000,50000,100000] [--weights csr|dense] [--compare-dense]
        [--steps 1000] [--fan-in 100] [--repeats 3] [--lava-max 100000] [--plot bench/reference_vs_lava.png]

Program: ``networks.loihi_chain`` (input of ``width`` axons at 10 % rate,
LIF populations of ``width = min(n/2, 5000)`` neurons in a chain, 100 synapses
per neuron). Each size runs reference and Lava interleaved ``--repeats``
times (the machine is shared: medians), checks that the output spikes are
equal, and prints wall times of the whole call:
- reference: ``run_loihi`` including packing the weights (the per-program
  cache is cleared before each call); the one-time cost of loading the
  numba kernels in a fresh process is printed once, separately; it runs
  ``LAVA_SETTLE_S`` after the previous Lava call, whose processes exit then;
  its CPU time (``process_time``) shows how much of the wall time the
  shared machine's load added (Lava runs 2 + 2 x populations OS processes,
  which under contention get more of the CPU than one process does);
- Lava: ``spikec.backends.lava.run``, wall time and CPU time of its
  finished child processes (``RUSAGE_CHILDREN``) (emit, start Python 3.10 and Lava,
  build, run, read back), and Lava's own ``run()`` time.
Needs the Lava environment (``python -m spikec.backends.lava.env``).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench/README.md: BLAS threads on a loaded 2-core machine

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from networks import input_spikes, loihi_chain, machine, median, synapse_count, timed  # noqa: E402

from spikec.backends import lava  # noqa: E402
from spikec.backends.reference import loihi_schedule  # noqa: E402
from spikec.backends.reference.event_sums import compiled_kernels  # noqa: E402
from spikec.backends.reference.loihi_executor import run_loihi  # noqa: E402
from spikec.compiler.target import load_target  # noqa: E402


#: Lava's model processes (one OS process per Lava process) take a moment to exit after a run;
#: without this pause the next reference call is timed against their teardown (measured 2-3x slower)
LAVA_SETTLE_S = 2.0


def children_cpu() -> float:
    """User + system seconds of every finished child process (Lava's runner and the model processes it joins)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def warm_up(fmt) -> float:
    """Load (or compile) the numba kernels once: a fresh process's fixed cost."""
    t, _ = timed(lambda: (compiled_kernels(), run_loihi(loihi_chain(20, 5, 10), fmt, input_spikes(3, 10))))
    return t


def synaptic_events(program, x, result) -> int:
    """Spikes x fan-out over every Dense of the run (``result`` records every population's ``s``)."""
    events = 0
    for name, node in program.items():
        if node.kind == "Dense":
            (src,), (tgt,) = program.predecessors(name), program.successors(name)
            s = x if src == "in" else result[f"{src}.s"]
            events += loihi_schedule.Synapses.of(name, node, src, tgt).slots[0][1].events(np.asarray(s, bool))
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000,20000,50000,100000")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--fan-in", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lava-max", type=int, default=100_000, help="largest size run on Lava")
    parser.add_argument("--plot", default="")
    parser.add_argument("--weights", choices=("csr", "dense"), default="csr",
                        help="Dense.weights as CSR (what a sparse float graph compiles to) or dense int32")
    parser.add_argument("--compare-dense", action="store_true",
                        help="also time the reference on the same program with dense weights (packing them costs n^2)")
    args = parser.parse_args()
    fmt = load_target("loihi2").numeric
    lava.ensure_lava_env()
    print(f"# machine: {machine()}")
    print(f"# numba kernels: {'yes' if compiled_kernels() else 'no (numpy path)'}; fresh-process warm-up {warm_up(fmt):.2f} s")
    print(f"# Dense.weights: {args.weights}")
    dense_col = " reference s, dense weights |" if args.compare_dense else ""
    print("| neurons | populations | synapses | output spikes | reference s | reference CPU s | synaptic events/s |"
          f"{dense_col} Lava s (whole call) | Lava run() s | Lava CPU s | Lava / reference, wall | Lava / reference, CPU |")
    print("|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if args.compare_dense else "") + "---:|---:|---:|---:|---:|", flush=True)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        width = min(n // 2, 5000)
        program = loihi_chain(n, args.fan_in, width, sparse=args.weights == "csr")
        dense = loihi_chain(n, args.fan_in, width) if args.compare_dense else None
        x = input_spikes(args.steps, width)
        t_ref, t_cpu, t_dense, t_lava, t_run, t_lava_cpu = [], [], [], [], [], []
        want = None
        for _ in range(args.repeats):
            loihi_schedule._PACKED.clear()
            cpu = time.process_time()
            t, want = timed(lambda: run_loihi(program, fmt, x))
            t_ref.append(t)
            t_cpu.append(time.process_time() - cpu)
            if dense is not None:
                loihi_schedule._PACKED.clear()
                t, got = timed(lambda: run_loihi(dense, fmt, x))
                np.testing.assert_array_equal(got["out"], want["out"])
                t_dense.append(t)
            if n <= args.lava_max:
                cpu = children_cpu()
                t, (got, timing) = timed(lambda: lava.run_with_timing(program, x))
                np.testing.assert_array_equal(got["out"], want["out"])
                t_lava.append(t)
                t_lava_cpu.append(children_cpu() - cpu)
                t_run.append(float(timing[1]))
                time.sleep(LAVA_SETTLE_S)
        ref, lav = median(t_ref), median(t_lava)
        rows.append((n, ref, lav))
        dense_cell = f" {median(t_dense):.3f} |" if dense is not None else ""
        print(f"| {n:,} | {n // width} | {synapse_count(program):,} | {int(want['out'].sum()):,} | {ref:.3f} | {median(t_cpu):.3f} | "
              f"{synaptic_events(program, x, run_loihi(program, fmt, x, record=('s',))) / ref:.2e} |{dense_cell} "
              f"{lav:.2f} | {median(t_run):.2f} | {median(t_lava_cpu):.2f} | {lav / ref:.0f} | "
              f"{median(t_lava_cpu) / median(t_cpu):.0f} |", flush=True)
    print(f"# load average after the run: {machine().rsplit('load average ', 1)[1]}")
    if args.plot:
        plot(rows, args.plot)


def plot(rows: list[tuple[int, float, float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, ref, lav = (np.array(c, dtype=float) for c in zip(*rows))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(n, lav, "o-", label="Lava fixed_pt (whole call)")
    ax.loglog(n, ref, "s-", label="spikec reference")
    ax.set_xlabel("neurons")
    ax.set_ylabel("seconds, 1000 steps")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"# plot: {path}")


if __name__ == "__main__":
    main()
