"""Speed-up of the execution layer: serial against 2 local processes (and a 2-worker Dask LocalCluster).

    python bench/execution_speedup.py [--graphs 200] [--trials 20] [--workers 2] [--no-dask]

Workloads: ``spikec verify --random`` over ``--graphs`` random graphs on
spinnaker1 and rram-512 (one work item per graph and target), and the RRAM
Monte Carlo of the Braille example on rram-512 (200 steps x 16 samples,
``--trials`` chips at each of 1 s, 1 h, 1 day, 1 year). Each result is checked
equal to the serial one. Prints wall-clock seconds and the measured speed-up;
the CPU seconds the work items took, in all and on the busiest worker, and
the speed-up they project for a machine with a free core per worker; and the
load average before and after each run. On a busy machine the measured
figure is mostly the neighbours': with the kernel's autogroup scheduling
(``/proc/sys/kernel/sched_autogroup_enabled``) a contended CPU gives a whole
session one share, however many processes it runs.
"""
from __future__ import annotations

import argparse
import functools
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

import spikec
from spikec.backends.rram.monte_carlo import drift_table
from spikec.backends.rram import mapping_of
from spikec.verification.execution import DaskExecutor, Executor, LocalExecutor, SerialExecutor
from spikec.verification.randgraph_spec import GraphSpec
from spikec.verification.sweep import sweep

EXAMPLE = Path(spikec.__file__).parent / "examples" / "braille_subtract.nir"


def timed(label: str, work, executor: Executor, baseline: tuple[float, float] | None = None):
    """Run ``work(executor)``; print wall seconds, and the items' CPU seconds: in all, and on the busiest worker.

    ``serial CPU / busiest worker's CPU`` is the speed-up a machine with a free core per worker would
    show (the items' own cost, without process start or scheduling): a projection, printed as such.
    """
    accounting = CpuAccounting(executor)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    result = work(accounting)
    seconds = time.perf_counter() - start
    cpu, busiest = sum(accounting.per_worker.values()), max(accounting.per_worker.values())
    measured = f"  {baseline[0] / seconds:5.2f}x" if baseline else " " * 8
    projected = f"  {baseline[1] / busiest:5.2f}x" if baseline else " " * 8
    print(f"  {label:<22}{seconds:7.1f} s{measured}   item CPU {cpu:6.1f} s, busiest worker {busiest:6.1f} s{projected}"
          f"   (load avg {load:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)
    return result, (seconds, busiest)


def cpu_timed(fn, shared, item):
    """Run one work item; also return the worker's pid and the item's CPU seconds."""
    start = time.process_time()
    result = fn(shared, item)
    return result, os.getpid(), time.process_time() - start


class CpuAccounting(Executor):
    """Another executor, recording each work item's CPU seconds per worker process."""

    def __init__(self, inner: Executor) -> None:
        self.inner, self.per_worker = inner, Counter()

    def describe(self) -> str:
        return self.inner.describe()

    def stream(self, fn, items, shared=None, progress=None):
        for index, (result, pid, cpu) in self.inner.stream(functools.partial(cpu_timed, fn), items, shared, progress):
            self.per_worker[pid] += cpu
            yield index, result


def sweep_table(report) -> tuple:
    return tuple((t, s.graphs, s.agreed, s.mismatched, s.crashed, sorted(s.unsupported.items()))
                 for t, s in report.tallies.items()), report.failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=200)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {len(os.sched_getaffinity(0))} usable; load avg {os.getloadavg()}")
    executors: list[tuple[str, Executor]] = [(f"{args.workers} local processes", LocalExecutor(args.workers))]
    cluster = None
    if not args.no_dask:
        import distributed

        start = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=40,
                                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        client = distributed.Client(cluster, set_as_default=False)
        print(f"Dask LocalCluster with {args.workers} workers started in {time.perf_counter() - start:.1f} s (not counted below)")
        executors.append((f"Dask, {args.workers} workers", DaskExecutor(client)))

    print(f"\nverify --random {args.graphs} --targets spinnaker1,rram-512 (shrinking off)")
    print(f"  {'':<22}{'wall':>9}{'speed-up':>10}   {'CPU of the work items':<41}{'projected':>9}")
    run_sweep = lambda ex: sweep(args.graphs, ["spinnaker1", "rram-512"], spec=GraphSpec.small(), first_seed=0,
                                 shrink_failures=False, executor=ex)
    serial, base = timed("serial", run_sweep, SerialExecutor())
    for label, ex in executors:
        report, _ = timed(label, run_sweep, ex, base)
        assert sweep_table(report) == sweep_table(serial), label

    program = spikec.compile(spikec.load_nir(EXAMPLE), "rram-512", fidelity_steps=0)
    mapping = mapping_of(program)
    x = (np.random.default_rng(0).random((200, 16, 12)) < 0.3).astype(np.float32)
    print(f"\nRRAM Monte Carlo, braille on rram-512, 200 steps x 16 samples, {args.trials} trials x 4 read times")
    run_mc = lambda ex: {k: (r.agreement, r.accuracy) for k, r in
                         drift_table(mapping, x, dt_s=program.dt_s, trials=args.trials, seed=0, executor=ex).items()}
    serial_mc, base = timed("serial", run_mc, SerialExecutor())
    for label, ex in executors:
        table, _ = timed(label, run_mc, ex, base)
        assert table == serial_mc, label
    if cluster is not None:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
