"""The 10^6-neuron / 10^8-synapse network on loihi2: per-pass seconds and peak RSS, then a run on the reference.

    python bench/bench_loihi_scale.py [--sizes 10000,100000,1000000] [--steps 100] [--api]

Network (issue 16): Input(1000) -> [Affine 1000 x 1000 -> LIF(1000)] x n/1000,
exactly 100 synapses per neuron (one random column in each run of 10: distinct
and sorted, so the CSR is built directly, canonical), weights N(0, 0.3), the
``bench_compiler.float_chain`` neurons. Each size runs in its own child process
(``--child``) so ``ru_maxrss`` is that size's peak: the table gives, per pass
of ``PIPELINES["loihi"]`` on ``loihi2`` with ceil(n / 50,000) chips, its
seconds and the process's peak RSS after it (a running maximum: a pass that
adds nothing shows the previous figure). ``build`` is making the float graph;
``run`` is ``run_loihi`` on the lowered graph (input at 10 %, ``--steps``
steps, batch 1, numba kernels if installed, their load included) with the
synaptic events it processed (spikes x fan-out). ``--api`` also times the
whole ``spikec.compiler.api.compile(graph, "loihi2", chips="auto")`` per
size (a second child), which adds building the Program; ``spikec.compile``
adds the fidelity report on top (``fidelity_steps``, default 100: a float and
a reference run of the whole network, minutes at 10^6 neurons; 0 skips it).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench/README.md

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from networks import machine, sparse_chain  # noqa: E402

DT_S = 1e-4


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def child(n: int, steps: int, api: bool) -> dict:
    from spikec.api import PIPELINES
    from spikec.compiler.api import compile as compile_graph
    from spikec.backends.reference.loihi_executor import run_loihi
    from spikec.backends.reference.loihi_schedule import Synapses
    from spikec.compiler.loihi.nodes import Dense
    from spikec.compiler.pipeline import CompileState
    from spikec.compiler.target import load_target
    from spikec.ir import weights

    rows = []
    t0 = time.perf_counter()
    graph = sparse_chain(n)
    rows.append(("build", time.perf_counter() - t0, rss_mb()))
    synapses = sum(node.weight.nnz for node in graph.nodes.values() if hasattr(node, "weight"))
    out = {"n": n, "synapses": synapses}
    if api:
        t0 = time.perf_counter()
        program = compile_graph(graph, "loihi2", chips="auto")
        out |= {"api_s": time.perf_counter() - t0, "api_rss_mb": rss_mb(), "chips": program.target.limits.chips,
                "cores": program.report["place-loihi"]["cores"]}
        return out
    target = load_target("loihi2")
    target = replace(target, limits=replace(target.limits, chips=max(1, math.ceil(n / 50_000))))
    state = CompileState(source=graph, graph=graph, target=target, dt_s=DT_S)
    for p in PIPELINES["loihi"]():
        t0 = time.perf_counter()
        state = p.run(state)
        rows.append((p.name, time.perf_counter() - t0, rss_mb()))
    lowered = state.lowered
    denses = [d for d in lowered.nodes.values() if isinstance(d, Dense)]
    out["csr_dense"] = f"{sum(weights.is_sparse(d.weights) for d in denses)}/{len(denses)}"
    out["cores"] = state.notes["place-loihi"]["cores"]
    del graph, state
    x = (np.random.default_rng(1).random((steps, 1000)) < 0.1).astype(np.int8)
    t0 = time.perf_counter()
    result = run_loihi(lowered, target.numeric, x, record=("s",))
    seconds = time.perf_counter() - t0
    rows.append(("run (reference)", seconds, rss_mb()))
    events = 0  # spikes of each source x its fan-out, per Dense
    for name, d in lowered.items():
        if isinstance(d, Dense):
            (src,), (tgt,) = lowered.predecessors(name), lowered.successors(name)
            s = x.reshape(steps, 1, -1) if src == "in" else result[f"{src}.s"].reshape(steps, 1, -1)
            events += Synapses.of(name, d, src, tgt).slots[0][1].events(s.astype(bool))
    out |= {"rows": rows, "events": events, "run_s": seconds, "output_spikes": int(result["out"].sum())}
    return out


def run_child(n: int, steps: int, api: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(n), "--steps", str(steps)] + (["--api"] if api else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"size {n}: child failed\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--api", action="store_true", help="also time spikec.api.compile(..., chips='auto')")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.api)))
        return
    print(f"# machine: {machine()}")
    results = [run_child(int(s), args.steps, False) for s in args.sizes.split(",")]
    names = [r[0] for r in results[0]["rows"]]
    print("\n| pass | " + " | ".join(f"{r['n']:,} neurons: s | peak RSS MB" for r in results) + " |")
    print("|---|" + "---:|---:|" * len(results))
    for i, name in enumerate(names):
        print(f"| {name} | " + " | ".join(f"{r['rows'][i][1]:.2f} | {r['rows'][i][2]:,.0f}" for r in results) + " |")
    compile_s = [sum(t for name, t, _ in r["rows"] if name not in ("build", "run (reference)")) for r in results]
    print("| **compile (passes)** | " + " | ".join(f"**{c:.2f}** | {max(m for name, _, m in r['rows'] if name != 'run (reference)'):,.0f}"
                                                  for c, r in zip(compile_s, results)) + " |")
    for r in results:
        print(f"# {r['n']:,} neurons: {r['synapses']:,} synapses, {r['cores']} cores, CSR Dense {r['csr_dense']}; "
              f"run {args.steps} steps: {r['output_spikes']:,} output spikes, {r['events']:,} synaptic events, "
              f"{r['events'] / r['run_s']:.2e} events/s")
    if args.api:
        for s in args.sizes.split(","):
            r = run_child(int(s), args.steps, True)
            print(f"# spikec.compiler.api.compile(graph, 'loihi2', chips='auto') at {r['n']:,} neurons: {r['api_s']:.2f} s, "
                  f"peak RSS {r['api_rss_mb']:,.0f} MB (with the graph), {r['chips']} chips, {r['cores']} cores")
    print(f"# load average after the run: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
