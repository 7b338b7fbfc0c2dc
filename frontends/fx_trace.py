"""Tracing a torch module with ``torch.fx``: the functional ops hooks cannot see.

nirtorch's hook tracer (``extract_nir_graph``) records only module calls, so
``a + b`` in a custom ``forward`` leaves the next layer dangling. Here the
module is traced symbolically with the framework's neurons and torch's own
layers as *leaf* modules, and shapes are propagated on the sample; each tensor
of the trace is then a *sum of NIR node outputs* (a list of names), which is
what NIR means when several edges meet at one node:

* leaf module call -> one NIR node (the module map's), named by its qualified name;
* ``a + b`` (``operator.add``, ``torch.add``, ``Tensor.add``, ``+=``) -> the union of both sums;
* ``torch.flatten`` / ``Tensor.flatten`` / ``view`` / ``reshape`` that merge adjacent
  dims (batch kept) -> a ``Flatten`` node;
* ``F.max_pool2d`` / ``F.avg_pool2d`` (and the 1-D ones) -> the node ``nn.MaxPool2d`` / ``nn.AvgPool2d``
  (``nn.MaxPool1d`` / ``nn.AvgPool1d``) would give;
* ``getitem`` 0 of a leaf's tuple (snnTorch ``output=True`` returns ``(spk, mem)``) -> the spikes; another
  item (the membrane) -> the node ``state_map`` gives for it, when that item is the only one used
  (a reset-free neuron's membrane is a leaky integrator; the frontend refuses the rest, naming the layer);
* ``size``/``shape``/``dim`` (used by ``view``) -> ignored.

Any other op refuses with a ``GraphError`` naming it, once its result reaches
a layer or the output (``torch.cat``, a product of two tensors, a constant added
to a tensor, ``relu``, ...). An output that is a tuple records its first element.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Callable

import nir
import numpy as np
import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp

from ..ir.errors import GraphError

ModuleMap = Callable[[torch.nn.Module], Any]
#: (leaf module, qualified name, tuple item) -> the NIR node whose output is that item (or raises GraphError)
StateMap = Callable[[torch.nn.Module, str, int], Any]
_ADD = {operator.add, operator.iadd, torch.add}
_RESHAPE_METHODS = {"flatten", "view", "reshape"}
_SHAPE_QUERIES = {"size", "dim", "numel"}


class TraceFailed(Exception):
    """torch.fx could not trace the module (data-dependent control flow, ...): use the hook tracer."""


@dataclass(frozen=True)
class Unusable:
    """A traced value that no graph can carry; raises once it reaches a layer or the output."""

    op: str
    reason: str

    def fail(self) -> GraphError:
        return GraphError(f"functional op {self.op} is not supported: {self.reason} (supported: +, flatten/view/"
                          "reshape merging dims, max_pool1d/2d, avg_pool1d/2d)", node=self.op, value=self.op)


class _LeafTracer(torch.fx.Tracer):
    def __init__(self, leaf_types: tuple[type, ...]) -> None:
        super().__init__()
        self.leaf_types = leaf_types

    def is_leaf_module(self, m: torch.nn.Module, qualified_name: str) -> bool:
        return isinstance(m, self.leaf_types) or super().is_leaf_module(m, qualified_name)


def _op_name(node: torch.fx.Node) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _shape(node: torch.fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    shape = getattr(meta, "shape", None)
    return None if shape is None else tuple(int(s) for s in shape)


def _flatten_dims(name: str, src: tuple[int, ...], dst: tuple[int, ...]) -> tuple[int, int]:
    """(start, end) of the dims (batch excluded) that a reshape from ``src`` to ``dst`` merges into one."""
    if src[:1] != dst[:1]:
        raise GraphError(f"reshape from {src} to {dst} changes the batch dimension", node=name, value=dst)
    a, b = src[1:], dst[1:]
    for start in range(len(a) + 1):
        for end in range(start, len(a)):
            if a[:start] + (math.prod(a[start:end + 1]),) + a[end + 1:] == b:
                return start, end
    if a == b:
        return 0, 0
    raise GraphError(f"reshape from {a} to {b} is not a flatten of adjacent dims", node=name, value=b)


def _pool_node(name: str, kind: str, args: tuple, kwargs: dict) -> Any:
    """The module form of ``F.max_pool2d`` / ``F.avg_pool2d`` / ``F.max_pool1d`` / ``F.avg_pool1d`` (args after the input)."""
    names = {"max_pool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
             "avg_pool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
             "max_pool1d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
             "avg_pool1d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")}[kind]
    params = dict(zip(names, args)) | kwargs
    if params.get("stride") in (None, ()):  # torch: default stride is the kernel size
        params.pop("stride", None)
    cls = {"max_pool2d": torch.nn.MaxPool2d, "avg_pool2d": torch.nn.AvgPool2d,
           "max_pool1d": torch.nn.MaxPool1d, "avg_pool1d": torch.nn.AvgPool1d}[kind]
    return cls(**params)


def _pool_kind(fn: str, target: Any) -> str | None:
    """Which functional pool ``fn`` is (``_pool_node``'s kinds), or None."""
    if fn.lstrip("_") in ("max_pool1d", "avg_pool1d"):
        return fn.lstrip("_")
    if fn in ("max_pool2d", "avg_pool2d", "boolean_dispatch"):  # F.max_pool2d is a boolean_dispatch
        return "max_pool2d" if "max" in fn or "max" in str(target) else "avg_pool2d"
    return None


def _output_value(graph: torch.fx.Graph) -> Any:
    """What the forward's output records: its result, or a tuple's first element (recursively)."""
    result = next(n for n in graph.nodes if n.op == "output").args[0]
    while isinstance(result, (tuple, list)):
        result = result[0]
    return result


def _live(graph: torch.fx.Graph) -> set[torch.fx.Node]:
    """The fx nodes the recorded output depends on (an unpacked item nobody reads is not among them)."""
    stack, live = [_output_value(graph)], set()
    while stack:
        n = stack.pop()
        if isinstance(n, torch.fx.Node) and n not in live:
            live.add(n)
            stack.extend(n.all_input_nodes)
    return live


def _used_items(node: torch.fx.Node, live: set[torch.fx.Node]) -> set[int]:
    """Which items of a leaf's result the output depends on: ``getitem`` k; any other use (the result
    itself, a neuron without ``output=True``) reads item 0, the spikes."""
    items = set()
    for user in node.users:
        if user not in live:
            continue
        if user.op == "call_function" and user.target is operator.getitem and isinstance(user.args[1], int):
            items.add(user.args[1])
        else:
            items.add(0)
    return items


def fx_trace(module: torch.nn.Module, sample: torch.Tensor, module_map: ModuleMap, leaf_types: tuple[type, ...],
             concrete_args: dict[str, Any] | None = None, state_map: StateMap | None = None) -> Any:
    """A ``nir.NIRGraph`` (type_check off) of ``module`` run on ``sample`` (with its batch dimension).

    ``concrete_args`` fixes arguments after the input (Norse's ``state=None``: the first step).
    ``state_map`` maps a leaf whose only item used is not item 0 (an snnTorch neuron's membrane).
    """
    try:
        graph = _LeafTracer(leaf_types).trace(module, concrete_args=concrete_args)
        gm = torch.fx.GraphModule(module, graph)
        with torch.no_grad():
            ShapeProp(gm).propagate(sample)
    except GraphError:
        raise
    except Exception as exc:  # torch.fx raises TraceError, TypeError, RuntimeError... on untraceable code
        raise TraceFailed(f"{type(exc).__name__}: {exc}") from exc
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    values: dict[torch.fx.Node, Any] = {}  # fx node -> list of NIR names (a sum), Unusable, or None (not a tensor)
    read_item: dict[torch.fx.Node, int] = {}  # leaf call -> the one item of its tuple that its node outputs
    live = _live(graph)

    def sources(arg: Any, user: str) -> list[str]:
        value = values.get(arg) if isinstance(arg, torch.fx.Node) else None
        if isinstance(value, Unusable):
            raise value.fail()
        if not isinstance(value, list):
            raise GraphError(f"{user} takes {arg!r}, which is not a tensor of the trace", node=user)
        return value

    def add_node(name: str, nir_node: Any, inputs: list[str]) -> list[str]:
        if name in nodes:
            raise GraphError("module is called twice in one step; give each call its own module", node=name)
        if len(set(inputs)) != len(inputs):
            raise GraphError(f"the same tensor is added to itself on the way to {name!r} (sources {inputs})", node=name)
        nodes[name] = nir_node
        edges.extend((src, name) for src in inputs)
        return [name]

    for node in graph.nodes:
        op, name = node.op, node.name
        if op == "placeholder":
            if concrete_args and "input" in nodes:
                values[node] = None  # a fixed argument (torch.fx keeps a placeholder that only guards it)
                continue
            if "input" in nodes:
                raise GraphError("the module's forward takes more than one tensor argument", node=name)
            values[node] = add_node("input", nir.Input(input_type=None), [])
        elif op == "call_module":
            sub, target = gm.get_submodule(node.target), str(node.target)
            items = _used_items(node, live)
            if state_map is not None and isinstance(sub, leaf_types) and items - {0}:
                if len(items) > 1:
                    raise GraphError(f"items {sorted(items)} of {target}'s output tuple are used: a node has one "
                                     "output, and one neuron's spikes and state together have no exact form; "
                                     "read one item (the spikes, or the membrane of a reset-free neuron)",
                                     node=target, value=sorted(items))
                (read_item[node],) = items
                nir_node = state_map(sub, target, read_item[node])
            else:
                read_item[node], nir_node = 0, module_map(sub)
            values[node] = add_node(target, nir_node, sources(node.args[0], target))
        elif op == "get_attr":
            values[node] = Unusable(f"parameter {node.target}", "a tensor used outside a layer")
        elif op == "output":
            add_node("output", nir.Output(output_type=None), sources(_output_value(graph), "output"))
        else:
            values[node] = _function(node, values, sources, add_node, read_item)
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _function(node: torch.fx.Node, values: dict, sources: Callable, add_node: Callable, read_item: dict) -> Any:
    """The value of one call_function / call_method node."""
    fn, args, name = _op_name(node), node.args, node.name
    if (node.op == "call_function" and node.target in _ADD) or (node.op == "call_method" and fn in ("add", "add_")):
        if len(args) != 2 or not all(isinstance(a, torch.fx.Node) for a in args) or node.kwargs:
            return Unusable(fn, "only the sum of two traced tensors (no constant, no alpha) is a merge of edges")
        if any(isinstance(values.get(a), Unusable) or values.get(a) is None for a in args):
            bad = next((values[a] for a in args if isinstance(values.get(a), Unusable)), None)
            return bad or Unusable(fn, "adds a value that is not a traced tensor")
        return values[args[0]] + values[args[1]]
    if node.op == "call_function" and node.target is operator.getitem:
        src = args[0]
        if isinstance(values.get(src), list) and src.op == "call_module" and args[1] == read_item.get(src):
            return values[src]
        return Unusable(f"{src.name}[{args[1]}]", "only item 0 (the spikes) of a layer's tuple is a signal, "
                                                  "or a neuron's membrane where the frontend maps it")
    if (node.op == "call_method" and fn in _SHAPE_QUERIES) or (node.op == "call_function" and node.target is getattr):
        return None
    if fn in _RESHAPE_METHODS or (node.op == "call_function" and node.target is torch.flatten):
        src, dst = _shape(args[0]) if isinstance(args[0], torch.fx.Node) else None, _shape(node)
        if src is None or dst is None:
            return Unusable(fn, "shape unknown after tracing")
        start, end = _flatten_dims(name, src, dst)
        return add_node(name, nir.Flatten(input_type=None, start_dim=start, end_dim=end), sources(args[0], name))
    kind = _pool_kind(fn, node.target) if node.op == "call_function" and args else None
    if kind is not None:
        from .torch_layers import map_standard_layer

        module = _pool_node(name, kind, tuple(args[1:]), dict(node.kwargs))
        return add_node(name, map_standard_layer(module, name), sources(args[0], name))
    if node.op == "call_function" and fn in ("dropout", "dropout1d", "dropout2d", "alpha_dropout"):
        training = node.kwargs.get("training", args[2] if len(args) > 2 else True)
        if training is False:
            return values.get(args[0])
        return Unusable(fn, "dropout with training=True (F.dropout's default) is random; pass training=self.training")
    if fn.lstrip("_") in ("adaptive_max_pool1d", "adaptive_avg_pool1d", "lp_pool1d"):
        return Unusable(fn, "spikec pools with a fixed kernel (max_pool1d / avg_pool1d); an adaptive or power-average "
                            "pool has no node")
    return Unusable(fn, "no NIR node computes it")
