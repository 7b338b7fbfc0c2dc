"""SpiNNaker from the float graph: seconds and peak RSS per pass, 10^4 to 10^6 neurons (issue 16).

    python bench/scale_spinnaker_sparse.py [--sizes 10000,100000,1000000] [--fidelity-steps N]

The network is ``bench_compiler.float_chain``'s (Input(1000) -> [Affine
1000 x 1000 at 10 % -> LIF(1000)] x n/1000, dt 0.1 ms) built straight as CSR
weights (``sparse_chain``: the same matrices, never dense), then compiled by
one call, ``spikec.api.compile(graph, "spinnaker1", chips="auto")``, whose
``on_pass`` hook marks where each pass (and the fidelity run) starts. Each
size runs in its own child process, so "peak RSS" is that process's
high-water mark (``ru_maxrss``) at the end of each step: the graph's own
memory included, and a step's figure is the largest of it and every step
before. (``bench/scale_sparse.py`` does the same from a NIR file, per target.)
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench/README.md: BLAS threads on a loaded 2-core machine

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from networks import machine, sparse_chain  # noqa: E402

DT_S = 1e-4


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def measure(n: int, fidelity_steps: int | None) -> dict:
    """In this process: build the graph, then the one public call, timed pass by pass through ``on_pass``."""
    import spikec.api

    start = time.perf_counter()
    graph = sparse_chain(n)
    built = time.perf_counter() - start, _rss_mb()
    synapses = sum(int(node.weight.nnz) for node in graph.nodes.values() if hasattr(node, "weight"))
    marks: list[tuple[str, float, float]] = []  # (step starting, time, peak RSS so far)
    on_pass = lambda name, i, count: marks.append((name, time.perf_counter(), _rss_mb()))
    start = time.perf_counter()
    program = spikec.api.compile(graph, "spinnaker1", chips="auto", fidelity_steps=fidelity_steps, on_pass=on_pass)
    end = time.perf_counter()
    marks.append(("end", end, _rss_mb()))
    steps = [("build graph", *built)]
    steps += [(name, t1 - t0, rss1) for (name, t0, _), (_, t1, rss1) in zip(marks, marks[1:])]
    fidelity = program.report.get("fidelity", {})
    if "skipped" in fidelity:  # no fidelity step was announced: the check took the time after the last pass
        steps.append(("fidelity (skipped)", 0.0, marks[-1][2]))
    note = fidelity.get("skipped") or fidelity.get("error") or f"{fidelity.get('steps')} steps"
    return {"neurons": n, "synapses": synapses, "steps": steps, "compile_s": end - start, "peak_mb": _rss_mb(),
            "chips": program.target.limits.chips, "fidelity": note}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--fidelity-steps", type=int, default=None, help="default: spikec.api.compile's")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.fidelity_steps)))
        return
    print(f"# machine: {machine()}\n")
    print("| neurons | synapses | step | seconds | peak RSS MB (so far) |")
    print("|---:|---:|---|---:|---:|", flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--child", str(n)]
        if args.fidelity_steps is not None:
            cmd += ["--fidelity-steps", str(args.fidelity_steps)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        for name, seconds, mb in r["steps"]:
            print(f"| {n:,} | {r['synapses']:,} | {name} | {seconds:.2f} | {mb:.0f} |")
        print(f"| {n:,} | {r['synapses']:,} | **spikec.api.compile total** ({r['chips']} chips; fidelity: {r['fidelity']}) "
              f"| **{r['compile_s']:.2f}** | **{r['peak_mb']:.0f}** |", flush=True)
    print(f"\n# load average after the run: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
