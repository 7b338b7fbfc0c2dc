"""snnTorch -> spikec Graph, meaning what the torch module computes.

snnTorch 1.0.0 steps (``_neurons/leaky.py``, ``synaptic.py``, ``rleaky.py``,
``rsynaptic.py``), with ``r_t = H(mem_{t-1} - thr)`` the reset owed by the
previous step and ``H(u) = u > 0``::

    Leaky       mem = beta mem + x                    (- r_t thr | zero: mem_{t-1} zeroed first)
    Synaptic    syn = alpha syn + x;  mem = beta mem + syn   (- r_t thr | zero: mem = 0 if r_t)
    RLeaky      x  += recurrent(spk_{t-1}) (an nn.Linear with bias, a Conv2d, or V * spk)
    spike       spk = H(mem - thr)

With ``dt`` (default 1e-4 s, the exporter's): ``tau = dt / (1 - beta)``,
``r = tau / dt``; ``tau_syn = dt / (1 - alpha)``, ``w_in = tau_syn / dt``; under
spikec's forward Euler that is exactly ``beta v + x`` and ``alpha I + x``.

What snnTorch's exporter gets wrong, and what we do instead (docs/frontends.md):

* it fails on scalar parameters (NIR wants one shape): we broadcast;
* it drops ``reset_mechanism`` and ``reset_delay``: we read them from the module
  and store them on our LIF/CubaLIF (NIR node metadata ``spikec.reset``, ...);
* it does not clamp beta/alpha to [0, 1] as the neurons do: we clamp;
* ``Leaky`` with ``reset_mechanism="zero"`` and the default ``reset_delay=True``
  zeroes the *previous* membrane before adding the input, so no input is lost and
  its spikes equal those of an immediate reset to zero: we write
  ``reset_delay=False`` (the other zero-reset neurons do lose the input, which is
  what spikec's delayed zero reset means);
* ``RSynaptic(reset_delay=False)`` computes its immediate reset into a local
  variable and discards it (and crashes with ``init_hidden=True``): it resets
  one step late like ``reset_delay=True``, so we write ``reset_delay=True``;
* a recurrent ``nn.Linear``'s bias is added at step 0 too (``recurrent(0) = b``),
  while a back edge carries zero at step 0: we move that bias onto the
  feed-forward synapse in front of the neuron, which adds it at every step.
"""
from __future__ import annotations

from typing import Any

import nir
import numpy as np
import torch

from ..ir.errors import GraphError
from ..ir.graph import Graph
from ..ir.nir_io import RESET_DELAY_KEY, RESET_KEY, RESET_RECHECK_KEY
from ..ir.nir_io import _delay_linear_branches as delay_linear_branches
from ..ir.nodes import Affine, Conv2d, Linear
from .delay_layers import SynapticDelayLinear, delay_linear_node
from .torch_trace import STANDARD_LAYERS, as_numpy, map_standard_layer, same_shape, trace_to_graph, unsupported

SUPPORTED = (
    *STANDARD_LAYERS, "snntorch.Leaky", "snntorch.Synaptic",
    "snntorch.RLeaky", "snntorch.RSynaptic", "spikec SynapticDelayLinear",
)
_RESET_NAMES = {0: "subtract", 1: "zero"}


def _reset_mode(neuron: Any, name: str) -> str:
    mode = _RESET_NAMES.get(int(neuron.reset_mechanism_val))
    if mode is None:
        raise GraphError(
            "reset_mechanism 'none' has no spikec equivalent (NIR neurons always reset)",
            node=name, parameter="reset_mechanism", value="none",
        )
    return mode


def _check_plain_neuron(neuron: Any, name: str) -> None:
    """Reject the options whose forward pass is not a LIF/CubaLIF."""
    if neuron.inhibition:
        raise GraphError("inhibition=True (winner-take-all) is not supported", node=name, parameter="inhibition", value=True)
    if neuron.state_quant:
        raise GraphError("state_quant is not supported (quantise at compile time instead)", node=name, parameter="state_quant")
    gsf = as_numpy(neuron.graded_spikes_factor)
    if np.any(gsf != 1.0):
        raise GraphError(
            "graded_spikes_factor must be 1 (spikes are 0/1 in NIR)",
            node=name, parameter="graded_spikes_factor", value=float(gsf.ravel()[0]), limit=1.0,
        )


