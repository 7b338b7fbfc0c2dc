"""What the snnTorch and Norse frontends share: tracing a torch module into a Graph.

Both frameworks export through ``nirtorch.extract_nir_graph``, which runs the
module once on a sample and maps each called submodule to a NIR node. We keep
that tracing (it finds the topology, including snnTorch's recurrent subgraphs)
and supply our own per-module map, which delegates to the framework's exporter
where it is right and builds the node itself where it is not.

Tracing runs on a *deep copy* of the module with a batch of one: the user's
module keeps its hidden state, and layers that assume a batch dimension
(``nn.Flatten(start_dim=1)``) trace correctly. The Input and Output shapes the
exporter would write with that batch dimension are replaced by the sample's
own shape (a graph's shapes exclude time and batch).
"""
from __future__ import annotations

import copy
import warnings
from typing import Any, Callable, Iterable

import torch

from ..ir.check import normalise
from ..ir.errors import GraphError
from ..ir.graph import Graph
from ..ir.nir_io import from_nir
from ..ir.nodes import Input, Output
from .fx_trace import TraceFailed, fx_trace
from .torch_layers import (as_numpy, check_before_trace, map_standard_layer, replace_identity_layers,  # noqa: F401  (re-exported)
                           resolve_torch_layers, same_shape)

ModuleMap = Callable[[torch.nn.Module], Any]
#: torch layers both frontends map (named in their "not supported" messages)
STANDARD_LAYERS = (
    "Linear", "Conv1d", "Conv2d", "AvgPool1d/2d", "MaxPool1d/2d", "Flatten", "BatchNorm1d", "BatchNorm2d (eval)", "Dropout*", "Identity",
)


def unsupported(module: torch.nn.Module, framework: str, supported: Iterable[str]) -> GraphError:
    return GraphError(
        f"{framework} frontend: module type {type(module).__name__} is not supported "
        f"(supported: {', '.join(supported)})",
        value=type(module).__name__,
    )


def _hook_trace(net: torch.nn.Module, batch: torch.Tensor, module_map: ModuleMap, ignore: list[type] | None) -> Any:
    """nirtorch's module-hook trace (module calls only; identity layers swapped for Passthroughs first)."""
    import nirtorch  # imported here: only the frontends need it

    replace_identity_layers(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nirtorch.extract_nir_graph(net, module_map, batch, model_name=None, ignore_submodules_of=ignore)


def trace_to_graph(
    module: torch.nn.Module,
    sample: torch.Tensor,
    module_map: ModuleMap,
    *,
    ignore_submodules_of: list[type] | None = None,
    leaf_types: tuple[type, ...] | None = None,
    prepare: Callable[[torch.nn.Module], None] | None = None,
    metadata: dict[str, Any] | None = None,
    concrete_args: dict[str, Any] | None = None,
    hook_fallback: bool = True,
    state_map: Any = None,
) -> Graph:
    """Trace a deep copy of ``module`` on ``sample`` (no batch dimension) into a normalised Graph.

    ``prepare`` may adjust the copy before the trace (never the user's module).
    With ``leaf_types`` (the framework's neuron classes), the copy is traced with
    torch.fx first (``fx_trace``: sees ``a + b``, ``view``, ``F.max_pool2d``);
    where torch.fx cannot trace the forward, nirtorch's module hooks trace it
    (unless ``hook_fallback`` is False: then ``TraceFailed`` propagates).
    ``concrete_args`` fixes the forward's arguments after the input for torch.fx.
    ``state_map`` (``fx_trace``'s) maps a neuron whose membrane, not its spikes, is read.
    """

    if not isinstance(sample, torch.Tensor):
        raise GraphError(f"sample must be a torch.Tensor without batch dimension, got {type(sample).__name__}")
    net = copy.deepcopy(module)
    if prepare is not None:
        prepare(net)
    net.eval()
    check_before_trace(net)
    batch = sample.detach().unsqueeze(0)
    nir_graph, fx_failure = None, None
    if leaf_types is not None:
        try:
            nir_graph = fx_trace(net, batch, module_map, leaf_types, concrete_args, state_map)
        except TraceFailed as exc:
            if not hook_fallback:
                raise
            fx_failure = str(exc).splitlines()[0][:200]
            net = copy.deepcopy(module)  # the failed trace may have run part of the forward
            if prepare is not None:
                prepare(net)
            net.eval()
    try:
        if nir_graph is None:
            nir_graph = _hook_trace(net, batch, module_map, ignore_submodules_of)
        missing = [name for name, node in nir_graph.nodes.items() if node is None]
        if missing:
            raise GraphError(f"traced modules {missing} have no NIR form", node=missing[0])
        return _to_graph(nir_graph, sample, metadata)
    except (GraphError, ValueError, RuntimeError, KeyError) as exc:
        if not isinstance(exc, GraphError):  # nirtorch's own failures
            exc = GraphError(f"nirtorch's module-hook trace failed: {type(exc).__name__}: {exc}")
        if fx_failure is None:
            raise
        message = str(exc).removeprefix(f"node '{exc.node}': ")
        raise GraphError(f"{message} (torch.fx could not trace the forward: {fx_failure}; nirtorch's module hooks, "
                         "used instead, see module calls only, not functional ops such as a + b)",
                         node=exc.node, parameter=exc.parameter, value=exc.value, limit=exc.limit) from exc


def _to_graph(nir_graph: Any, sample: torch.Tensor, metadata: dict[str, Any] | None) -> Graph:
    """The traced NIR graph as a normalised spikec Graph with the sample's Input shape."""
    graph = from_nir(nir_graph, implicit_flatten=False)
    in_shape = tuple(int(s) for s in sample.shape)
    fixed = {}
    for name, node in graph.items():
        if isinstance(node, Input):
            fixed[name] = node.replace(shape=in_shape)
        elif isinstance(node, Output):
            fixed[name] = node.replace(shape=())
    # nirtorch collects edges in a set: sort them so the same module gives the same graph
    graph = Graph({**graph.nodes, **fixed}, tuple(sorted(graph.edges)), {**graph.metadata, **(metadata or {})})
    return normalise(resolve_torch_layers(graph))
