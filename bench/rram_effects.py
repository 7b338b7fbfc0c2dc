"""The RRAM figures of ``docs/rram.md``, regenerated: noise scale, drift, SNN-specific effects.

    python bench/rram_effects.py            # about 10 s

Every number is seeded; the same spikec gives the same tables.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

import spikec
from spikec.backends.rram import compile_rram, drift_table, format_table, monte_carlo, simulate_rram
from spikec.backends.rram.monte_carlo import trial_seeds
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Affine, CubaLIF, Input, Linear, Output

DT = 1e-4


def random_network(seed: int, *, reset: str = "subtract", out_gain: float = 3.0, n_in: int = 40, n_hid: int = 100, n_out: int = 10) -> Graph:
    """The network of tests/test_rram_simulator.py: Input -> Affine -> recurrent LIF -> Linear -> CubaLIF."""
    rng = np.random.default_rng(seed)
    nodes = {
        "in": Input(shape=(n_in,)),
        "fc1": Affine(weight=rng.normal(0, 3 / np.sqrt(n_in), (n_hid, n_in)), bias=rng.normal(0, 0.05, n_hid)),
        "lif1": LIF(tau=np.full(n_hid, 2e-3), r=np.full(n_hid, 20.0), v_leak=np.zeros(n_hid),
                    v_threshold=np.ones(n_hid), v_reset=np.zeros(n_hid), reset=reset),
        "rec": Linear(weight=rng.normal(0, 0.5 / np.sqrt(n_hid), (n_hid, n_hid))),
        "fc2": Linear(weight=rng.normal(0, out_gain / np.sqrt(n_hid), (n_out, n_hid))),
        "lif2": CubaLIF(tau_syn=np.full(n_out, 2e-3), tau_mem=np.full(n_out, 4e-3), r=np.full(n_out, 40.0),
                        v_leak=np.zeros(n_out), v_threshold=np.full(n_out, 0.5), v_reset=np.zeros(n_out),
                        w_in=np.full(n_out, 20.0), reset=reset),
        "out": Output(shape=(n_out,)),
    }
    edges = [("in", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "out")]
    return spikec.normalise(Graph(nodes, edges, {"dt_s": DT}))


def spikes(seed: int, n: int, steps: int, batch: int, p: float) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, n)) < p).astype(np.float64)


def noise_scale_table() -> None:
    print("== agreement vs programming-noise scale (t = 1 s, 5 trials)")
    x = spikes(0, 40, 150, 8, 0.2)
    for target in ("rram-256", "rram-512"):
        base = compile_rram(random_network(0), target)
        for scale in (0.0, 0.5, 1.0, 2.0):
            device = base.config.device
            cfg = replace(base.config, device=replace(device, programming=replace(device.programming, scale=scale)))
            s = monte_carlo(replace(base, config=cfg), x, dt_s=DT, trials=5, seed=0)
            print(f"{target} scale {scale}: {s.agreement_mean:.4f} +- {s.agreement_std:.4f}")


def drift_tables() -> None:
    x = spikes(0, 40, 150, 8, 0.2)
    for target in ("rram-256", "rram-512"):
        m = compile_rram(random_network(0), target)
        for comp in (False, True):
            print(f"== drift, {target}, compensation {'on' if comp else 'off'} (5 trials)")
            print(format_table(drift_table(m, x, dt_s=DT, trials=5, seed=0, compensate_drift=comp)))


def membrane_accumulation() -> None:
    print("== error in state vs time step (rram-512, 1 s, 5 trials, out_gain 0.3, zero reset)")
    x = spikes(0, 40, 300, 8, 0.2)
    m = compile_rram(random_network(0, out_gain=0.3, reset="zero"), "rram-512")
    ideal = simulate_rram(m, x, dt_s=DT, config=m.config.ideal(), record=("v", "i"))
    noisy = [simulate_rram(m, x, dt_s=DT, seed=s, record=("v", "i")) for s in trial_seeds(0, 5)]
    for t in (1, 10, 30, 100, 300):
        agree = np.mean([(n["out"][:t] == ideal["out"][:t]).mean() for n in noisy])
        rms = {k: np.sqrt(np.mean([((n[k][t - 1] - ideal[k][t - 1]) ** 2).mean() for n in noisy])) for k in ("lif2.i", "lif2.v")}
        print(f"T={t:4d}: agreement over first T {agree:.4f}; rms error lif2.i {rms['lif2.i']:.3f}, lif2.v {rms['lif2.v']:.3f}"
              f" (ideal rms v {np.sqrt((ideal['lif2.v'][t - 1] ** 2).mean()):.2f})")


def adc_clipping() -> None:
    print("== ADC clipping: excitatory 256 -> 64 layer, ADC only (9 bits), vs input rate")
    rng = np.random.default_rng(0)
    n_in, n = 256, 64
    w = np.abs(rng.normal(0, 1, (n, n_in)))
    for bound in (12.0, 48.0):
        for p in (0.01, 0.05, 0.1, 0.3):
            thr = w.sum(1).mean() * p * 2
            graph = spikec.normalise(Graph({
                "in": Input(shape=(n_in,)), "fc": Linear(weight=w),
                "lif": LIF(tau=np.full(n, 2e-3), r=np.full(n, 20.0), v_leak=np.zeros(n), v_threshold=np.full(n, thr), v_reset=np.zeros(n)),
                "out": Output(shape=(n,)),
            }, [("in", "fc"), ("fc", "lif"), ("lif", "out")]))
            m = compile_rram(graph, "rram-512")
            cfg = replace(m.config.ideal(), periphery=replace(m.config.ideal().periphery, adc_bits=9, adc_bound=bound))
            x = spikes(1, n_in, 100, 4, p)
            ideal = simulate_rram(m, x, dt_s=DT, config=m.config.ideal())["out"]
            out = simulate_rram(m, x, dt_s=DT, config=cfg)["out"]
            tile = m.crossbars.layers["fc"].tiles[0]
            sums = x.reshape(-1, n_in) @ tile.weights() / ((cfg.geometry.levels - 1) * tile.w_step)
            print(f"bound {bound:g}, rate {p}: reads beyond the bound {np.mean(sums > bound):.3f}, agreement {np.mean(out == ideal):.4f}")


if __name__ == "__main__":
    noise_scale_table()
    drift_tables()
    membrane_accumulation()
    adc_clipping()
