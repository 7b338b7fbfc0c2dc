"""The float reference (``spikec.simulate``, float64 and float32) vs snnTorch and Norse forward, side by side.

Two layers of 1,000 LIF (Linear 1,000 -> 1,000 -> 1,000, snnTorch ``Leaky`` /
Norse ``LIFBoxCell``), input spikes at 10 %, stepped one frame at a time in the
framework (``torch.no_grad``), at batch 1, 64 and 256. Per row: seconds of each
contestant (median of ``--repeats``, interleaved), the framework / spikec ratio
(> 1: spikec faster) and how many output entries differ from the framework's.

    python bench/float_reference_vs_torch.py --steps 1000 --repeats 1

float32 mode runs torch's own ``F.linear`` (the only way found to equal torch's
float32 sums), in the same process and with the same thread count.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import spikec  # noqa: E402
from networks import machine  # noqa: E402

WIDTH = 1000


def linear(gain: float) -> torch.nn.Linear:
    layer = torch.nn.Linear(WIDTH, WIDTH)
    with torch.no_grad():
        layer.weight.uniform_(-gain / WIDTH**0.5, 1.3 * gain / WIDTH**0.5)
    return layer


def snntorch_net() -> tuple[torch.nn.Module, object]:
    import snntorch as snn

    torch.manual_seed(0)
    net = torch.nn.Sequential(linear(0.5), snn.Leaky(beta=0.9, init_hidden=True), linear(0.5),
                              snn.Leaky(beta=0.9, init_hidden=True, output=True))

    def forward(x: np.ndarray) -> np.ndarray:
        for m in net.modules():
            if isinstance(m, snn.SpikingNeuron):
                m.mem = torch.zeros(0)
        out = []
        with torch.no_grad():
            for t in range(x.shape[0]):
                out.append(net(torch.from_numpy(x[t]))[0].numpy())
        return np.stack(out)

    return net, forward, spikec.from_snntorch(net, torch.zeros(WIDTH))


def norse_net() -> tuple[torch.nn.Module, object]:
    import norse.torch as nt

    torch.manual_seed(0)
    cell = lambda: nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(150.0)))  # noqa: E731
    net = nt.SequentialState(linear(3.0), cell(), linear(3.0), cell())

    def forward(x: np.ndarray) -> np.ndarray:
        state, out = None, []
        with torch.no_grad():
            for t in range(x.shape[0]):
                y, state = net(torch.from_numpy(x[t]), state)
                out.append(y.numpy())
        return np.stack(out)

    return net, forward, spikec.from_norse(net, torch.zeros(WIDTH))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batches", default="1,64,256")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--frameworks", default="snntorch,norse")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch.set_num_threads (default 1: on a loaded 2-core machine torch's 2 OpenMP threads made "
                         "a 64 x 1000 @ 1000 x 1000 product 16 ms instead of 1.7 ms, as OpenBLAS's do)")
    args = ap.parse_args()
    torch.set_num_threads(args.torch_threads)
    print(f"# {machine()}; torch {torch.__version__} threads {torch.get_num_threads()}, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; {args.steps} steps, 2 x {WIDTH} LIF")
    print("| framework | batch | output spikes | framework s | float64 s | float32 s | fw / float64 | fw / float32 "
          "| float64 mismatches | float32 mismatches |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    builders = {"snntorch": snntorch_net, "norse": norse_net}
    for fw in args.frameworks.split(","):
        _, forward, graph = builders[fw]()
        for batch in (int(b) for b in args.batches.split(",")):
            x = (np.random.default_rng(batch).random((args.steps, batch, WIDTH)) < 0.1).astype(np.float32)
            times: dict[str, list[float]] = {"fw": [], "f64": [], "f32": []}
            outs = {}
            for _ in range(args.repeats):  # interleaved
                for key, fn in (("fw", lambda: forward(x)),
                                ("f64", lambda: next(iter(spikec.simulate(graph, x).values()))),
                                ("f32", lambda: next(iter(spikec.simulate(graph, x, precision="float32").values())))):
                    s, outs[key] = timed(fn)
                    times[key].append(s)
            med = {k: statistics.median(v) for k, v in times.items()}
            miss = {k: int(np.count_nonzero(outs[k] != outs["fw"])) for k in ("f64", "f32")}
            print(f"| {fw} | {batch} | {int(outs['fw'].sum()):,} | {med['fw']:.2f} | {med['f64']:.2f} | {med['f32']:.2f} "
                  f"| {med['fw'] / med['f64']:.2f} | {med['fw'] / med['f32']:.2f} | {miss['f64']:,} of {outs['fw'].size:,} "
                  f"| {miss['f32']:,} |", flush=True)
    print(f"# load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
