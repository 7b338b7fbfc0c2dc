"""spikec's reference executors vs Brian2 (numpy target) on the same LIF network and input.

    python bench/bench_brian2.py [--sizes 1000,2000] [--steps 1000] [--density 0.1] [--repeats 3]
        [--brian2-python /work/brian2-venv/bin/python]

Network: ``bench_lava.network(n)``: Input(n) -> Affine -> LIF(n) -> Affine ->
LIF(n), 10 % connectivity, tau = 2 ms, r = 10, threshold 1, subtractive
reset, dt = 0.1 ms; input spikes at 10 %. Brian2 (2.9.0 needs numpy < 2: its
own venv, ``python3 -m venv /work/brian2-venv && /work/brian2-venv/bin/pip
install "numpy<2" brian2==2.9.0``) runs ``brian2_child.py`` in a subprocess.

Semantics: spikec's float reference adds a spike's input in the same step
(``v = (1 - a) v + a r W s``, a = dt/tau); Brian2 adds ``on_pre`` effects
after the threshold test of the step, and they decay once before the next
test. With Brian2 weights ``a r W / (1 - a)`` the two compute the same
recurrence with one step of latency per layer in Brian2, so Brian2's output
layer at t + 2 is compared with spikec's at t; the floating-point operations
differ in order, so a few threshold crossings can flip and then diverge
(the table gives the share of equal entries and the spike counts). The
Loihi fixed-point reference on the compiled program (also 2 steps late) is
compared by spike count only: it quantises weights and voltages.
Timings (medians of interleaved runs): spikec float ``simulate``; Loihi
``run_loihi`` (compile time apart); Brian2's whole subprocess and its ``run()``.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench/README.md: BLAS threads on a loaded 2-core machine

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_lava import DT_S, network  # noqa: E402
from networks import machine, median, timed  # noqa: E402

from spikec.backends.reference.float_executor import simulate  # noqa: E402
from spikec.backends.reference.loihi_executor import run_loihi  # noqa: E402
from spikec.compiler.loihi.quantise import lower_to_loihi  # noqa: E402
from spikec.compiler.target import load_target  # noqa: E402
from spikec.ir.check import normalise  # noqa: E402


def run_brian2(python: str, graph, x: np.ndarray, workdir: Path) -> tuple[float, dict]:
    a = DT_S / float(graph.nodes["l1"].tau[0])
    r = float(graph.nodes["l1"].r[0])
    gain = a * r / (1 - a)
    np.savez(workdir / "in.npz", w1=graph.nodes["fc1"].weight * gain, w2=graph.nodes["fc2"].weight * gain,
             x=x, dt_s=DT_S, tau_s=float(graph.nodes["l1"].tau[0]))
    t, _ = timed(lambda: subprocess.run([python, str(HERE / "brian2_child.py"), str(workdir / "in.npz"),
                                         str(workdir / "out.npz")], check=True, capture_output=True))
    return t, dict(np.load(workdir / "out.npz"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--density", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--brian2-python", default="/work/brian2-venv/bin/python")
    args = parser.parse_args()
    target = load_target("loihi2")
    print(f"# machine: {machine()}")
    print("| neurons/layer | synapses | float s | Loihi ref s | Brian2 s (process) | Brian2 run() s | "
          "Brian2/float | Brian2/Loihi | out spikes float / Brian2 / Loihi | equal entries float vs Brian2 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            graph = normalise(network(n, args.density))
            x = (np.random.default_rng(1).random((args.steps, n)) < 0.1).astype(np.int8)
            program, _ = lower_to_loihi(graph, target, DT_S)
            run_loihi(program, target.numeric, x[:2])  # load the numba kernels
            tf, tl, tb, tr = [], [], [], []
            for _ in range(args.repeats):
                t, fl = timed(lambda: simulate(graph, x, DT_S))
                tf.append(t)
                t, lo = timed(lambda: run_loihi(program, target.numeric, x))
                tl.append(t)
                t, br = run_brian2(args.brian2_python, graph, x, Path(tmp))
                tb.append(t)
                tr.append(float(br["t_run"]))
            f_out, b_out, l_out = fl["out"], br["l1"], lo["out"]
            equal = float(np.mean(f_out[:-2] == b_out[2:]))
            synapses = int(np.count_nonzero(graph.nodes["fc1"].weight) + np.count_nonzero(graph.nodes["fc2"].weight))
            b, f, lt = median(tb), median(tf), median(tl)
            print(f"| {n:,} | {synapses:,} | {f:.3f} | {lt:.3f} | {b:.2f} | {median(tr):.2f} | {b / f:.1f} | {b / lt:.0f} | "
                  f"{int(f_out[:-2].sum()):,} / {int(b_out[2:].sum()):,} / {int(l_out[2:].sum()):,} | {equal:.4f} |", flush=True)
    print(f"# load average after the run: {machine().rsplit('load average ', 1)[1]}")


if __name__ == "__main__":
    main()
