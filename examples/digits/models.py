"""The two networks, 64 -> hidden -> 10, and how each framework steps them through time.

- snnTorch: ``Linear -> Leaky -> Linear -> Leaky`` (beta 0.9, subtractive reset,
  snnTorch's default delayed reset), read out by output spike counts.
- Norse: ``Linear -> LIFCell -> Linear -> LIBoxCell`` (a current-based LIF
  hidden layer with Norse's default time constants, 5 ms synapse and 10 ms
  membrane at 1 ms steps, and a leaky-integrator read-out), read out by the
  maximum membrane over time.

Linear layers have no bias: on event-driven hardware a bias is a constant
input every neuron integrates every step, and Loihi cannot reproduce a
CubaLIF bias's ramp-up (docs/semantics.md section 3). Both are trained by
backpropagation through time with the frameworks' surrogate gradients.
"""
from __future__ import annotations

import numpy as np
import torch

N_IN, N_CLASSES = 64, 10


def snntorch_net(hidden: int = 128, seed: int = 0) -> torch.nn.Module:
    import snntorch as snn

    torch.manual_seed(seed)
    neuron = dict(beta=0.9, init_hidden=True, reset_mechanism="subtract")
    return torch.nn.Sequential(
        torch.nn.Linear(N_IN, hidden, bias=False), snn.Leaky(**neuron),
        torch.nn.Linear(hidden, N_CLASSES, bias=False), snn.Leaky(output=True, **neuron),
    )


def norse_net(hidden: int = 128, seed: int = 0) -> torch.nn.Module:
    import norse.torch as nt

    torch.manual_seed(seed)
    first = torch.nn.Linear(N_IN, hidden, bias=False)
    with torch.no_grad():  # Norse's membrane sees dt*tau_mem_inv = 0.1 of its current: start with larger weights
        first.weight.mul_(8.0)
    return nt.SequentialState(first, nt.LIFCell(), torch.nn.Linear(hidden, N_CLASSES, bias=False), nt.LIBoxCell())


def _reset_snntorch(net: torch.nn.Module) -> None:
    import snntorch as snn

    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            for state in ("mem", "syn", "spk"):
                if hasattr(m, state):
                    setattr(m, state, torch.zeros(0))


def step_through(net: torch.nn.Module, framework: str, x: torch.Tensor) -> torch.Tensor:
    """The output layer's trace ``[T, B, 10]`` for input ``[T, B, 64]``, from zero state."""
    out = []
    if framework == "snntorch":
        _reset_snntorch(net)
        for t in range(x.shape[0]):
            y = net(x[t])
            out.append(y[0] if isinstance(y, tuple) else y)
    else:
        state = None
        for t in range(x.shape[0]):
            y, state = net(x[t], state)
            out.append(y)
    return torch.stack(out)


def logits(trace: torch.Tensor, framework: str) -> torch.Tensor:
    """What the loss sees: spike counts (snnTorch) or the peak membrane (Norse), as ``readout.predict`` decodes."""
    return trace.sum(dim=0) if framework == "snntorch" else trace.max(dim=0).values


def readout_kind(framework: str) -> str:
    return "spikes" if framework == "snntorch" else "membrane"


def torch_outputs(net: torch.nn.Module, framework: str, spikes: np.ndarray, batch: int = 256) -> np.ndarray:
    """The trained model's output traces on a whole encoded set, float64 ``[T, n, 10]``."""
    parts = []
    with torch.no_grad():
        for i in range(0, spikes.shape[1], batch):
            parts.append(step_through(net, framework, torch.as_tensor(spikes[:, i:i + batch], dtype=torch.float32)).numpy())
    return np.concatenate(parts, axis=1).astype(np.float64)
