"""Run the benchmark's LIF network in Brian2 (numpy target); executed by bench_brian2.py in the Brian2 venv.

    <brian2 python> bench/brian2_child.py IN.npz OUT.npz

IN.npz: ``w1`` (n, n_in), ``w2`` (n, n), ``x`` (T, n_in) spikes, ``dt_s``,
``tau_s``. Equations: ``dv/dt = -v/tau`` (Euler), threshold ``v > 1``, reset
``v -= 1``, synapses ``on_pre: v_post += w`` with the weights as given (the
parent converts them). OUT.npz: each layer's spikes (T, n) and the seconds
spent importing, building and in ``run()``.
"""
import sys
import time

t_start = time.perf_counter()
import numpy as np  # noqa: E402
from brian2 import (NeuronGroup, Network, SpikeGeneratorGroup, SpikeMonitor, Synapses, defaultclock,  # noqa: E402
                    prefs, second)

t_import = time.perf_counter() - t_start


def main(src: str, dst: str) -> None:
    data = np.load(src)
    w1, w2, x = data["w1"], data["w2"], data["x"]
    dt, tau = float(data["dt_s"]), float(data["tau_s"])
    t0 = time.perf_counter()
    prefs.codegen.target = "numpy"
    defaultclock.dt = dt * second
    steps, n_in = x.shape
    n = w1.shape[0]
    t_idx, i_idx = np.nonzero(x)
    inp = SpikeGeneratorGroup(n_in, i_idx, t_idx * dt * second, dt=dt * second)
    eqs = "dv/dt = -v / tau : 1\ntau : second (constant)"
    layers, syns = [], []
    src_group = inp
    for w in (w1, w2):
        g = NeuronGroup(n, eqs, threshold="v > 1", reset="v -= 1", method="euler")
        g.tau = tau * second
        post, pre = np.nonzero(w)
        s = Synapses(src_group, g, "w : 1", on_pre="v_post += w")
        s.connect(i=pre, j=post)
        s.w = w[post, pre]
        layers.append(g)
        syns.append(s)
        src_group = g
    monitors = [SpikeMonitor(g) for g in layers]
    net = Network(inp, *layers, *syns, *monitors)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(steps * dt * second)
    t_run = time.perf_counter() - t0
    out = {}
    for k, m in enumerate(monitors):
        s = np.zeros((steps, n), np.int8)
        s[np.rint(np.asarray(m.t / second) / dt).astype(int), np.asarray(m.i)] = 1
        out[f"l{k}"] = s
    np.savez(dst, **out, t_import=t_import, t_build=t_build, t_run=t_run)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
