"""Norse -> spikec Graph, meaning what the ``SequentialState`` computes.

Norse 1.1.0 feed-forward cells, one step at the cell's own ``dt``
(``norse/torch/functional/lif_box.py``, ``lif.py``, ``leaky_integrator*.py``)::

    LIFBoxCell  v += dt tau_mem_inv (v_leak - v + x); z = H(v - v_th); reset_method(z, v)
    LIFCell     i += x; v += dt tau_mem_inv (v_leak - v + i); i -= dt tau_syn_inv i;
                z = H(v - v_th); v = v_reset where z
    LIBoxCell   v += dt tau_mem_inv (v_leak - v + x)             (outputs v)
    LICell      i += x; v += dt tau_mem_inv (v_leak - v + i); i -= dt tau_syn_inv i
    LIFRecurrentCell  as LIFCell with i += W_in x + W_rec z_{t-1} (lif_step; no bias)
    IAFCell     v += x; z = H(v - v_th); v = v_reset where z
    LIF, LIFRecurrent, IAF, LI: the cells looped over the sequence's first dimension

Under spikec's forward Euler at ``dt_s`` these are, exactly:

* LIFBoxCell -> LIF(tau = dt_s / (dt tau_mem_inv), r = 1), reset "zero" for
  ``reset_value`` and "subtract" for ``reset_subtract``;
* LIFCell -> CubaLIF(tau_syn = dt_s / (dt tau_syn_inv), w_in = tau_syn / dt_s, r = 1):
  spikec's ``I += dt/tau_syn (-I + w_in x)`` is then ``I = (1 - dt tau_syn_inv) I + x``,
  Norse's jumped current, which the membrane sees in the same step;
* LIBoxCell -> LI(tau, r = 1);
* LICell -> LI(tau_syn, r = tau_syn / dt_s) -> LI(tau_mem, r = 1): the current is
  itself a leaky integrator of x with unit jumps; LILinearCell puts a Linear in front;
* LIFRecurrentCell -> Linear(W_in) -> CubaLIF, with a Linear(W_rec) back edge;
* IAFCell -> IF(r = 1), zero reset to v_reset.

LSNN (adaptive threshold), LIFAdEx/LIFEx (exponential term), Izhikevich (quadratic),
LIFRefrac (refractory counter), CobaLIF (conductances), LIFMC (membrane coupling) and
LIFCorrelation are refused (``REFUSED``) naming the layer, the reason and the rewrite.

Norse's own exporter (``norse/torch/utils/export_nir.py``) writes
``tau = dt / tau_mem_inv`` (a thousand times too short at dt = 1 ms, Norse issue
411), ``w_in = 1`` for LIFCell, no ``v_reset`` and no reset mode, fails on a Conv2d
without bias and knows neither Flatten, pooling nor LICell: we keep its Linear
mapping and build the rest here.

Norse starts the membrane at ``v_leak`` (IAF at ``v_reset``); spikec's executor starts
every state at zero, so a graph with ``v_leak != 0`` (``v_reset != 0``) differs in its
first steps (see docs/frontends.md).
"""
from __future__ import annotations

from typing import Any

import nir
import numpy as np
import torch

from ..ir.errors import GraphError
from ..ir.graph import Graph
from ..ir.nir_io import RESET_DELAY_KEY, RESET_KEY
from .torch_trace import STANDARD_LAYERS, as_numpy, map_standard_layer, same_shape, trace_to_graph, unsupported

SUPPORTED = (
    *STANDARD_LAYERS, "norse.LIFBoxCell", "norse.LIFCell", "norse.LIF",
    "norse.LIFRecurrentCell", "norse.LIFRecurrent", "norse.IAFCell", "norse.IAF", "norse.LIBoxCell",
    "norse.LICell", "norse.LI", "norse.LILinearCell",
)

_ADAPTIVE = ("its threshold adapts (b jumps by beta at every spike and relaxes to v_th with tau_adapt), "
             "and no NIR primitive has an adaptive threshold")
_ADEX = ("its membrane has an exponential term delta_T exp((v - v_th) / delta_T) and an adaptation current "
         "driven by v, nonlinear in v, which no NIR primitive computes")
_EXP = ("its membrane has an exponential term delta_T exp((v - v_th) / delta_T), nonlinear in v, "
        "which no NIR primitive computes")