def _decay_to_tau(decay: Any, dt_s: float, name: str, parameter: str) -> tuple[np.ndarray, np.ndarray]:
    """(tau, gain) with tau = dt / (1 - decay), gain = tau / dt; decay clamped to [0, 1] like snnTorch."""
    d = np.clip(as_numpy(decay), 0.0, 1.0)
    if np.any(d >= 1.0):
        raise GraphError(
            f"{parameter} = 1 means no leak (tau = infinity), which a leaky neuron cannot express",
            node=name, parameter=parameter, value=1.0, limit="< 1",
        )
    tau_s = dt_s / (1.0 - d)
    return tau_s, 1.0 / (1.0 - d)


def _reset_metadata(neuron: Any, name: str, *, kind: str) -> dict[str, Any]:
    mode = _reset_mode(neuron, name)
    delay = bool(neuron.reset_delay)
    if kind == "Leaky" and mode == "zero":
        delay = False  # spike-equivalent: snnTorch zeroes mem_{t-1}, before the input
    if kind == "RSynaptic":
        delay = True  # snnTorch 1.0.0 discards RSynaptic's immediate reset
    # snnTorch's immediate subtraction spikes on mem - thr*H(mem_{t-1} - thr) > thr ("avoid double reset").
    recheck = mode == "subtract" and not delay
    return {RESET_KEY: mode, RESET_DELAY_KEY: delay, RESET_RECHECK_KEY: recheck}


def _lif_node(neuron: Any, name: str, dt_s: float, kind: str) -> Any:
    _check_plain_neuron(neuron, name)
    tau_s, r = _decay_to_tau(neuron.beta, dt_s, name, "beta")
    p = same_shape(tau=tau_s, r=r, v_threshold=neuron.threshold, v_leak=0.0, v_reset=0.0)
    return nir.LIF(**p, metadata=_reset_metadata(neuron, name, kind=kind))


def _cuba_lif_node(neuron: Any, name: str, dt_s: float, kind: str) -> Any:
    _check_plain_neuron(neuron, name)
    tau_mem_s, r = _decay_to_tau(neuron.beta, dt_s, name, "beta")
    tau_syn_s, w_in = _decay_to_tau(neuron.alpha, dt_s, name, "alpha")
    p = same_shape(
        tau_syn=tau_syn_s, tau_mem=tau_mem_s, r=r, w_in=w_in, v_threshold=neuron.threshold, v_leak=0.0, v_reset=0.0,
    )
    return nir.CubaLIF(**p, metadata=_reset_metadata(neuron, name, kind=kind))


def _recurrent_synapse(neuron: Any, name: str) -> Any:
    if neuron.all_to_all:
        node = map_standard_layer(neuron.recurrent, name + ".recurrent")
        if node is None:
            raise unsupported(neuron.recurrent, "snnTorch", SUPPORTED)
        return node
    return nir.Scale(scale=as_numpy(neuron.recurrent.V))


def _recurrent_subgraph(neuron: Any, name: str, dt_s: float, kind: str) -> Any:
    lif = _lif_node(neuron, name, dt_s, kind) if kind == "RLeaky" else _cuba_lif_node(neuron, name, dt_s, kind)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=None), "lif": lif, "w_rec": _recurrent_synapse(neuron, name), "output": nir.Output(output_type=None)},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False,
    )


def _module_map(dt_s: float, names: dict[int, str]):
    import snntorch as snn

    def to_nir(module: torch.nn.Module) -> Any:
        name = names.get(id(module), type(module).__name__)
        if isinstance(module, snn.RLeaky):
            return _recurrent_subgraph(module, name, dt_s, "RLeaky")
        if isinstance(module, snn.RSynaptic):
            return _recurrent_subgraph(module, name, dt_s, "RSynaptic")
        if isinstance(module, snn.Synaptic):
            return _cuba_lif_node(module, name, dt_s, "Synaptic")
        if isinstance(module, snn.Leaky):
            return _lif_node(module, name, dt_s, "Leaky")
        if isinstance(module, SynapticDelayLinear):
            return delay_linear_subgraph(module, name, dt_s)
        node = map_standard_layer(module, name)
        if node is None:
            raise unsupported(module, "snnTorch", SUPPORTED)
        return node

    return to_nir


