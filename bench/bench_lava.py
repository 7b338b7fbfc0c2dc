"""Lava backend vs the bit-accurate reference executor: wall time for growing networks.

    python bench/bench_lava.py [--sizes 100,300,1000,3000] [--steps 1000] [--density 0.1]

Each size n compiles Input(n) -> Affine -> LIF(n) -> Affine -> LIF(n) -> Output
(random weights with the given density, seed 0) for ``loihi2``, runs the same
program for ``--steps`` steps on the reference executor and on Lava, checks
that the output spikes are equal, and prints wall times (Lava: whole call,
including starting Python 3.10 and Lava; and Lava's own ``run()``) and the ratio.
Needs the Lava environment (``python -m spikec.backends.lava.env``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from spikec.backends import lava
from spikec.backends.reference.loihi_executor import run_loihi
from spikec.compiler.loihi.quantise import lower_to_loihi
from spikec.compiler.target import load_target
from spikec.ir.check import normalise
from spikec.ir.graph import Graph
from spikec.ir.weights import count_nonzero
from spikec.ir.nodes import LIF, Affine, Input, Output

DT_S = 1e-4


def network(n: int, density: float, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)

    def weights() -> np.ndarray:
        return rng.normal(0.1, 0.5, (n, n)) * (rng.random((n, n)) < density) * 2 / (density * n) ** 0.5

    lif = lambda: LIF(tau=np.full(n, 2e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.ones(n),
                      v_reset=np.zeros(n), reset="subtract")
    return Graph({
        "in": Input(shape=(n,)), "fc1": Affine(weight=weights(), bias=np.zeros(n)), "l1": lif(),
        "fc2": Affine(weight=weights(), bias=np.zeros(n)), "l2": lif(), "out": Output(shape=(n,)),
    }, [("in", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "out")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000,3000")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--density", type=float, default=0.1)
    args = parser.parse_args()
    target = load_target("loihi2")
    lava.ensure_lava_env()
    print(f"{'neurons':>8} {'synapses':>10} {'spikes':>8} {'reference s':>12} {'Lava s':>8} {'Lava run() s':>13} {'ratio':>7}")
    for n in (int(s) for s in args.sizes.split(",")):
        program, _ = lower_to_loihi(normalise(network(n, args.density)), target, DT_S)
        x = (np.random.default_rng(1).random((args.steps, n)) < 0.1).astype(np.int8)
        t0 = time.perf_counter()
        want = run_loihi(program, target.numeric, x)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        got, timing = lava.run_with_timing(program, x)
        t_lava = time.perf_counter() - t0
        np.testing.assert_array_equal(got["out"], want["out"])
        synapses = sum(count_nonzero(node.weights) for node in program.nodes.values() if node.kind == "Dense")
        print(f"{2 * n:>8} {synapses:>10} {int(want['out'].sum()):>8} {t_ref:>12.2f} {t_lava:>8.2f} "
              f"{timing[1]:>13.2f} {t_lava / t_ref:>7.1f}")


if __name__ == "__main__":
    main()
