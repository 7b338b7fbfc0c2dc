"""The lowered Loihi graph: Lava's processes, with Lava's own parameter names and units.

A compiled Loihi program is a ``Graph`` of these nodes:
``LoihiInput -> Dense -> LoihiNeurons -> Dense -> ... -> LoihiNeurons -> LoihiOutput``;
an output after a stateless chain is a ``LoihiReadout`` fed by its source layers.
Every ``Dense`` joins exactly one source (input or neuron population) to one
neuron population, so a backend builds one ``lava.proc.dense.process.Dense``
per ``Dense`` node and one ``lava.proc.lif.process.LIF`` per ``LoihiNeurons``
node with the fields of the same name (``weights, weight_exp, num_weight_bits,
sign_mode``; ``du, dv, vth, bias_mant, bias_exp``). Populations are flat
(``n`` neurons, C-order over the source layer's ``shape``).

Fields Lava's LIF lacks (``reset``, ``v_reset``, ``reset_delay``, ``reset_recheck``, ``spiking``)
are spikec's exact integer extensions, defined in ``docs/semantics.md``
section 3; ``is_stock_lava`` says when a population needs none of them.

A layer whose neurons need different ``du``/``dv`` is several populations
(the ``split-populations`` pass): each part carries ``metadata`` ``layer``
(the layer's name), ``layer_shape`` and ``neuron_index`` (its neurons'
positions in the layer, ascending), and an output of the layer reads all the
parts. ``gather_parts`` and ``merge_part_traces`` put results back in the
layer's neuron order under the layer's name, for every executor and backend.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from ...ir import weights as _weights
from ...ir.errors import GraphError
from ...ir.graph import Graph
from ...ir.nodes import Node, Shape
from ..readout import Readout, ReadoutTerm

# lava.utils.weightutils.SignMode values
SIGN_MODES: dict[str, int] = {"mixed": 1, "excitatory": 2, "inhibitory": 3}


def int_array(value: object, dtype: type = np.int32) -> np.ndarray:
    """A read-only integer copy (the bit width is the caller's contract)."""
    arr = np.array(value, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


_INT32 = (-(1 << 31), (1 << 31) - 1)


def int_matrix(value: object, parameter: str) -> "_weights.Matrix":
    """A read-only int32 synaptic matrix: a 2-d array, or (any scipy sparse value) canonical CSR.

    Values must be integers inside int32 (a program file is not trusted to
    hold what the compiler wrote); a sparse matrix keeps its kind, so a
    10^8-synapse program never holds its n_target x n_source zeros.
    """
    sparse = _weights.is_sparse(value)
    if not sparse:
        value = np.asarray(value)
    if len(value.shape) != 2:
        raise GraphError(f"{parameter} must be a 2-d (n_target, n_source) matrix, got shape {tuple(value.shape)}",
                         parameter=parameter, value=tuple(value.shape), limit="2-d")
    data = value.data if sparse else value
    if data.dtype.kind not in "biuf":
        raise GraphError(f"{parameter} must hold integers, got dtype {data.dtype}", parameter=parameter, value=str(data.dtype))
    wide = data.dtype.kind == "f" or data.dtype.itemsize > 4 or (data.dtype.kind == "u" and data.dtype.itemsize == 4)
    if wide and data.size:  # could hold what int32 cannot
        if data.dtype.kind == "f" and not (np.isfinite(data).all() and (data == np.round(data)).all()):
            raise GraphError(f"{parameter} must hold integers", parameter=parameter)
        lo, hi = float(data.min()), float(data.max())
        if lo < _INT32[0] or hi > _INT32[1]:
            raise GraphError(f"{parameter} value {hi if hi > _INT32[1] else lo:g} does not fit int32",
                             parameter=parameter, value=hi if hi > _INT32[1] else lo, limit=_INT32)
    return _weights.csr(value, np.int32) if sparse else int_array(value)


@dataclass(frozen=True, eq=False)
class LoihiInput(Node):
    """A graph input: binary spikes of ``shape``, flattened to ``n`` axons."""

    kind: ClassVar[str] = "LoihiInput"
    shape: Shape = ()

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True, eq=False)
class Dense(Node):
    """Lava ``Dense(weights=..., weight_exp=..., num_weight_bits=..., sign_mode=...)``.

    ``weights`` (n_target, n_source) int32, already clipped and truncated as
    Lava's ``clip_weights``/``truncate_weights`` would (so Lava leaves them
    unchanged): a dense array, or canonical CSR (``ir/weights.py``; what a
    sparse projection lowers to, Lava's ``Sparse``). ``sign_mode`` is
    ``SignMode(sign_mode)``. ``weight_scale`` is not Lava's: float weight *
    weight_scale = integer weight << weight_exp (per target row), kept for
    reports. ``delays`` (int32, same shape, 0..63), when set, makes it Lava's
    ``DelayDense(weights=..., delays=...)``: a spike at step t crosses a
    synapse of delay d at step t + d + 1. Delays are dense only (as
    ``linear_maps.Projection``'s): a Dense with delays has dense weights.
    """

    kind: ClassVar[str] = "Dense"
    weights: "_weights.Matrix"
    weight_exp: int
    num_weight_bits: int
    sign_mode: int
    weight_scale: np.ndarray
    delays: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "weights", int_matrix(self.weights, "weights"))
        object.__setattr__(self, "weight_scale", int_array(self.weight_scale, np.float64))
        if self.delays is not None:
            if _weights.is_sparse(self.weights):
                raise GraphError("a Dense with delays needs dense weights (delays are per entry of a dense matrix)",
                                 parameter="delays")
            object.__setattr__(self, "delays", int_array(np.broadcast_to(self.delays, self.weights.shape)))


