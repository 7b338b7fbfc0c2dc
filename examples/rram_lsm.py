"""A liquid state machine on simulated RRAM: scikit-learn's digits through a spiking reservoir.

The reservoir's recurrent weights come from the devices' own programming
spread: every cell of a differential pair is programmed to the same target
conductance, so ``G+ - G-`` is pure programming noise, a random matrix for
free (the trick of RRAM reservoir-computing chips). The reservoir is mapped
onto an RRAM target, run on the digits (8x8 images as Poisson spike trains),
and a linear read-out (logistic regression) is trained on its spike counts.

It reports read-out accuracy for: the float network, the ideal chip
(quantised weights), and simulated chips at several read times, both with the
read-out trained on the ideal chip's states (deploy once) and retrained on
each chip's own states. Run from the repository root::

    python examples/rram_lsm.py [--target rram-256] [--trials 3] [--compensate-drift]

Needs scikit-learn (``pip install scikit-learn``) for the data set and read-out.
"""
from __future__ import annotations

import argparse

import numpy as np

import spikec
from spikec.backends.rram import compile_rram, simulate_rram
from spikec.backends.rram.monte_carlo import READ_TIMES_S, trial_seeds
from spikec.compiler.rram.config import RramConfig
from spikec.compiler.target import load_target
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Input, Linear, Output

DT_S = 1e-3
STEPS = 40


def device_spread_matrix(config: RramConfig, n: int, seed: int) -> np.ndarray:
    """(n, n) weights from programming noise alone: both cells of a pair aimed at mid-range."""
    device = config.device
    g_mid = np.full((2, n, n), 0.5 * (device.g_min_us + device.g_max_us))
    g = device.program(g_mid, np.random.default_rng(seed))
    diff = g[0] - g[1]
    return diff / diff.std()


def reservoir(config: RramConfig, *, n: int = 256, n_in: int = 64, seed: int = 0, rec_gain: float = 0.9) -> Graph:
    """Input -> sparse input weights -> LIF reservoir with device-drawn recurrent weights."""
    rng = np.random.default_rng(seed)
    w_in = rng.choice([-1.0, 1.0], size=(n, n_in)) * (rng.random((n, n_in)) < 0.2) * 0.6
    w_rec = rec_gain * device_spread_matrix(config, n, seed + 1) / np.sqrt(n)
    tau = 20e-3
    nodes = {
        "pixels": Input(shape=(n_in,)),
        "w_in": Linear(weight=w_in),
        "liquid": LIF(tau=np.full(n, tau), r=np.full(n, tau / DT_S), v_leak=np.zeros(n),
                      v_threshold=np.ones(n), v_reset=np.zeros(n), reset="zero"),
        "w_rec": Linear(weight=w_rec),
        "states": Output(shape=(n,)),
    }
    edges = [("pixels", "w_in"), ("w_in", "liquid"), ("liquid", "w_rec"), ("w_rec", "liquid"), ("liquid", "states")]
    return spikec.normalise(Graph(nodes, edges, {"dt_s": DT_S}))


def encode(images: np.ndarray, seed: int, p_max: float = 0.5) -> np.ndarray:
    """Poisson spikes [T, B, 64]: pixel intensity 0..16 -> spike probability 0..p_max per step."""
    p = images / 16.0 * p_max
    return (np.random.default_rng(seed).random((STEPS, *p.shape)) < p).astype(np.float64)


def features(spikes: np.ndarray) -> np.ndarray:
    """Spike counts per neuron in each half of the presentation: [B, 2n]."""
    half = spikes.shape[0] // 2
    return np.concatenate([spikes[:half].sum(0), spikes[half:].sum(0)], axis=1)


def main() -> None:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", default="rram-256")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compensate-drift", action="store_true", help="global drift compensation on the chips")
    args = parser.parse_args()

    digits = load_digits()
    x = encode(digits.data, args.seed)
    labels = digits.target
    train = np.arange(len(labels)) < 1200
    config = RramConfig.from_target(load_target(args.target))
    graph = reservoir(config, seed=args.seed)
    mapping = compile_rram(graph, config)

    def fit(feats: np.ndarray):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return model.fit(feats[train], labels[train])

    def score(model, feats: np.ndarray) -> float:
        return float(model.score(feats[~train], labels[~train]))

    float_states = features(spikec.simulate(graph, x, dt_s=DT_S)["states"])
    ideal_states = features(simulate_rram(mapping, x, dt_s=DT_S, config=config.ideal())["states"])
    deployed = fit(ideal_states)
    print(f"target {config.name}: {mapping.crossbars.n_arrays} arrays, reservoir {graph.nodes['liquid'].tau.size} LIF, "
          f"{STEPS} steps, train 1200 / test {int((~train).sum())} digits")
    print(f"{'weights':<22}{'read-out from ideal':>20}{'retrained':>12}")
    print(f"{'float (unmapped)':<22}{score(fit(float_states), float_states):>20.3f}{'':>12}")
    print(f"{'ideal chip':<22}{score(deployed, ideal_states):>20.3f}{score(deployed, ideal_states):>12.3f}")
    for name, t_s in READ_TIMES_S.items():
        fixed, own = [], []
        for s in trial_seeds(args.seed, args.trials):
            run = simulate_rram(mapping, x, dt_s=DT_S, seed=s, t_s=t_s, compensate_drift=args.compensate_drift)
            states = features(run["states"])
            fixed.append(score(deployed, states))
            own.append(score(fit(states), states))
        print(f"{'devices, ' + name:<22}{np.mean(fixed):>13.3f} +- {np.std(fixed):.3f}{np.mean(own):>6.3f} +- {np.std(own):.3f}")


if __name__ == "__main__":
    main()
