"""Torch layers that vanish or fold once the graph is traced: Identity, Dropout, BatchNorm.

The module map cannot decide their final form: a BatchNorm's node depends on
its input's shape and on what feeds it, which the map does not see. So the map
writes a *placeholder*, a NIR ``Scale`` of 1 (shape-transparent) marked with
``TORCH_LAYER_KEY``, and ``resolve_torch_layers`` replaces it once shapes are
known:

* ``Identity``, ``Dropout``/``Dropout1d/2d/3d``/``AlphaDropout`` (identity in eval):
  the node is removed, its predecessors joined to its successors;
* ``BatchNorm1d``/``BatchNorm2d`` in eval, ``y = s x + c`` per channel with
  ``s = gamma / sqrt(running_var + eps)``, ``c = beta - running_mean s``: folded
  into the Linear/Affine/Conv1d/Conv2d that feeds it when that layer feeds only
  the BatchNorm (rows / output channels scaled by ``s``, bias ``s b + c``);
  otherwise an equivalent node under the BatchNorm's name: ``Affine(diag(s), c)``
  on ``(C,)``, a depthwise kernel-1 ``Conv1d`` on ``(C, L)``, a depthwise 1x1
  ``Conv2d`` on ``(C, H, W)``.

The frontend traces a copy in eval mode, so a BatchNorm left in training mode
still uses its running statistics (what ``model.eval()`` would compute).
"""
from __future__ import annotations

from typing import Any

import nir
import numpy as np
import torch

from ..ir.errors import GraphError
from ..ir.graph import Graph
from ..ir.nir_io import SpikecMaxPool2d
from ..ir.nodes import Affine, Conv1d, Conv2d, Linear, Node
from ..ir.shapes import infer_shapes

TORCH_LAYER_KEY = "spikec.torch_layer"
BN_SCALE_KEY = "spikec.bn_scale"
BN_SHIFT_KEY = "spikec.bn_shift"

IDENTITY_LAYERS = (
    torch.nn.Identity, torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d, torch.nn.AlphaDropout,
)
BATCH_NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)


class Passthrough(torch.nn.Module):
    """Stands in for an identity layer during hook tracing (which cannot see a layer returning its input)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


def replace_identity_layers(net: torch.nn.Module) -> None:
    """Swap every identity layer of ``net`` (a traced copy) for a Passthrough of the same name."""
    for parent in list(net.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, IDENTITY_LAYERS):
                setattr(parent, child_name, Passthrough(type(child).__name__))


def check_before_trace(net: torch.nn.Module) -> None:
    """Refuse what would fail inside the trace itself (a BatchNorm without statistics needs a batch > 1)."""
    for name, m in net.named_modules():
        if isinstance(m, BATCH_NORMS) and (not m.track_running_stats or m.running_mean is None):
            map_torch_layer(m, name)


def placeholder(kind: str, **arrays: np.ndarray) -> Any:
    return nir.Scale(scale=np.array(1.0), metadata={TORCH_LAYER_KEY: kind, **arrays})


def map_torch_layer(module: torch.nn.Module, name: str) -> Any:
    """The placeholder of an identity or BatchNorm layer, or None for other modules."""
    if isinstance(module, IDENTITY_LAYERS):
        return placeholder(type(module).__name__)
    if isinstance(module, Passthrough):
        return placeholder(module.kind)
    if isinstance(module, BATCH_NORMS):
        if not module.track_running_stats or module.running_mean is None:
            raise GraphError(
                f"{type(module).__name__} without running statistics (track_running_stats=False) normalises by "
                "the batch at every call, which no per-frame graph can express",
                node=name, parameter="track_running_stats", value=False,
            )
        var = module.running_var.detach().double().numpy()
        mean = module.running_mean.detach().double().numpy()
        scale = 1.0 / np.sqrt(var + module.eps)
        if module.affine:
            scale = scale * module.weight.detach().double().numpy()
        shift = -mean * scale
        if module.affine:
            shift = shift + module.bias.detach().double().numpy()
        return placeholder(type(module).__name__, **{BN_SCALE_KEY: scale, BN_SHIFT_KEY: shift})
    return None


def _without(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in (TORCH_LAYER_KEY, BN_SCALE_KEY, BN_SHIFT_KEY)}


def _fold(feeder: Node, scale: np.ndarray, shift: np.ndarray) -> Node:
    """``s (W x + b) + c`` as one synapse: W's rows (output channels) times s, bias s b + c."""
    if isinstance(feeder, (Affine, Linear)):
        bias = feeder.bias if isinstance(feeder, Affine) else np.zeros(feeder.weight.shape[0])
        return Affine(weight=feeder.weight * scale[:, None], bias=np.broadcast_to(bias, scale.shape) * scale + shift,
                      metadata=feeder.metadata)
    w = feeder.weight * scale.reshape((-1,) + (1,) * (feeder.weight.ndim - 1))
    return feeder.replace(weight=w, bias=np.broadcast_to(feeder.bias, scale.shape) * scale + shift)