_IZHIKEVICH = ("its membrane is quadratic in v (0.04 v^2 + 5 v + 140 - u) with a recovery variable u, "
               "which no NIR primitive computes")
_REFRAC = ("it holds the membrane for rho steps after each spike (a refractory counter), "
           "and NIR's neurons have no refractory state")
_COBA = ("its conductance-based synapses multiply the conductance by (E - v), a product of two states, "
         "which no NIR primitive computes")
_MC = ("it couples the membranes of its compartments directly (g_coupling v), and NIR connects neurons "
       "only through their spikes")
#: Norse modules no spikec graph computes: class name -> (why, nearest exact rewrite).
REFUSED: dict[str, tuple[str, str]] = {
    "LSNNCell": (_ADAPTIVE, "LIFCell"), "LSNN": (_ADAPTIVE, "LIF"),
    "LSNNRecurrentCell": (_ADAPTIVE, "LIFRecurrentCell"), "LSNNRecurrent": (_ADAPTIVE, "LIFRecurrent"),
    "LIFAdExCell": (_ADEX, "LIFCell"), "LIFAdEx": (_ADEX, "LIF"),
    "LIFAdExRecurrentCell": (_ADEX, "LIFRecurrentCell"), "LIFAdExRecurrent": (_ADEX, "LIFRecurrent"),
    "LIFAdExRefracCell": (_ADEX, "LIFCell"), "LIFAdExRefracRecurrentCell": (_ADEX, "LIFRecurrentCell"),
    "LIFAdExRefracRecurrent": (_ADEX, "LIFRecurrent"),
    "LIFExCell": (_EXP, "LIFCell"), "LIFEx": (_EXP, "LIF"),
    "LIFExRecurrentCell": (_EXP, "LIFRecurrentCell"), "LIFExRecurrent": (_EXP, "LIFRecurrent"),
    "IzhikevichCell": (_IZHIKEVICH, "LIFCell"), "Izhikevich": (_IZHIKEVICH, "LIF"),
    "IzhikevichRecurrentCell": (_IZHIKEVICH, "LIFRecurrentCell"), "IzhikevichRecurrent": (_IZHIKEVICH, "LIFRecurrent"),
    "LIFRefracCell": (_REFRAC, "LIFCell"), "LIFRefracRecurrentCell": (_REFRAC, "LIFRecurrentCell"),
    "LIFRefracRecurrent": (_REFRAC, "LIFRecurrent"),
    "CobaLIFCell": (_COBA, "LIFCell (current-based)"),
    "LIFMCRecurrentCell": (_MC, "LIFRecurrentCell"), "LIFMCRefracRecurrentCell": (_MC, "LIFRecurrentCell"),
    "LIFCorrelation": ("it tracks pre/post spike correlations for learning alongside its LIF state", "LIFCell"),
}


def refused(module: torch.nn.Module, name: str) -> GraphError:
    why, rewrite = REFUSED[type(module).__name__]
    return GraphError(
        f"Norse {type(module).__name__} cannot be compiled exactly: {why}; nearest exact rewrite: {rewrite}",
        node=name, value=type(module).__name__,
    )


def _time_constant(rate_inv: Any, cell_dt_s: float, dt_s: float, name: str, parameter: str) -> np.ndarray:
    """tau such that spikec's dt_s / tau equals the cell's dt * rate."""
    rate = as_numpy(rate_inv)
    if np.any(rate <= 0):
        raise GraphError(f"{parameter} must be positive", node=name, parameter=parameter, value=float(rate.min()), limit="> 0")
    return dt_s / (cell_dt_s * rate)


def _reset_mode(cell: Any, name: str) -> str:
    from norse.torch.functional.reset import reset_subtract, reset_value

    method = getattr(cell.p, "reset_method", reset_value)
    if method is reset_value:
        return "zero"
    if method is reset_subtract:
        return "subtract"
    raise GraphError(f"unknown reset_method {method!r}", node=name, parameter="reset_method")


def _lif_box(cell: Any, name: str, dt_s: float) -> Any:
    p = cell.p
    tau = _time_constant(p.tau_mem_inv, cell.dt, dt_s, name, "tau_mem_inv")
    params = same_shape(tau=tau, r=1.0, v_leak=p.v_leak, v_threshold=p.v_th, v_reset=p.v_reset)
    return nir.LIF(**params, metadata={RESET_KEY: _reset_mode(cell, name), RESET_DELAY_KEY: False})


