"""10^6 neurons / 10^8 synapses: write, load and compile for each target, seconds and peak RSS per pass.

    python bench/scale_sparse.py [--neurons 1000000] [--targets loihi2,spinnaker1,rram-512] [--nir /tmp/x.nir]

The network of issue 16: Input(1000) -> [Affine 1000 x 1000, 100 random synapses
per neuron -> LIF(1000)] x layers. It is written once as a NIR file the way a
framework's exporter writes it (dense float32 matrices, NIR's default gzip), then
each measurement runs in a fresh child process: ``load`` reads the file
(``spikec.load_nir``: weights read block by block into CSR), ``compile`` loads it
and runs ``spikec.compile`` for one target (``chips="auto"``: a machine sized to
the network), fidelity run included. Per pass: seconds (the pass log) and the
peak RSS while it ran (Linux: VmHWM reset with ``/proc/self/clear_refs`` at each
pass start, read at the next); the last row is the child's whole peak RSS.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench/README.md: BLAS threads on a loaded 2-core machine

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from networks import machine, sparse_chain  # noqa: E402

WIDTH, FAN_IN, DT_S = 1000, 100, 1e-4


def network_nir(n_neurons: int, seed: int = 0):
    """``networks.sparse_chain`` as a ``nir.NIRGraph`` with dense float32 weights (what torch-based exporters write)."""
    import nir

    from spikec.ir.nir_io import to_nir

    graph = to_nir(sparse_chain(n_neurons, WIDTH, FAN_IN, seed, DT_S))
    for node in graph.nodes.values():
        if isinstance(node, nir.Affine):
            node.weight = node.weight.astype(np.float32)
    return graph


CHILD = r"""
import json, os, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
def hwm_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
def reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
import spikec
from spikec import api
path, target = sys.argv[1], sys.argv[2]
rows = []
t0 = time.perf_counter(); reset_hwm()
graph = spikec.load_nir(path, reset="subtract")
rows.append(("load", time.perf_counter() - t0, hwm_kb()))
synapses = sum(int(n.weight.nnz if hasattr(n.weight, "nnz") else (n.weight != 0).sum())
               for n in graph.nodes.values() if n.kind == "Affine")
peaks = []
def on_pass(name, i, n):
    peaks.append(hwm_kb()); reset_hwm()
if target != "-":
    t0 = time.perf_counter()
    program = api.compile(graph, target, dt_s=1e-4, chips="auto", on_pass=on_pass)
    total = time.perf_counter() - t0
    peaks.append(hwm_kb())
    log = [(r.name, r.seconds) for r in program.pass_log]
    fidelity = total - sum(s for _, s in log)
    for (name, s), kb in zip(log + [("fidelity", fidelity)], peaks[1:] + [peaks[-1]]):
        rows.append((name, s, kb))
    rows.append(("compile total", total, None))
import resource
print(json.dumps({"rows": rows, "synapses": synapses, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def child(path: Path, target: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), target], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1_000_000)
    parser.add_argument("--targets", default="loihi2,spinnaker1,rram-512")
    parser.add_argument("--nir", type=Path, default=None, help="NIR file to use or write (default /tmp/spikec-scale-<n>.nir)")
    args = parser.parse_args()
    path = args.nir or Path(f"/tmp/spikec-scale-{args.neurons}.nir")
    print(f"# {machine()}")
    if not path.exists():
        import nir

        t0 = time.perf_counter()
        graph = network_nir(args.neurons)
        tmp = path.with_suffix(".tmp")
        nir.write(tmp, graph)
        os.replace(tmp, path)
        del graph
        print(f"# wrote {path}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s")
    print(f"# NIR file {path}: {path.stat().st_size / 1e6:.0f} MB on disk")
    print("\n| target | pass | seconds | peak RSS MB |")
    print("|---|---|---:|---:|", flush=True)
    for target in ["-"] + [t for t in args.targets.split(",") if t]:
        result = child(path, target)
        name = "(load only)" if target == "-" else target
        if "error" in result:
            print(f"| {name} | failed: {result['error'][:200]} | | |", flush=True)
            continue
        for pass_name, seconds, kb in result["rows"]:
            peak = "" if kb is None else f"{kb / 1024:.0f}"
            print(f"| {name} | {pass_name} | {seconds:.2f} | {peak} |", flush=True)
        print(f"| {name} | **whole process** ({result['synapses']:,} synapses) | | **{result['peak_kb'] / 1024:.0f}** |", flush=True)
    print(f"\n# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