@dataclass(frozen=True, eq=False)
class LoihiNeurons(Node):
    """Lava ``LIF(shape=(n,), du=, dv=, vth=, bias_mant=, bias_exp=)`` plus spikec's extensions.

    ``du``/``dv`` are one integer per process, as in Lava; between the
    quantise-loihi and split-populations passes a layer needing several holds
    one per neuron (``per_neuron_decays``), which no backend runs.
    ``v_scale`` (per neuron) is integer voltage units per float unit of v,
    ``latency_steps`` how many steps this population lags the float reference
    (one per Dense on the forward path). ``origin`` names the source node kind.
    """

    kind: ClassVar[str] = "LoihiNeurons"
    shape: Shape
    du: int | np.ndarray
    dv: int | np.ndarray
    vth: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    reset: str = "zero"
    v_reset: np.ndarray | None = None
    reset_delay: bool = False
    reset_recheck: bool = False
    spiking: bool = True
    v_scale: np.ndarray | None = None
    latency_steps: int = 1
    origin: str = "LIF"

    def __post_init__(self) -> None:
        super().__post_init__()
        n = int(np.prod(self.shape))
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "bias_mant", int_array(np.broadcast_to(self.bias_mant, (n,))))
        object.__setattr__(self, "bias_exp", int_array(np.broadcast_to(self.bias_exp, (n,))))
        v_reset = 0 if self.v_reset is None else self.v_reset
        object.__setattr__(self, "v_reset", int_array(np.broadcast_to(v_reset, (n,))))
        v_scale = 1.0 if self.v_scale is None else self.v_scale
        object.__setattr__(self, "v_scale", int_array(np.broadcast_to(v_scale, (n,)), np.float64))
        for name in ("vth", "latency_steps"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("du", "dv"):  # one value (as Lava holds) unless neurons differ
            given = np.asarray(getattr(self, name), dtype=np.int64)
            values = np.broadcast_to(given, (n,))
            if given.ndim == 0 or n == 0 or bool((values == values[0]).all()):
                object.__setattr__(self, name, int(given.flat[0]) if given.size else 0)
            else:
                object.__setattr__(self, name, int_array(values))

    @property
    def per_neuron_decays(self) -> bool:
        """True when neurons differ in du or dv: not one Lava process until split-populations runs."""
        return isinstance(self.du, np.ndarray) or isinstance(self.dv, np.ndarray)

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @property
    def is_stock_lava(self) -> bool:
        """True when Lava's own bit-accurate LIF computes exactly this population."""
        return self.spiking and self.reset == "zero" and not self.reset_delay and not self.reset_recheck and not self.v_reset.any()


@dataclass(frozen=True, eq=False)
class LoihiOutput(Node):
    """A graph output: the spikes (``reads="s"``) or integer voltage (``"v"``) of its one source
    layer (of every part of a split layer, put back in layer order by ``gather_parts``)."""

    kind: ClassVar[str] = "LoihiOutput"
    shape: Shape = ()
    reads: str = "s"

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True, eq=False)
class LoihiReadout(Node):
    """A graph output after a stateless chain, computed on the host from recordings, in chip time.

    ``y[t] = sum_j M_j @ x_j[t - lags[j]] + sum_{constant_lags[k] <= t} constants[k]`` where ``x_j``
    is the recording ``reads[j]`` of ``sources[j]`` (a layer, in layer order for a split one, or an
    input): spikes 0/1 (``"s"``) or integer v (``"v"``; ``1 / v_scale`` is folded into ``M_j``).
    ``M_j`` are the consecutive column blocks of ``matrix`` (``widths``). ``y`` lags the float
    model's output by ``latency_steps``, as a population lags its float layer
    (``compiler/loihi/readout.py``; the arithmetic is ``readout.apply_readout``, float64).
    """

    kind: ClassVar[str] = "LoihiReadout"
    shape: Shape
    sources: tuple[str, ...]
    reads: tuple[str, ...]
    lags: tuple[int, ...]
    widths: tuple[int, ...]
    matrix: np.ndarray  # (n_out, sum(widths)) float64
    constant_lags: tuple[int, ...] = ()
    constants: np.ndarray | None = None  # (len(constant_lags), n_out) float64
    latency_steps: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        for name, cast in (("sources", str), ("reads", str), ("lags", int), ("widths", int), ("constant_lags", int)):
            object.__setattr__(self, name, tuple(cast(v) for v in getattr(self, name)))
        object.__setattr__(self, "latency_steps", int(self.latency_steps))
        terms = len(self.sources)
        if not len(self.reads) == len(self.lags) == len(self.widths) == terms:
            raise GraphError(f"a read-out needs one read, lag and width per source, got {terms} sources, "
                             f"{len(self.reads)} reads, {len(self.lags)} lags, {len(self.widths)} widths", parameter="sources")
        if set(self.reads) - {"s", "v"}:
            raise GraphError(f"a read-out reads 's' or 'v', got {sorted(set(self.reads) - {'s', 'v'})}", parameter="reads")
        for name in ("lags", "widths", "constant_lags"):
            if any(v < 0 for v in getattr(self, name)):
                raise GraphError(f"read-out {name} must be >= 0, got {min(getattr(self, name))}", parameter=name, value=min(getattr(self, name)), limit=0)
        consts = np.zeros((0, self.n)) if self.constants is None else np.asarray(self.constants)
        for name, value, want in (("matrix", np.asarray(self.matrix), (self.n, sum(self.widths))),
                                  ("constants", consts, (len(self.constant_lags), self.n))):
            if value.shape != want:
                raise GraphError(f"read-out {name} of shape {value.shape}, expected {want}", parameter=name, value=value.shape, limit=want)
            object.__setattr__(self, name, int_array(value, np.float64))

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    def readout(self) -> Readout:
        """The family-neutral ``Readout`` (recordings keyed ``"<source>.<s|v>"``)."""
        edges = np.cumsum((0,) + self.widths)
        terms = tuple(ReadoutTerm(src, var, lag, self.matrix[:, a:b])
                      for src, var, lag, a, b in zip(self.sources, self.reads, self.lags, edges[:-1], edges[1:]))
        return Readout(self.shape, terms, tuple(zip(self.constant_lags, self.constants)))


