"""Decoding a class from the output layer, the same way for torch, the float reference and every target.

Spiking outputs (snnTorch model): the class with the most output spikes over
the presentation. Non-spiking read-outs (the Norse model's leaky integrator):
the class whose membrane reaches the highest value over the presentation.
Ties go to the lowest index (``numpy.argmax``), in every backend alike.
"""
from __future__ import annotations

import numpy as np


def predict(outputs: np.ndarray, kind: str) -> np.ndarray:
    """Class per sample from an output array ``[T, B, classes]``; ``kind`` is ``"spikes"`` or ``"membrane"``."""
    if kind == "spikes":
        return np.argmax(outputs.sum(axis=0), axis=-1)
    if kind == "membrane":
        return np.argmax(outputs.max(axis=0), axis=-1)
    raise ValueError(f"unknown read-out kind {kind!r} (spikes or membrane)")


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))