def _batch_norm_node(name: str, kind: str, shape: tuple[int, ...], scale: np.ndarray, shift: np.ndarray, meta: dict) -> Node:
    if len(shape) == 1:
        return Affine(weight=np.diag(scale), bias=shift, metadata=meta)
    c = shape[0]
    if len(shape) == 2:
        return Conv1d(input_shape=shape[1:], weight=scale.reshape(c, 1, 1), stride=(1,), padding=(0,), dilation=(1,),
                      groups=c, bias=shift, metadata=meta)
    if len(shape) == 3:
        return Conv2d(input_shape=shape[1:], weight=scale.reshape(c, 1, 1, 1), stride=(1, 1), padding=(0, 0),
                      dilation=(1, 1), groups=c, bias=shift, metadata=meta)
    raise GraphError(f"{kind} input of shape {shape} is not (C,), (C, L) or (C, H, W)", node=name, value=shape)


def resolve_torch_layers(graph: Graph) -> Graph:
    """Replace every placeholder of ``map_torch_layer`` by its final form (see the module docstring)."""
    marked = [n for n, node in graph.items() if TORCH_LAYER_KEY in node.metadata]
    if not marked:
        return graph
    shapes = infer_shapes(graph)
    nodes, edges = dict(graph.nodes), list(graph.edges)
    for name in marked:
        node = nodes[name]
        kind = node.metadata[TORCH_LAYER_KEY]
        preds = [a for a, b in edges if b == name]
        succs = [b for a, b in edges if a == name]
        if BN_SCALE_KEY not in node.metadata:  # an identity: join predecessors to successors
            edges = [e for e in edges if name not in e] + [(a, b) for a in preds for b in succs]
            del nodes[name]
            continue
        scale = np.asarray(node.metadata[BN_SCALE_KEY], dtype=np.float64)
        shift = np.asarray(node.metadata[BN_SHIFT_KEY], dtype=np.float64)
        in_shape = shapes[name][0]
        if in_shape[0] != scale.size:
            raise GraphError(f"{kind} has {scale.size} channels, its input has shape {in_shape}",
                             node=name, parameter="num_features", value=scale.size, limit=in_shape[0])
        feeder = nodes.get(preds[0]) if len(preds) == 1 else None
        sole = feeder is not None and [b for a, b in edges if a == preds[0]] == [name]
        if sole and isinstance(feeder, (Affine, Linear, Conv1d, Conv2d)):
            nodes[preds[0]] = _fold(feeder, scale, shift)
            edges = [e for e in edges if name not in e] + [(preds[0], b) for b in succs]
            del nodes[name]
        else:
            nodes[name] = _batch_norm_node(name, kind, in_shape, scale, shift, _without(node.metadata))
    return Graph(nodes, tuple(edges), graph.metadata)


