"""Train one digits model (snnTorch or Norse), convert it with spikec's frontend and save it.

Writes, into ``--out`` (default ``examples/digits/models``):
``<framework>.nir`` (the spikec graph, ``spikec.save_nir``), ``test_set.npz``
(the encoded held-out set, shared by both models) and ``<framework>.json``
(hyper-parameters, torch's test accuracy and predictions, and how many of the
float reference's predictions differ from torch's). Every random choice is
seeded: the split, the test encoding, a fresh training encoding per epoch,
weight initialisation and batch order.

    python examples/digits/train.py --framework snntorch
    python examples/digits/train.py --framework norse
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import spikec

try:  # run as a script (python examples/digits/train.py) or imported from the tests
    from . import data, models, readout
except ImportError:  # pragma: no cover
    import data, models, readout  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
DT_S = {"snntorch": 1e-4, "norse": 1e-3}  # each frontend's own convention
TEST_SEED = 12345


def train(framework: str, split: data.DigitsSplit, *, epochs: int, hidden: int, lr: float, seed: int,
          batch: int = 64, log=print) -> torch.nn.Module:
    """Backpropagation through time with Adam; cross-entropy on ``models.logits``."""
    net = models.snntorch_net(hidden, seed) if framework == "snntorch" else models.norse_net(hidden, seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    y = torch.as_tensor(split.train_labels)
    for epoch in range(epochs):
        x = torch.as_tensor(data.rate_encode(split.train_images, seed=seed * 1000 + epoch), dtype=torch.float32)
        order, correct, total_loss = rng.permutation(len(y)), 0, 0.0
        for i in range(0, len(order), batch):
            idx = torch.as_tensor(order[i:i + batch])
            out = models.logits(models.step_through(net, framework, x[:, idx]), framework)
            loss = torch.nn.functional.cross_entropy(out, y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((out.argmax(-1) == y[idx]).sum())
        log(f"  epoch {epoch + 1:2d}: loss {total_loss / len(y):.3f}, train accuracy {correct / len(y):.3f}")
    return net


def export(net: torch.nn.Module, framework: str) -> spikec.Graph:
    sample = torch.zeros(models.N_IN)
    convert = spikec.from_snntorch if framework == "snntorch" else spikec.from_norse
    return convert(net, sample, dt_s=DT_S[framework])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--framework", choices=["snntorch", "norse"], required=True)
    parser.add_argument("--out", type=Path, default=HERE / "models")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-subset", type=int, default=None, help="train on the first N training images only")
    parser.add_argument("--test-subset", type=int, default=None, help="keep the first N test images only")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    fw = args.framework
    epochs = args.epochs if args.epochs is not None else {"snntorch": 10, "norse": 10}[fw]
    lr = {"snntorch": 5e-3, "norse": 5e-3}[fw]
    split = data.load_split()
    if args.train_subset:
        split = data.DigitsSplit(split.train_images[:args.train_subset], split.train_labels[:args.train_subset],
                                 split.test_images, split.test_labels)
    test_images, test_labels = split.test_images[:args.test_subset], split.test_labels[:args.test_subset]
    start = time.perf_counter()
    print(f"training {fw} on {len(split.train_labels)} digits, {epochs} epochs, hidden {args.hidden}")
    net = train(fw, split, epochs=epochs, hidden=args.hidden, lr=lr, seed=args.seed)
    seconds = time.perf_counter() - start
    test_spikes = data.rate_encode(test_images, seed=TEST_SEED)
    torch_pred = readout.predict(models.torch_outputs(net, fw, test_spikes), models.readout_kind(fw))
    graph = export(net, fw)
    (ref,) = spikec.simulate(graph, test_spikes.astype(np.float64), DT_S[fw]).values()
    ref_pred = readout.predict(ref, models.readout_kind(fw))
    args.out.mkdir(parents=True, exist_ok=True)
    spikec.save_nir(graph, args.out / f"{fw}.nir")
    data.save_test_set(str(args.out / "test_set.npz"), test_spikes, test_labels, seed=TEST_SEED, max_rate=data.MAX_RATE)
    summary = {
        "framework": fw, "hidden": args.hidden, "epochs": epochs, "lr": lr, "seed": args.seed, "steps": data.STEPS,
        "max_rate": data.MAX_RATE, "dt_s": DT_S[fw], "readout": models.readout_kind(fw), "train_seconds": round(seconds, 1),
        "train_size": int(len(split.train_labels)), "test_size": int(len(test_labels)),
        "torch_test_accuracy": readout.accuracy(torch_pred, test_labels),
        "float_reference_test_accuracy": readout.accuracy(ref_pred, test_labels),
        "predictions_differing_torch_vs_reference": int((torch_pred != ref_pred).sum()),
        "torch_predictions": torch_pred.tolist(),
    }
    (args.out / f"{fw}.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{fw}: trained in {seconds:.0f} s; test accuracy torch {summary['torch_test_accuracy']:.4f}, "
          f"float reference {summary['float_reference_test_accuracy']:.4f}, "
          f"{summary['predictions_differing_torch_vs_reference']} of {len(test_labels)} predictions differ")
    return summary


if __name__ == "__main__":
    main()
