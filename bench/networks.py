"""Networks and machine facts shared by the benchmarks (seeded: the same arguments give the same arrays).

``loihi_chain`` builds a compiled Loihi program directly (no float graph: a
Dense node holds a dense integer matrix, and the float graph's weights would
take twice as much memory again): an input of ``width`` axons and
``n_neurons / width`` LIF populations of ``width`` neurons in a chain, each
neuron receiving ``fan_in`` random synapses (8-bit, even: what the compiler
emits for mixed sign) from the layer before. Parameters are what
``quantise-loihi`` gives a LIF with tau = 2 ms at dt = 0.1 ms: ``du = 4095``
(u holds this step's input), ``dv = 205``.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable

import numpy as np
import scipy.sparse as sp

from spikec.compiler.loihi.nodes import Dense, LoihiInput, LoihiNeurons, LoihiOutput
from spikec.ir import weights
from spikec.ir.graph import Graph

LOIHI_DV = 205  # rint(4096 * dt / tau), dt = 0.1 ms, tau = 2 ms
LOIHI_VTH = 200  # threshold vth << 6 = 12800
MEAN, STD = 0.0, 30.0  # synaptic weights at fan-in 100 (scaled with 1/fan_in and 1/sqrt(fan_in))


def random_synapses(rng: np.random.Generator, n_out: int, n_in: int, fan_in: int, mean: float, std: float) -> np.ndarray:
    """int32 (n_out, n_in): ``fan_in`` distinct random sources per target, even 8-bit weights."""
    fan_in = min(fan_in, n_in)
    w = np.zeros((n_out, n_in), np.int32)
    cols = np.argsort(rng.random((n_out, n_in)), axis=1)[:, :fan_in] if fan_in < n_in else np.tile(np.arange(n_in), (n_out, 1))
    values = np.clip(np.rint(rng.normal(mean, std, (n_out, fan_in)) / 2) * 2, -254, 254)
    np.put_along_axis(w, cols, values.astype(np.int32), axis=1)
    return w


def loihi_chain(n_neurons: int, fan_in: int = 100, width: int = 5000, seed: int = 0, sparse: bool = False) -> Graph:
    """Input(width) -> [Dense -> LIF(width)] x layers -> Output; ``n_neurons`` = layers x width.

    ``sparse``: the same weights as CSR ``Dense.weights`` (what a sparse float graph compiles to)."""
    rng = np.random.default_rng(seed)
    width = min(width, n_neurons)
    layers = max(1, n_neurons // width)
    nodes: dict = {"in": LoihiInput(shape=(width,))}
    edges = []
    prev = "in"
    for i in range(layers):
        # weights that keep a few % of the neurons firing at 10 % input rate
        w = random_synapses(rng, width, width, fan_in, MEAN * 100 / fan_in, STD * (100 / fan_in) ** 0.5)
        nodes[f"d{i}"] = Dense(weights=weights.csr(w, np.int32) if sparse else w, weight_exp=0, num_weight_bits=8, sign_mode=1, weight_scale=np.ones(width))
        nodes[f"l{i}"] = LoihiNeurons(shape=(width,), du=4095, dv=LOIHI_DV, vth=LOIHI_VTH, bias_mant=0, bias_exp=0,
                                      reset="subtract", latency_steps=i + 1)
        edges += [(prev, f"d{i}"), (f"d{i}", f"l{i}")]
        prev = f"l{i}"
    nodes["out"] = LoihiOutput(shape=(width,))
    edges.append((prev, "out"))
    return Graph(nodes, edges)


def input_spikes(steps: int, n: int, rate: float = 0.1, batch: int | None = None, seed: int = 1) -> np.ndarray:
    shape = (steps, n) if batch is None else (steps, batch, n)
    return (np.random.default_rng(seed).random(shape) < rate).astype(np.int8)


def synapse_count(program: Graph) -> int:
    return sum(weights.count_nonzero(node.weights) for node in program.nodes.values() if isinstance(node, Dense))


def machine() -> str:
    """nproc, CPU model, load average: printed with every table (the machine is shared)."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPUs ({model}); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def sparse_chain(n_neurons: int, width: int = 1000, fan_in: int = 100, seed: int = 0, dt_s: float = 1e-4) -> Graph:
    """Input(width) -> [Affine width x width, ``fan_in`` random synapses per neuron -> LIF(width)] x layers,
    weights built straight as CSR (never dense): issue 16's 10^6-neuron network at n_neurons = 10^6.

    The draws of the earlier dense builder (``put_along_axis`` of normal(0, 0.3) at random columns,
    the last write to a repeated column winning), so its figures stay comparable.
    """
    from spikec.ir.graph import Graph
    from spikec.ir.nodes import LIF, Affine, Input, Output

    rng = np.random.default_rng(seed)
    width = min(width, n_neurons)
    nodes: dict = {"in": Input(shape=(width,))}
    edges, prev = [], "in"
    rows = np.repeat(np.arange(width), fan_in)
    for i in range(max(1, n_neurons // width)):
        cols = rng.integers(0, width, (width, fan_in)).reshape(-1)
        vals = rng.normal(0, 0.3, (width, fan_in)).reshape(-1)
        flat = rows * width + cols  # put_along_axis: the last write to a repeated column wins
        _, last = np.unique(flat[::-1], return_index=True)
        keep = flat.size - 1 - last
        w = sp.csr_array((vals[keep], (rows[keep], cols[keep])), shape=(width, width))
        nodes[f"fc{i}"] = Affine(weight=w, bias=np.zeros(width))
        nodes[f"l{i}"] = LIF(tau=np.full(width, 2e-3), r=np.full(width, 10.0), v_leak=np.zeros(width),
                             v_threshold=np.ones(width), v_reset=np.zeros(width), reset="subtract")
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"l{i}")]
        prev = f"l{i}"
    nodes["out"] = Output(shape=(width,))
    edges.append((prev, "out"))
    return Graph(nodes, edges, {"dt_s": dt_s})
