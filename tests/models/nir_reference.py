"""The framework run for bare NIR graphs: NIRTorch's own graph executor (``nirtorch.nir_to_torch``).

NIRTorch wires the graph (sums of edges meeting at a node, nested subgraphs,
back edges carrying the previous step's output); the neuron nodes are torch
modules written here from NIR's node equations (``nir/ir/neuron.py``),
discretised by forward Euler at ``dt`` with the current first, as snnTorch's
and Norse's NIR importers step them, strict ``>`` thresholds, and the reset mode
stated for the graph (NIR has none). Two of NIRTorch 2.6's default maps are
replaced: its Affine drops the bias (``module.weight.bias = ...``), and its
Flatten takes NIR's batch-free ``start_dim`` as torch's. Runs in float64.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

import nir
import nirtorch


def _t(a: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


class Neuron(torch.nn.Module):
    """LIF, CubaLIF, IF, LI or I as one module: ``forward(x, state) -> (out, state)``."""

    def __init__(self, node: Any, dt: float, reset: str) -> None:
        super().__init__()
        self.kind, self.dt, self.reset = type(node).__name__, dt, reset
        self.p = {k: _t(v) for k, v in vars(node).items()
                  if k not in ("input_type", "output_type", "metadata") and v is not None}

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        p, dt = self.p, self.dt
        v, i = (torch.zeros_like(x), torch.zeros_like(x)) if state is None else state
        if self.kind == "CubaLIF":
            i = i + dt / p["tau_syn"] * (-i + p.get("w_in", torch.tensor(1.0)) * x)
            v = v + dt / p["tau_mem"] * (p["v_leak"] - v + p["r"] * i)
        elif self.kind in ("LIF", "LI"):
            v = v + dt / p["tau"] * (p["v_leak"] - v + p["r"] * x)
        elif self.kind in ("IF", "I"):
            v = v + p["r"] * x
        else:  # pragma: no cover - corpus graphs only use the above
            raise NotImplementedError(self.kind)
        if self.kind in ("LI", "I"):
            return v, (v, i)
        z = (v > p["v_threshold"]).to(v.dtype)
        if self.reset == "subtract":
            v = v - z * p["v_threshold"]
        else:
            v = torch.where(z > 0, p.get("v_reset", torch.zeros_like(v)) * torch.ones_like(v), v)
        return z, (v, i)


class Delay(torch.nn.Module):
    """``y[t] = x[t - rint(delay/dt)]`` per element, from a ring of past inputs."""

    def __init__(self, node: nir.Delay, dt: float) -> None:
        super().__init__()
        self.d = torch.as_tensor(np.rint(np.asarray(node.delay, dtype=np.float64) / dt).astype(np.int64))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        depth = int(self.d.max()) + 1
        ring = torch.zeros((depth, *x.shape), dtype=x.dtype) if state is None else state
        ring = torch.cat([x[None], ring[:-1]])  # ring[k] = x[t - k]
        idx = self.d.expand(x.shape)[None]
        return torch.gather(ring, 0, idx)[0], ring


class Affine(torch.nn.Module):
    def __init__(self, node: Any) -> None:
        super().__init__()
        self.w = _t(node.weight)
        self.b = _t(node.bias) if isinstance(node, nir.Affine) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.w.T
        return y if self.b is None else y + self.b


class Flatten(torch.nn.Module):
    def __init__(self, node: nir.Flatten) -> None:
        super().__init__()
        self.start = node.start_dim + 1 if node.start_dim >= 0 else node.start_dim
        self.end = node.end_dim + 1 if node.end_dim >= 0 else node.end_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, self.start, self.end)


class SumPool2d(torch.nn.Module):
    def __init__(self, node: nir.SumPool2d) -> None:
        super().__init__()
        self.k = tuple(int(k) for k in np.broadcast_to(node.kernel_size, 2))
        self.s = tuple(int(s) for s in np.broadcast_to(node.stride, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, self.k, self.s) * (self.k[0] * self.k[1])


def torch_module(graph: nir.NIRGraph, dt: float, reset: str = "zero") -> torch.nn.Module:
    neuron = lambda node: Neuron(node, dt, reset)  # noqa: E731
    node_map = {nir.LIF: neuron, nir.CubaLIF: neuron, nir.IF: neuron, nir.LI: neuron, nir.I: neuron,
                nir.Delay: lambda node: Delay(node, dt), nir.Affine: Affine, nir.Linear: Affine,
                nir.Flatten: Flatten, nir.SumPool2d: SumPool2d}
    return nirtorch.nir_to_torch(graph, node_map, dtype=torch.float64)


def run(graph: nir.NIRGraph, x: np.ndarray, dt: float, reset: str = "zero") -> np.ndarray:
    """Step the graph one frame at a time from zero state; ``x`` is ``[T, B, *frame]``."""
    module = torch_module(graph, dt, reset)
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            xt = torch.as_tensor(np.asarray(x[t], dtype=np.float64))
            y, state = module(xt) if state is None else module(xt, state)
            out.append(y.numpy())
    return np.stack(out).astype(np.float64)
