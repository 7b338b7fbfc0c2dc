"""The digits data set as spike trains: a fixed train/test split and a seeded rate code.

scikit-learn's 8x8 digits (1797 images, pixel values 0..16) ship with the
package, so the example runs offline. Each pixel becomes a Bernoulli spike
train of ``steps`` steps with probability ``intensity/16 * max_rate`` per
step (rate coding): the brightest pixels fire every other step at the default
``max_rate = 0.5``, so the input stays sparse and binary, which every target
accepts (Loihi and SpiNNaker take only spikes). The split and every encoding
take a seed, so the same call gives the same arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS = 25
MAX_RATE = 0.5
SPLIT_SEED = 0
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DigitsSplit:
    """Images scaled to [0, 1] (n, 64) and labels, split once by seed."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def load_split(seed: int = SPLIT_SEED, test_fraction: float = TEST_FRACTION) -> DigitsSplit:
    """A stratified split of the 1797 digits (the same for the same seed)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.data.astype(np.float64) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=test_fraction, random_state=seed, stratify=digits.target)
    return DigitsSplit(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64))


def rate_encode(images: np.ndarray, seed: int, steps: int = STEPS, max_rate: float = MAX_RATE) -> np.ndarray:
    """Binary spikes ``[steps, n, 64]`` (uint8): pixel p spikes with probability ``p * max_rate`` each step."""
    rng = np.random.default_rng(seed)
    p = np.clip(images, 0.0, 1.0) * max_rate
    return (rng.random((steps, *p.shape)) < p).astype(np.uint8)


def save_test_set(path: str, spikes: np.ndarray, labels: np.ndarray, *, seed: int, max_rate: float) -> None:
    """The encoded held-out set, so evaluation needs neither scikit-learn nor torch."""
    np.savez_compressed(path, spikes=spikes.astype(np.uint8), labels=labels.astype(np.int64),
                        seed=np.int64(seed), max_rate=np.float64(max_rate))


def load_test_set(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(spikes ``[T, n, 64]`` as float64 0/1, labels ``[n]``)."""
    with np.load(path) as data:
        return data["spikes"].astype(np.float64), data["labels"]
