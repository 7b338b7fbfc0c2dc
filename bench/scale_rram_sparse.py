"""rram-512 from the float graph at 10^4 to 10^6 neurons: seconds and peak RSS per pass, one child process per size.

    python bench/scale_rram_sparse.py [--sizes 10000,100000,1000000] [--fidelity-steps N] [--run-sizes 10000] [--run-steps 20]

The network is ``bench_compiler.float_chain``: Input(1000) -> [Affine 1000 x
1000, 100 synapses per neuron (10 %) -> LIF(1000)] x n / 1000, its weights
carried as CSR (``ir/weights.py``). Each size runs in a fresh child process so
that its peak RSS (``ru_maxrss``) is its own: after building the graph, after
each pass of ``spikec.api.compile`` (the passes are wrapped to read it), after
the compiler's part and after the fidelity report it adds
(``verification/fidelity.py``: the float model and the program's graph
simulated for 100 steps x 2 samples, every neuron layer probed; by default
skipped above 2e7 neuron-steps, i.e. above 10^5 neurons; ``--fidelity-steps N``
asks for it, 0 turns it off), and after ``--run-steps`` steps on
the RRAM backend (its default device noise, seed 0) for the sizes in
``--run-sizes``. RSS is the peak so far in that child, in MB.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench/README.md

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


class _Measured:
    """A pass that records its seconds and the peak RSS after it."""

    def __init__(self, inner: Any, rows: list[dict[str, Any]]) -> None:
        self.inner, self.rows, self.name = inner, rows, inner.name

    def run(self, state: Any) -> Any:
        start = time.perf_counter()
        state = self.inner.run(state)
        self.rows.append({"step": self.name, "seconds": time.perf_counter() - start, "rss_mb": _rss_mb()})
        return state

    def summary(self, state: Any) -> str:
        return self.inner.summary(state) if hasattr(self.inner, "summary") else ""


def child(n: int, fidelity_steps: int | None, run_steps: int) -> list[dict[str, Any]]:
    """Build, ``spikec.api.compile`` (measured per pass, then its fidelity run), optionally run: one row per step."""
    import numpy as np
    from bench_compiler import float_chain

    from spikec import backends
    from spikec.compiler import api
    from spikec.compiler.pipeline import Pipeline
    from spikec.ir import weights
    from spikec.verification import fidelity
    from spikec.verification.fidelity import random_spikes

    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    graph = float_chain(n)
    synapses = sum(weights.count_nonzero(node.weight) for node in graph.nodes.values() if hasattr(node, "weight"))
    rows.append({"step": "build float graph", "seconds": time.perf_counter() - start, "rss_mb": _rss_mb()})
    plain = api.pipeline_for
    api.pipeline_for = lambda t: Pipeline(plain(t).family, tuple(_Measured(p, rows) for p in plain(t).passes))
    marks: dict[str, float] = {}

    def on_pass(name: str, index: int, count: int) -> None:
        if name == "fidelity":
            marks["fidelity"] = time.perf_counter()
            rows.append({"step": "compiler.api.compile (all passes)", "seconds": marks["fidelity"] - start, "rss_mb": _rss_mb()})

    start = time.perf_counter()
    program = fidelity.compile(graph, "rram-512", fidelity_steps=fidelity_steps, on_pass=on_pass)
    end = time.perf_counter()
    api.pipeline_for = plain
    report = program.fidelity or {}
    if "fidelity" in marks:
        rows.append({"step": f"fidelity ({report.get('steps')} steps x {report.get('batch')})", "seconds": end - marks["fidelity"],
                     "rss_mb": _rss_mb()})
    else:
        rows.append({"step": "compiler.api.compile (all passes)", "seconds": end - start, "rss_mb": _rss_mb()})
        rows.append({"step": "fidelity " + ("skipped: over the default budget" if "skipped" in report else "off"),
                     "seconds": 0.0, "rss_mb": _rss_mb()})
    rows.append({"step": "spikec.api.compile (total)", "seconds": end - start, "rss_mb": _rss_mb()})
    if run_steps:
        x = random_spikes((1000,), run_steps, 1, 0.2, seed=1)
        start = time.perf_counter()
        out = backends.run(program, x, backend="rram")["out"]
        rows.append({"step": f"rram backend, {run_steps} steps", "seconds": time.perf_counter() - start, "rss_mb": _rss_mb(),
                     "note": f"{int(np.sum(out))} output spikes"})
    crossbars = program.artefacts["crossbars"]
    for r in rows:
        r |= {"neurons": n, "synapses": int(synapses)}
    rows[-1]["tiles"] = f"{len(crossbars.tiles)} tiles on {crossbars.n_arrays} arrays"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--fidelity-steps", type=int, default=None,
                        help="steps of the fidelity run (default: spikec.compile's, skipped over its budget; 0: off)")
    parser.add_argument("--run-sizes", default="10000")
    parser.add_argument("--run-steps", type=int, default=20)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        run = args.run_steps if str(args.child) in args.run_sizes.split(",") else 0
        print(json.dumps(child(args.child, args.fidelity_steps, run)))
        return
    from networks import machine

    print(f"# machine: {machine()}")
    print("\n| neurons | synapses | step | seconds | peak RSS MB (child, so far) |")
    print("|---:|---:|---|---:|---:|", flush=True)
    for n in [int(s) for s in args.sizes.split(",")]:
        cmd = [sys.executable, __file__, "--child", str(n), "--run-sizes", args.run_sizes, "--run-steps", str(args.run_steps)]
        cmd += [] if args.fidelity_steps is None else ["--fidelity-steps", str(args.fidelity_steps)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            print(f"| {n:,} | | child failed: {done.stderr.strip().splitlines()[-1:]} | | |", flush=True)
            continue
        rows = json.loads(done.stdout.strip().splitlines()[-1])
        for r in rows:
            extra = "; ".join(str(r[k]) for k in ("note", "tiles") if k in r)
            print(f"| {r['neurons']:,} | {r['synapses']:,} | {r['step']}{' (' + extra + ')' if extra else ''} | "
                  f"{r['seconds']:.2f} | {r['rss_mb']:.0f} |", flush=True)
    print(f"\n# load average after the run: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