def output_latency(graph: Graph, name: str) -> int:
    """Steps by which output ``name`` (a LoihiOutput or LoihiReadout) trails the float model's."""
    node = graph.nodes[name]
    if isinstance(node, LoihiReadout):
        return node.latency_steps
    return max((int(getattr(graph.nodes[src], "latency_steps", 0) or 0) for src in graph.predecessors(name)), default=0)


def layer_parts(graph: Graph) -> dict[str, list[str]]:
    """Every split layer's populations, in graph order: ``{layer: [part, ...]}``."""
    parts: dict[str, list[str]] = {}
    for name, node in graph.items():
        if isinstance(node, LoihiNeurons) and "layer" in node.metadata:
            parts.setdefault(str(node.metadata["layer"]), []).append(name)
    return parts


def layer_shape(graph: Graph, name: str) -> tuple[int, ...]:
    """The shape of population or split layer ``name``."""
    if name in graph.nodes:
        return tuple(graph.nodes[name].shape)
    for node in graph.nodes.values():
        if isinstance(node, LoihiNeurons) and node.metadata.get("layer") == name:
            return tuple(int(s) for s in node.metadata["layer_shape"])
    raise KeyError(name)


def gather_parts(graph: Graph, sources: Sequence[str], get: Callable[[str], np.ndarray]) -> np.ndarray:
    """One array ``[..., n_layer]`` from the ``[..., n_part]`` arrays ``get(part)`` of a layer's parts,
    each neuron back at its place in the layer; a single unsplit source is returned as it is."""
    if len(sources) == 1 and "layer" not in graph.nodes[sources[0]].metadata:
        return get(sources[0])
    first = graph.nodes[sources[0]].metadata
    arrays = [get(p) for p in sources]
    out = np.zeros(arrays[0].shape[:-1] + (int(np.prod(first["layer_shape"])),), arrays[0].dtype)
    for part, arr in zip(sources, arrays):
        out[..., np.asarray(graph.nodes[part].metadata["neuron_index"], np.int64)] = arr
    return out


def merge_part_traces(graph: Graph, traces: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``traces`` with every ``"<part>.<var>"`` ([..., n_part]) replaced by ``"<layer>.<var>"`` in layer order."""
    parts = layer_parts(graph)
    part_names = {p for ps in parts.values() for p in ps}
    out: dict[str, Any] = {}
    for key, arr in traces.items():
        pop, _, var = key.rpartition(".")
        if pop not in part_names:
            out[key] = arr
    for layer, ps in parts.items():
        for var in ("v", "u", "s"):
            if all(f"{p}.{var}" in traces for p in ps):
                out[f"{layer}.{var}"] = gather_parts(graph, ps, lambda p: traces[f"{p}.{var}"])
    return out


LOIHI_NODE_TYPES: dict[str, type[Node]] = {c.kind: c for c in (LoihiInput, Dense, LoihiNeurons, LoihiOutput, LoihiReadout)}
