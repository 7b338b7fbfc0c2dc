"""NeuroBench's metrics, computed from a graph and the activity a run recorded.

``neurobench`` 2.3.0 imports torchaudio, which does not load on these
machines, and it measures torch modules through hooks, not compiled
programs. So its published definitions are implemented here (NeuroBench
documentation, ``docs/metrics/`` of github.com/NeuroBench/neurobench, and
Yik et al., "The neurobench framework for benchmarking neuromorphic computing
algorithms and systems", Nature Communications 16, 1545 (2025)):

- **Synaptic operations** (workload): the average number per sample
  (inference) of synaptic operations, from the activations entering each
  connection and its fan-out synapses. *Dense* counts every (input, weight)
  pair at every step, zero or not (hardware without sparsity); *effective*
  operations count only pairs with a nonzero activation and a nonzero weight,
  i.e. ``sum_t 1[x_t != 0] . 1[W != 0]`` (NeuroBench binarises both and re-runs
  the layer). Effective operations on binary inputs (spikes) are accumulates
  (*Eff_ACs*), on graded inputs multiply-accumulates (*Eff_MACs*).
- **Activation sparsity** (workload): zero activations over all activations,
  summed over neuron layers, time steps and samples (0: every neuron always
  active, 1: silent). NeuroBench hooks spiking-neuron modules only, so the
  input encoding is not counted; nor are non-spiking read-outs here.
- **Connection sparsity** (static): zero weights over all weights.
- **Footprint** (static): bytes needed to represent the model: weights at
  their stored precision (zeros included), neuron parameters and state buffers.

Connections are the matrices from each source population (an Input or a
neuron layer) to each neuron layer, with stateless chains (Linear, Conv,
pooling) collapsed into one matrix (``compiler/linear_maps.py``): the
operations event-driven hardware performs. NeuroBench counts per torch
module; the two agree for plain Linear layers and differ for Conv -> pool
chains, where NeuroBench does not count pooling at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from ..compiler.linear_maps import layer_inputs
from ..ir import weights as wm
from ..ir.graph import Graph
from ..ir.nodes import NEURON_TYPES, LI, Integrator
from ..ir.shapes import infer_shapes


@dataclass(frozen=True)
class SynapticOperations:
    """Per sample (inference), summed over time steps and connections."""

    dense: float
    effective_macs: float
    effective_acs: float

    @property
    def effective(self) -> float:
        return self.effective_macs + self.effective_acs


@dataclass(frozen=True)
class Connection:
    """The matrix ``(n_target, n_source)`` from one population to a neuron layer."""

    source: str
    target: str
    weight: wm.Matrix  # dense, or CSR when large and sparse (ir/weights.py)


def connections(graph: Graph) -> list[Connection]:
    """Every (source population -> neuron layer) matrix of ``graph``, stateless chains collapsed."""
    inputs = layer_inputs(graph)
    found = []
    for target, projections in inputs.projections.items():
        if isinstance(graph.nodes[target], NEURON_TYPES):
            found.extend(Connection(p.source, target, p.matrix) for p in projections)
    return found


def is_binary(x: np.ndarray) -> bool:
    return bool(np.isin(x, (0, 1)).all())


def _flat(x: np.ndarray) -> np.ndarray:
    """``[T, B, *shape]`` -> ``[T, B, n]``."""
    x = np.asarray(x)
    return x.reshape(x.shape[0], x.shape[1], -1)


def synaptic_operations(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> SynapticOperations:
    """NeuroBench's Dense / Eff_MACs / Eff_ACs per sample.

    ``pairs``: (weight ``(n_out, n_in)``, activations entering it ``[T, B, n_in]``).
    Effective ops of one step = ``1[x != 0] @ 1[W != 0].T`` summed over outputs,
    i.e. each nonzero input counts its nonzero fan-out.
    """
    dense = macs = acs = 0.0
    for weight, x in pairs:
        x = _flat(x)
        steps, batch, n_in = x.shape
        nonzero_fan_out = wm.count_nonzero(weight, axis=0).astype(np.float64)  # per input
        effective = float(((x != 0).astype(np.float64) @ nonzero_fan_out).sum()) / batch
        dense += float(steps * weight.shape[0] * weight.shape[1])
        if is_binary(x):
            acs += effective
        else:
            macs += effective
    return SynapticOperations(dense, macs, acs)


def zero_fraction(arrays: Iterable[np.ndarray], *, empty: float) -> float:
    """Zero entries over all entries of ``arrays`` together (``empty`` when there are none)."""
    zeros = total = 0
    for a in arrays:
        a = np.asarray(a)
        zeros += int((a == 0).sum())
        total += a.size
    return zeros / total if total else empty


def activation_sparsity(activations: Iterable[np.ndarray]) -> float:
    """Zero entries over all entries of every layer's activations ``[T, B, ...]`` (1 when there are none)."""
    return zero_fraction(activations, empty=1.0)