def delay_linear_subgraph(layer: SynapticDelayLinear, name: str, dt_s: float) -> Any:
    """A per-synapse-delay layer as NIR's marked ``Delay -> Linear`` branches (fused back into a DelayLinear)."""
    branches = delay_linear_branches(name, delay_linear_node(layer, dt_s))
    edges = [e for k in branches if k.startswith(name + ".delay")
             for e in (("input", k), (k, k.replace(".delay", ".weight")), (k.replace(".delay", ".weight"), "output"))]
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=None), **branches, "output": nir.Output(output_type=None)},
                        edges=edges, type_check=False)


def _prepare_for_trace(net: torch.nn.Module) -> None:
    """Make the copy traceable: RSynaptic(reset_delay=False) crashes in forward with init_hidden."""
    import snntorch as snn

    for m in net.modules():
        if isinstance(m, snn.RSynaptic):
            m.reset_delay = True


def fold_recurrent_biases(graph: Graph) -> Graph:
    """Move each recurrent synapse's bias onto the synapse feeding the same neuron.

    snnTorch adds ``recurrent(spk_{t-1})`` from step 0, where it equals the bias;
    spikec's back edge carries zero at step 0. A bias on the only feed-forward
    synapse (an Affine/Linear/Conv2d used by this neuron alone) is added at every
    step including 0, so the sum is the same at every step.
    """
    _, back = graph.execution_order()
    changes = {}
    for src, dst in back:
        rec = graph.nodes[src]
        if not isinstance(rec, (Affine, Conv2d)) or not np.any(rec.bias):
            continue
        forward = [p for p in graph.predecessors(dst) if (p, dst) not in back]
        if len(forward) != 1 or graph.successors(forward[0]) != (dst,):
            continue
        ff = changes.get(forward[0], graph.nodes[forward[0]])
        if isinstance(ff, Linear):
            ff = Affine(weight=ff.weight, bias=np.zeros(ff.weight.shape[0]), metadata=ff.metadata)
        if not isinstance(ff, (Affine, Conv2d)) or np.shape(ff.bias) != np.shape(rec.bias):
            continue
        changes[forward[0]] = ff.replace(bias=ff.bias + rec.bias)
        changes[src] = (
            Linear(weight=rec.weight, metadata=rec.metadata) if isinstance(rec, Affine)
            else rec.replace(bias=np.zeros_like(rec.bias))
        )
    return graph.replace_nodes(changes) if changes else graph


def from_snntorch(module: torch.nn.Module, sample: torch.Tensor, *, dt_s: float = 1e-4) -> Graph:
    """A normalised Graph computing what ``module`` computes, step for step.

    ``module`` is called once per time step with one frame (``init_hidden=True``
    neurons, as snnTorch's exporter expects); ``sample`` is one frame WITHOUT
    batch or time dimension. ``dt_s`` only sets the time constants' scale:
    under spikec's semantics at the same ``dt_s`` the graph is exact for any value
    (default 1e-4 s, what snnTorch's own exporter writes). The module is not
    modified (tracing runs on a copy).
    """
    import snntorch as snn

    if not dt_s > 0:
        raise GraphError(f"dt_s must be positive, got {dt_s!r}", parameter="dt_s", value=dt_s)
    names = {id(m): n for n, m in module.named_modules()}
    # the map sees the traced copy: name it through the copy's own modules
    def prepare(net: torch.nn.Module) -> None:
        names.clear()
        names.update({id(m): n for n, m in net.named_modules()})
        _prepare_for_trace(net)

    graph = trace_to_graph(
        module, sample, _module_map(dt_s, names), ignore_submodules_of=[snn.RLeaky, snn.RSynaptic],
        leaf_types=(snn.SpikingNeuron, SynapticDelayLinear), prepare=prepare, metadata={"dt_s": dt_s, "frontend": "snntorch"},
    )
    return fold_recurrent_biases(graph)