def _lif(cell: Any, name: str, dt_s: float) -> Any:
    p = cell.p
    tau_syn = _time_constant(p.tau_syn_inv, cell.dt, dt_s, name, "tau_syn_inv")
    tau_mem = _time_constant(p.tau_mem_inv, cell.dt, dt_s, name, "tau_mem_inv")
    params = same_shape(
        tau_syn=tau_syn, tau_mem=tau_mem, r=1.0, w_in=tau_syn / dt_s, v_leak=p.v_leak, v_threshold=p.v_th, v_reset=p.v_reset,
    )
    return nir.CubaLIF(**params, metadata={RESET_KEY: "zero", RESET_DELAY_KEY: False})


def _li_box(cell: Any, name: str, dt_s: float) -> Any:
    p = cell.p
    tau = _time_constant(p.tau_mem_inv, cell.dt, dt_s, name, "tau_mem_inv")
    return nir.LI(**same_shape(tau=tau, r=1.0, v_leak=p.v_leak))


def _subgraph(nodes: dict[str, Any], edges: list[tuple[str, str]], first: str, last: str) -> Any:
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=None), **nodes, "output": nir.Output(output_type=None)},
        edges=[("input", first), *edges, (last, "output")], type_check=False,
    )


def _li_nodes(cell: Any, name: str, dt_s: float) -> dict[str, Any]:
    p = cell.p
    tau_syn = _time_constant(p.tau_syn_inv, cell.dt, dt_s, name, "tau_syn_inv")
    tau_mem = _time_constant(p.tau_mem_inv, cell.dt, dt_s, name, "tau_mem_inv")
    syn = nir.LI(**same_shape(tau=tau_syn, r=tau_syn / dt_s, v_leak=0.0))
    return {"syn": syn, "mem": nir.LI(**same_shape(tau=tau_mem, r=1.0, v_leak=p.v_leak))}


def _li(cell: Any, name: str, dt_s: float) -> Any:
    """LICell / LI: the current filter and the membrane as two LI nodes (NIR has no current-based LI)."""
    return _subgraph(_li_nodes(cell, name, dt_s), [("syn", "mem")], "syn", "mem")


def _li_linear(cell: Any, name: str, dt_s: float) -> Any:
    """LILinearCell: ``i += W x`` (no bias), then LICell's dynamics."""
    nodes = {"w_in": nir.Linear(weight=as_numpy(cell.input_weights)), **_li_nodes(cell, name, dt_s)}
    return _subgraph(nodes, [("w_in", "syn"), ("syn", "mem")], "w_in", "mem")


def _lif_recurrent(cell: Any, name: str, dt_s: float) -> Any:
    """LIFRecurrentCell / LIFRecurrent (``lif_step``): ``i += W_in x + W_rec z_(t-1)``, then LIFCell's update.

    The recurrent term uses the previous step's spikes (zero at step 0), spikec's back edge. The
    matrix is taken as it is: with ``autapses=False`` Norse zeroed its diagonal at construction.
    """
    nodes = {
        "w_in": nir.Linear(weight=as_numpy(cell.input_weights)),
        "lif": _lif(cell, name, dt_s),
        "w_rec": nir.Linear(weight=as_numpy(cell.recurrent_weights)),
    }
    return _subgraph(nodes, [("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif")], "w_in", "lif")


def _iaf(cell: Any, name: str, dt_s: float) -> Any:
    """IAFCell / IAF: ``v += x; z = H(v - v_th); v = v_reset where z``: spikec's IF with r = 1."""
    p = cell.p
    params = same_shape(r=1.0, v_threshold=p.v_th, v_reset=p.v_reset)
    return nir.IF(**params, metadata={RESET_KEY: "zero", RESET_DELAY_KEY: False})


