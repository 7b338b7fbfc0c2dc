"""The frameworks' own forward passes, stepped one frame at a time: what spikec's outputs are compared with.

One copy for every test (the frontend tests, the neuron tests, float32 mode and the model corpus).
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: snnTorch hidden states (Leaky/Synaptic/Alpha) cleared before a run, so every run starts from zero
SNNTORCH_STATES = ("mem", "syn", "spk", "syn_exc", "syn_inh")


def step_snntorch(net: Any, x: np.ndarray, *, take: int = 0, dtype: Any = np.float64) -> np.ndarray:
    """Step an ``init_hidden=True`` snnTorch network over ``x`` ([T, ...]) from zero state.

    An ``output=True`` last layer returns ``(spk, mem, ...)``: ``take`` picks one (1 for the membrane).
    """
    import snntorch as snn
    import torch

    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            for state in SNNTORCH_STATES:
                if hasattr(m, state):
                    setattr(m, state, torch.zeros(0))
    out = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            y = net(torch.as_tensor(x[t], dtype=torch.float32))
            out.append((y[take] if isinstance(y, tuple) else y).numpy())
    return np.stack(out).astype(dtype)


def step_norse(net: Any, x: np.ndarray, *, dtype: Any = np.float64) -> np.ndarray:
    """Step a Norse module (``forward(x, state) -> (y, state)``) over ``x`` ([T, ...]) from no state."""
    import torch

    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = net(torch.as_tensor(x[t]), state)
            out.append(y.numpy())
    return np.stack(out).astype(dtype)