def as_numpy(value: Any) -> np.ndarray:
    """A float64 numpy copy of a tensor, parameter, number or array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().to(torch.float64).numpy()
    return np.array(value, dtype=np.float64)


def same_shape(**params: Any) -> dict[str, np.ndarray]:
    """Parameters broadcast against each other (NIR's neurons want one shape for all)."""
    names = list(params)
    arrays = np.broadcast_arrays(*(as_numpy(params[n]) for n in names))
    return {n: np.array(a) for n, a in zip(names, arrays)}


def map_standard_layer(module: torch.nn.Module, name_hint: str) -> Any:
    """NIR nodes for the plain torch layers both frameworks use.

    Returns None for modules this function does not know.
    """
    layer = map_torch_layer(module, name_hint)
    if layer is not None:
        return layer
    if isinstance(module, torch.nn.Linear):
        weight = as_numpy(module.weight)
        if module.bias is None:
            return nir.Linear(weight=weight)
        return nir.Affine(weight=weight, bias=as_numpy(module.bias))
    if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d)):
        kind = type(module).__name__
        if module.padding_mode != "zeros":
            raise GraphError(
                f"{kind} padding_mode {module.padding_mode!r} is not supported (only 'zeros')",
                node=name_hint, parameter="padding_mode", value=module.padding_mode,
            )
        bias = as_numpy(module.bias) if module.bias is not None else np.zeros(module.out_channels)
        padding = module.padding if isinstance(module.padding, str) else np.asarray(module.padding)
        conv = nir.Conv1d if isinstance(module, torch.nn.Conv1d) else nir.Conv2d
        return conv(
            input_shape=None, weight=as_numpy(module.weight), stride=np.asarray(module.stride),
            padding=padding, dilation=np.asarray(module.dilation), groups=int(module.groups), bias=bias,
        )
    if isinstance(module, (torch.nn.AvgPool1d, torch.nn.MaxPool1d)):
        module = as_2d_pool(module)
    if isinstance(module, torch.nn.AvgPool2d):
        return _map_avg_pool(module, name_hint)
    if isinstance(module, torch.nn.MaxPool2d):
        return _map_max_pool(module, name_hint)
    if isinstance(module, torch.nn.Flatten):
        # The trace runs with a batch dimension; NIR's Flatten dims exclude it.
        start = module.start_dim - 1 if module.start_dim > 0 else module.start_dim
        end = module.end_dim - 1 if module.end_dim > 0 else module.end_dim
        if module.start_dim == 0:
            raise GraphError("nn.Flatten(start_dim=0) would flatten the batch dimension", node=name_hint, parameter="start_dim", value=0)
        return nir.Flatten(input_type=None, start_dim=start, end_dim=end)
    return None


def as_2d_pool(module: torch.nn.AvgPool1d | torch.nn.MaxPool1d) -> torch.nn.AvgPool2d | torch.nn.MaxPool2d:
    """A 1-D pool over (C, L) or (L,) as the 2-D pool over (C, 1, L) with kernel (1, k): spikec's pool
    nodes read a rank-1 or rank-2 input that way (``ir/shapes.py``), so no 1-D node is needed."""
    one = lambda v, lead: (lead, int(np.ravel(v)[0]))  # noqa: E731
    stride = module.kernel_size if module.stride in (None, ()) else module.stride
    if isinstance(module, torch.nn.MaxPool1d):
        return torch.nn.MaxPool2d(one(module.kernel_size, 1), one(stride, 1), one(module.padding, 0), one(module.dilation, 1),
                                  return_indices=module.return_indices, ceil_mode=module.ceil_mode)
    return torch.nn.AvgPool2d(one(module.kernel_size, 1), one(stride, 1), one(module.padding, 0),
                              ceil_mode=module.ceil_mode, count_include_pad=module.count_include_pad)


def _map_avg_pool(module: torch.nn.AvgPool2d, name_hint: str) -> Any:
    """AvgPool2d without padding or ceil mode: NIR's mean over each window."""
    padding = np.atleast_1d(module.padding)
    if np.any(padding != 0) or module.ceil_mode or module.divisor_override is not None:
        raise GraphError(
            "AvgPool2d with padding, ceil_mode or divisor_override is not supported",
            node=name_hint, parameter="padding", value=module.padding,
        )
    stride = module.kernel_size if module.stride is None else module.stride
    return nir.AvgPool2d(kernel_size=np.atleast_1d(module.kernel_size), stride=np.atleast_1d(stride), padding=np.zeros(2, dtype=int))


def _map_max_pool(module: torch.nn.MaxPool2d, name_hint: str) -> Any:
    """MaxPool2d with dilation 1, no ceil mode, no indices: spikec's MaxPool2d (-inf padding, as torch)."""
    for parameter, value, ok in (("dilation", module.dilation, np.all(np.atleast_1d(module.dilation) == 1)),
                                 ("ceil_mode", module.ceil_mode, not module.ceil_mode),
                                 ("return_indices", module.return_indices, not module.return_indices)):
        if not ok:
            raise GraphError(f"MaxPool2d {parameter}={value!r} is not supported (dilation 1, ceil_mode and "
                             "return_indices False)", node=name_hint, parameter=parameter, value=value)
    stride = module.kernel_size if module.stride is None or module.stride == () else module.stride
    return SpikecMaxPool2d(kernel_size=np.atleast_1d(module.kernel_size), stride=np.atleast_1d(stride),
                           padding=np.atleast_1d(module.padding))
