"""A torch layer with a learnable delay per synapse, and its spikec form (``DelayLinear``).

``SynapticDelayLinear(in_features, out_features, max_delay_steps)`` computes,
one time step per call (as snnTorch's neurons do),
``y_o[t] = sum_i W[o, i] x_i[t - d[o, i]]`` with ``d = max_delay_steps *
sigmoid(delay_logit)`` steps, a real number per synapse. Training needs a
gradient in ``d``: as in DCLS (dilated convolutions with learnable spacings)
the delay is an interpolation kernel over the past inputs, here the triangle
``max(0, 1 - |k - d|)`` over taps k = 0..max_delay (linear interpolation between
the two whole steps around d). In ``eval()`` mode the kernel is the single tap
``round(d)`` (round half to even, torch's and the IR's rule), which is what the
hardware runs: ``spikec.simulate`` on the converted graph equals the layer's
eval forward step for step.

``delay_linear_node(layer, dt_s)`` is the spikec ``DelayLinear`` (weights, delay
in seconds ``d * dt_s``, the learned real value: the delay quantisation pass
reports what rounding costs); ``from_snntorch`` converts the layer inside an
snnTorch network (``frontends/snntorch.py``).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..ir.nodes import DelayLinear


class SynapticDelayLinear(torch.nn.Module):
    """A linear layer whose every synapse has its own learnable delay (steps, 0..max_delay_steps)."""

    def __init__(self, in_features: int, out_features: int, max_delay_steps: int, *, seed: int = 0) -> None:
        super().__init__()
        if max_delay_steps < 0:
            raise ValueError("max_delay_steps must be >= 0")
        generator = torch.Generator().manual_seed(seed)
        bound = 1.0 / math.sqrt(in_features)
        self.in_features, self.out_features, self.max_delay_steps = in_features, out_features, int(max_delay_steps)
        self.weight = torch.nn.Parameter((torch.rand(out_features, in_features, generator=generator) * 2 - 1) * bound)
        self.delay_logit = torch.nn.Parameter(torch.randn(out_features, in_features, generator=generator))
        self._history: list[torch.Tensor] = []

    def delay_steps(self) -> torch.Tensor:
        """The per-synapse delay in (real) steps, in [0, max_delay_steps]."""
        return self.max_delay_steps * torch.sigmoid(self.delay_logit)

    def kernel(self) -> torch.Tensor:
        """[out, in, max_delay + 1]: tap weights over the last inputs (eval: one-hot at round(d))."""
        taps = torch.arange(self.max_delay_steps + 1, dtype=self.weight.dtype)
        d = self.delay_steps()[..., None]
        if self.training:
            return torch.clamp(1 - torch.abs(taps - d), min=0)
        return (taps == torch.round(d)).to(self.weight.dtype)

    def reset(self) -> None:
        """Forget past inputs (call between sequences)."""
        self._history = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step: ``x`` [B, in] -> [B, out], using the inputs of the last ``max_delay`` calls."""
        if self._history and self._history[0].shape != x.shape:
            self.reset()
        self._history = ([x] + self._history)[: self.max_delay_steps + 1]
        past = torch.stack(self._history + [torch.zeros_like(x)] * (self.max_delay_steps + 1 - len(self._history)))
        return torch.einsum("oik,kbi->bo", self.weight[..., None] * self.kernel(), past)


def delay_linear_node(layer: SynapticDelayLinear, dt_s: float, metadata: dict[str, Any] | None = None) -> DelayLinear:
    """The layer as spikec's ``DelayLinear``: weights and delays in seconds (``d * dt_s``)."""
    with torch.no_grad():
        weight = layer.weight.detach().double().numpy()
        delay = layer.delay_steps().detach().double().numpy() * dt_s
    return DelayLinear(weight=np.array(weight), delay=np.array(delay), metadata=metadata or {})