def _module_map(dt_s: float, names: dict[int, str]):
    from norse.torch.module import iaf, leaky_integrator, leaky_integrator_box, lif, lif_box

    builders = (
        (lif_box.LIFBoxCell, _lif_box), (lif.LIFRecurrentCell, _lif_recurrent), (lif.LIFRecurrent, _lif_recurrent),
        (lif.LIFCell, _lif), (lif.LIF, _lif), (iaf.IAFCell, _iaf), (iaf.IAF, _iaf),
        (leaky_integrator_box.LIBoxCell, _li_box), (leaky_integrator.LILinearCell, _li_linear),
        (leaky_integrator.LICell, _li), (leaky_integrator.LI, _li),
    )

    def to_nir(module: torch.nn.Module) -> Any:
        name = names.get(id(module), type(module).__name__)
        if type(module).__name__ in REFUSED:
            raise refused(module, name)
        for cls, build in builders:
            if isinstance(module, cls):
                return build(module, name, dt_s)
        node = map_standard_layer(module, name)
        if node is None:
            raise unsupported(module, "Norse", SUPPORTED)
        return node

    return to_nir


def from_norse(module: torch.nn.Module, sample: torch.Tensor, *, dt_s: float = 1e-3) -> Graph:
    """A normalised Graph computing what the ``norse.torch.SequentialState`` computes, step for step.

    ``module`` may also be a custom ``nn.Module`` whose ``forward(x, state=None) -> (y, state)``
    is one step that calls SequentialStates, Norse cells and torch layers, each once, and
    threads each one's state from step to step (as norse/task/cifar10.py does); torch.fx
    traces it at ``state=None``.

    ``sample`` is one frame WITHOUT batch or time dimension. Each cell keeps its
    own ``dt``; the graph is exact under spikec's semantics at ``dt_s`` (default
    1e-3 s, Norse's default). The module is not modified.
    """
    from norse.torch import SequentialState

    if not dt_s > 0:
        raise GraphError(f"dt_s must be positive, got {dt_s!r}", parameter="dt_s", value=dt_s)
    names: dict[int, str] = {}

    def prepare(net: torch.nn.Module) -> None:
        names.update({id(m): n for n, m in net.named_modules()})

    metadata = {"dt_s": dt_s, "frontend": "norse"}
    try:  # torch.fx: its trace keeps each cell's subgraph whole (spikec flattens it, ir/nir_io.py)
        return _from_custom_module(module, sample, _module_map(dt_s, names), prepare, metadata)
    except _NotTraceable:
        if not isinstance(module, SequentialState):
            raise
    # nirtorch's hook trace, for a SequentialState torch.fx cannot trace (it flattens subgraphs itself and
    # wires a recurrent cell's w_rec to the next layer when that cell comes first: see test_frontend_norse)
    return trace_to_graph(module, sample, _module_map(dt_s, names), prepare=prepare, metadata=metadata)


class _NotTraceable(GraphError):
    """torch.fx could not trace the module's forward."""


def _from_custom_module(module: torch.nn.Module, sample: torch.Tensor, module_map: Any, prepare: Any,
                        metadata: dict[str, Any]) -> Graph:
    """A module holding SequentialStates / cells, its ``forward(x, state=None)`` one step: traced by torch.fx.

    The trace fixes ``state=None`` (the first step) and runs through SequentialState's own
    forward; Norse cells and torch layers are leaves, so ``a + b``, ``view`` and the rest
    are seen (``fx_trace``), never silently dropped as a hook trace would. No hook fallback.
    """
    import inspect

    from norse.torch.module.snn import SNN, SNNCell, SNNRecurrent, SNNRecurrentCell
    from norse.torch.module.leaky_integrator import LILinearCell

    from .fx_trace import TraceFailed

    accepted = ("a norse.torch.SequentialState, or an nn.Module whose forward(x, state=None) -> (y, state) calls "
                "SequentialStates, Norse cells and torch layers once per step, traceable by torch.fx")
    params = list(inspect.signature(module.forward).parameters.values())
    if len(params) != 2 or params[1].default is not None:  # no state argument: Norse cells would restart every step
        raise GraphError(f"from_norse takes {accepted}; {type(module).__name__}.forward takes "
                         f"({', '.join(p.name for p in params)})", value=type(module).__name__)
    concrete = {params[1].name: None}
    try:
        return trace_to_graph(module, sample, module_map, prepare=prepare, metadata=metadata,
                              leaf_types=(SNNCell, SNNRecurrentCell, SNN, SNNRecurrent, LILinearCell),
                              concrete_args=concrete, hook_fallback=False)
    except TraceFailed as exc:
        raise _NotTraceable(f"from_norse takes {accepted}; torch.fx could not trace {type(module).__name__}: "
                         f"{str(exc).splitlines()[0][:200]}", value=type(module).__name__) from exc