def connection_sparsity(weights: Iterable[wm.Matrix]) -> float:
    """Zero weights over all weights (0 when there are none)."""
    zeros = total = 0
    for w in weights:
        size = int(np.prod(np.shape(w)))
        zeros += size - wm.count_nonzero(w)
        total += size
    return zeros / total if total else 0.0


def footprint_bytes(items: Iterable[tuple[int, float]]) -> int:
    """Bytes for ``(count, bits)`` items (weights, parameters, state), each rounded up to whole bytes."""
    return int(sum(int(np.ceil(count * bits / 8)) for count, bits in items))


def spiking_layers(graph: Graph) -> list[str]:
    """Neuron layers whose output is spikes (leaky integrators and integrators are read-outs)."""
    return [n for n, node in graph.items() if isinstance(node, NEURON_TYPES) and not isinstance(node, (LI, Integrator))]


def neuron_count(graph: Graph) -> int:
    """Neurons in all neuron layers (each is updated once per time step on every target here)."""
    shapes = infer_shapes(graph)  # not layer_inputs: that collapses every synaptic chain first
    return sum(int(np.prod(shapes[n][1])) for n, node in graph.items() if isinstance(node, NEURON_TYPES))


def run_metrics(graph: Graph, activity: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Per-sample workload metrics of one run.

    ``activity`` maps each source population (graph inputs and neuron layers)
    to what it emitted, ``[T, B, *shape]``: spikes, or values for read-outs.
    Returns synaptic operations (dense, Eff_ACs, Eff_MACs), spikes per sample
    (neuron layers, inputs excluded), and activation sparsity of the spiking layers.
    """
    conns = connections(graph)
    ops = synaptic_operations((c.weight, activity[c.source]) for c in conns)
    spiking = spiking_layers(graph)
    batch = next(iter(activity.values())).shape[1]
    spikes = sum(float(np.asarray(activity[n]).sum()) for n in spiking) / batch
    return {
        "synops_dense": ops.dense, "synops_effective": ops.effective, "eff_acs": ops.effective_acs,
        "eff_macs": ops.effective_macs, "spikes": spikes,
        "activation_sparsity": activation_sparsity(activity[n] for n in spiking),
    }


def static_metrics(graph: Graph, weight_bits: float = 32, parameter_bits: float = 32) -> dict[str, float]:
    """Connection sparsity and footprint of ``graph`` with weights and neuron parameters/state at the given precision.

    Neuron parameters and state: every array field of each neuron node (tau,
    threshold, ...) plus one state variable per neuron (two for CubaLIF).
    """
    conns = connections(graph)
    weights = sum(int(np.prod(c.weight.shape)) for c in conns)
    params = 0
    for n, node in graph.items():
        if isinstance(node, NEURON_TYPES):
            arrays = [v for v in vars(node).values() if isinstance(v, np.ndarray)]
            size = max((a.size for a in arrays), default=1)
            params += sum(a.size for a in arrays) + size * (2 if type(node).__name__ == "CubaLIF" else 1)
    return {
        "connection_sparsity": connection_sparsity(c.weight for c in conns),
        "footprint_bytes": footprint_bytes([(weights, weight_bits), (params, parameter_bits)]),
        "weights": weights,
    }


__all__ = [
    "Connection", "SynapticOperations", "activation_sparsity", "connection_sparsity", "connections",
    "footprint_bytes", "is_binary", "neuron_count", "run_metrics", "spiking_layers", "static_metrics", "synaptic_operations",
]
