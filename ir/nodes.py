"""Node types of spikec's graph: NIR's primitives as frozen dataclasses.

Each class mirrors the NIR primitive of the same name and keeps NIR's field
names (so conversion is a field copy), plus what NIR cannot say but a faithful
toolchain needs: the reset mode of spiking neurons and snnTorch's reset delay.
Parameters are read-only float64 arrays; shapes are tuples of ints.

The continuous-time dynamics are written in each docstring; how they are
discretised at ``dt`` is written once, in ``docs/semantics.md`` and beside the
code in ``backends/reference/float_executor.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, Mapping

import numpy as np

from .errors import GraphError
from . import weights as _weights

Shape = tuple[int, ...]
ResetMode = Literal["zero", "subtract"]
RESET_MODES: tuple[str, ...] = ("zero", "subtract")

#: Most elements (neurons, or values of a stateless node) one node may take in or put out:
#: 2**24, 16 times a Loihi 2 chip; a larger layer is a hostile or broken file, refused before allocation.
MAX_NODE_ELEMENTS = 2**24
#: Most values one parameter array may hold by default (a 4096 x 4096 weight matrix, 128 MB as float64).
#: An explicit ``max_file_bytes`` (``--max-file-bytes``) raises it for the process: ``allow_array_elements``.
MAX_ARRAY_ELEMENTS = 2**24
_array_limit = [MAX_ARRAY_ELEMENTS]


def array_element_limit() -> int:
    """The per-array cap in force: MAX_ARRAY_ELEMENTS, or more once a caller allowed more."""
    return _array_limit[0]


def allow_array_elements(n: int) -> None:
    """Admit parameter arrays of up to ``n`` values from now on in this process (never lowers the cap).

    A dense 100,000 x 1,000 layer is 10^8 values: the user who asks for a large
    ``max_file_bytes`` asks for arrays that large too, and every later pass
    (which rebuilds nodes through ``as_array``) must accept them.
    """
    _array_limit[0] = max(_array_limit[0], int(n))
#: Most dimensions of a shape or parameter array.
MAX_DIMS = 8


def as_array(value: Any, parameter: str | None = None) -> np.ndarray:
    """A read-only float64 copy of ``value`` (real numbers only, at most ``array_element_limit()`` values)."""
    raw = value if isinstance(value, np.ndarray) else None
    if raw is None:
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError) as exc:  # ragged nested sequences
            raise GraphError(f"parameter {parameter} is not a numeric array ({exc})", parameter=parameter) from exc
    if raw.dtype.kind not in "biuf":
        raise GraphError(
            f"parameter {parameter} must hold real numbers, got dtype {raw.dtype}", parameter=parameter, value=str(raw.dtype),
        )
    limit = _array_limit[0]
    if raw.size > limit or raw.ndim > MAX_DIMS:
        raise GraphError(
            f"parameter {parameter} of shape {raw.shape} exceeds the limit of {limit} elements and {MAX_DIMS} dimensions",
            parameter=parameter, value=raw.shape, limit=limit,
        )
    with np.errstate(over="ignore", invalid="ignore"):  # e.g. long double beyond float64: inf, refused by validate
        arr = np.array(raw, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


def as_matrix(value: Any, parameter: str | None = None) -> "_weights.Matrix":
    """A synaptic matrix: a scipy sparse value as canonical read-only CSR (float64), else ``as_array``.

    The per-array cap counts stored nonzeros of a sparse matrix; a large dense
    matrix that is mostly zeros is carried as CSR too (``ir/weights.py``).
    """
    if not _weights.is_sparse(value):
        arr = as_array(value, parameter)
        return _weights.compact(arr) if arr.ndim == 2 else arr
    if value.dtype.kind not in "biuf":
        raise GraphError(f"parameter {parameter} must hold real numbers, got dtype {value.dtype}",
                         parameter=parameter, value=str(value.dtype))
    limit = _array_limit[0]
    if value.nnz > limit or len(value.shape) != 2:
        raise GraphError(
            f"parameter {parameter} of shape {value.shape} with {value.nnz} nonzeros exceeds the limit of {limit} elements",
            parameter=parameter, value=value.shape, limit=limit,
        )
    return _weights.csr(value)


def as_shape(value: Any, parameter: str | None = None) -> Shape:
    """A tuple of ints from an int-valued scalar or 1-d sequence (no NaN, no fractions, no strings)."""
    try:
        arr = np.atleast_1d(np.asarray(value))
    except (TypeError, ValueError) as exc:
        raise GraphError(f"{parameter} is not a sequence of integers ({exc})", parameter=parameter) from exc
    ok = arr.ndim == 1 and arr.size <= MAX_DIMS and arr.dtype.kind in "iuf"
    if ok and arr.dtype.kind == "f":
        ok = bool(np.all(np.isfinite(arr))) and bool(np.all(arr == np.round(arr))) and bool(np.all(np.abs(arr) < 2**62))
    if not ok:
        shown = repr(value.tolist() if isinstance(value, np.ndarray) and value.size <= 8 else value)
        shown = shown if len(shown) <= 80 and "\n" not in shown else f"a value of shape {np.shape(value)}"
        raise GraphError(
            f"{parameter} must be at most {MAX_DIMS} integers, got {shown}", parameter=parameter, value=shown, limit=MAX_DIMS,
        )
    return tuple(int(v) for v in arr.tolist())


@dataclass(frozen=True, eq=False)
class Node:
    """Base of every node. ``kind`` is the NIR primitive name."""

    kind: ClassVar[str] = "Node"
    #: Fields holding parameter arrays (converted to read-only float64).
    array_fields: ClassVar[tuple[str, ...]] = ()
    #: Array fields that may be sparse (``as_matrix``): the synaptic matrices of Affine and Linear.
    matrix_fields: ClassVar[tuple[str, ...]] = ()
    #: Fields holding shapes or integer tuples.
    shape_fields: ClassVar[tuple[str, ...]] = ()
    #: True for nodes that keep state from one step to the next.
    stateful: ClassVar[bool] = False

    metadata: Mapping[str, Any] = field(default_factory=dict, kw_only=True)

    def __post_init__(self) -> None:
        for name in self.array_fields:
            value = getattr(self, name)
            if value is not None:
                convert = as_matrix if name in self.matrix_fields else as_array
                object.__setattr__(self, name, convert(value, name))
        for name in self.shape_fields:
            value = getattr(self, name)
            if isinstance(value, str) and name != "padding":
                raise GraphError(f"{name} must be integers, got the string {value!r}", parameter=name, value=value)
            if value is not None and not isinstance(value, str):
                object.__setattr__(self, name, as_shape(value, name))
        for name in ("groups", "start_dim", "end_dim"):
            if hasattr(self, name):
                value = as_shape(getattr(self, name), name)
                if len(value) != 1:
                    raise GraphError(f"{name} must be one integer, got {value}", parameter=name, value=value)
                object.__setattr__(self, name, value[0])
        for name in ("reset_delay", "reset_recheck"):
            value = getattr(self, name, False)
            if isinstance(value, np.ndarray) and value.shape == ():
                value = value.item()
            if not (isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1))):
                raise GraphError(f"{name} must be a boolean, got {value!r}", parameter=name, value=repr(value))
            if hasattr(self, name):
                object.__setattr__(self, name, bool(value))
        if not isinstance(self.metadata, Mapping):
            raise GraphError(f"metadata must be a mapping, got {type(self.metadata).__name__}", parameter="metadata")
        object.__setattr__(self, "metadata", dict(self.metadata))

    def params(self) -> dict[str, Any]:
        """The node's fields (without metadata), in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "metadata"}

    def replace(self, **changes: Any) -> "Node":
        values = self.params() | {"metadata": self.metadata} | changes
        return type(self)(**values)

    def same_as(self, other: "Node") -> bool:
        """Structural equality: same type, equal arrays (NaN-free), equal scalars."""
        if type(self) is not type(other):
            return False
        for key, a in self.params().items():
            b = getattr(other, key)
            if _weights.is_sparse(a) or _weights.is_sparse(b):
                if a is None or b is None or not _weights.equal(a, b):
                    return False
            elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or np.shape(a) != np.shape(b) or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True


# --- graph boundary -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Input(Node):
    """A graph input; ``shape`` excludes time and batch."""

    kind: ClassVar[str] = "Input"
    shape_fields: ClassVar[tuple[str, ...]] = ("shape",)
    shape: Shape = ()


@dataclass(frozen=True, eq=False)
class Output(Node):
    """A graph output; recordings are named after this node."""

    kind: ClassVar[str] = "Output"
    shape_fields: ClassVar[tuple[str, ...]] = ("shape",)
    shape: Shape = ()


# --- synapses (stateless, instantaneous) ----------------------------------------


@dataclass(frozen=True, eq=False)
class Affine(Node):
    """y = W x + b, W of shape (out, in)."""

    kind: ClassVar[str] = "Affine"
    array_fields: ClassVar[tuple[str, ...]] = ("weight", "bias")
    matrix_fields: ClassVar[tuple[str, ...]] = ("weight",)
    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class Linear(Node):
    """y = W x, W of shape (out, in)."""

    kind: ClassVar[str] = "Linear"
    array_fields: ClassVar[tuple[str, ...]] = ("weight",)
    matrix_fields: ClassVar[tuple[str, ...]] = ("weight",)
    weight: np.ndarray


@dataclass(frozen=True, eq=False)
class DelayLinear(Node):
    """y_o(t) = sum_i W[o, i] x_i(t - delay[o, i]): a weight and a delay (s) per synapse.

    NIR has no such primitive: it writes one ``Delay -> Linear`` branch per
    distinct delay (``ir/nir_io.py``), which spikec fuses back on import.
    """

    kind: ClassVar[str] = "DelayLinear"
    array_fields: ClassVar[tuple[str, ...]] = ("weight", "delay")
    stateful: ClassVar[bool] = True
    weight: np.ndarray
    delay: np.ndarray

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.delay.shape == self.weight.shape:  # a missing synapse has no delay: canonical 0
            object.__setattr__(self, "delay", as_array(np.where(self.weight != 0, self.delay, 0.0)))


@dataclass(frozen=True, eq=False)
class Scale(Node):
    """y = s * x, elementwise."""

    kind: ClassVar[str] = "Scale"
    array_fields: ClassVar[tuple[str, ...]] = ("scale",)
    scale: np.ndarray


@dataclass(frozen=True, eq=False)
class Conv1d(Node):
    """1-d convolution, weight (C_out, C_in, K); input (C_in, N)."""

    kind: ClassVar[str] = "Conv1d"
    array_fields: ClassVar[tuple[str, ...]] = ("weight", "bias")
    shape_fields: ClassVar[tuple[str, ...]] = ("input_shape", "stride", "padding", "dilation")
    input_shape: Shape | None
    weight: np.ndarray
    stride: Shape
    padding: Shape | str
    dilation: Shape
    groups: int
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class Conv2d(Node):
    """2-d convolution, weight (C_out, C_in/groups, KH, KW); input (C_in, H, W)."""

    kind: ClassVar[str] = "Conv2d"
    array_fields: ClassVar[tuple[str, ...]] = ("weight", "bias")
    shape_fields: ClassVar[tuple[str, ...]] = ("input_shape", "stride", "padding", "dilation")
    input_shape: Shape | None
    weight: np.ndarray
    stride: Shape
    padding: Shape | str
    dilation: Shape
    groups: int
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class SumPool2d(Node):
    """Sum over each window; input (C, H, W)."""

    kind: ClassVar[str] = "SumPool2d"
    shape_fields: ClassVar[tuple[str, ...]] = ("kernel_size", "stride", "padding")
    kernel_size: Shape
    stride: Shape
    padding: Shape


@dataclass(frozen=True, eq=False)
class AvgPool2d(Node):
    """Mean over each window (padding counts as zeros); input (C, H, W)."""

    kind: ClassVar[str] = "AvgPool2d"
    shape_fields: ClassVar[tuple[str, ...]] = ("kernel_size", "stride", "padding")
    kernel_size: Shape
    stride: Shape
    padding: Shape


@dataclass(frozen=True, eq=False)
class MaxPool2d(Node):
    """Max over each window; input (C, H, W). Padding is -inf (never the max), as in torch.

    Not a NIR 1.0.8 primitive and not a synapse: hardware adds weighted spikes,
    it cannot take a max of currents. ``compiler/lower_maxpool.py`` rewrites a
    max over spikes as SumPool2d -> IF (an OR) and refuses a max over currents.
    """

    kind: ClassVar[str] = "MaxPool2d"
    shape_fields: ClassVar[tuple[str, ...]] = ("kernel_size", "stride", "padding")
    kernel_size: Shape
    stride: Shape
    padding: Shape


@dataclass(frozen=True, eq=False)
class Flatten(Node):
    """Reshape dims ``start_dim..end_dim`` of the input (batch excluded) into one."""

    kind: ClassVar[str] = "Flatten"
    shape_fields: ClassVar[tuple[str, ...]] = ("input_shape",)
    input_shape: Shape | None
    start_dim: int = 0
    end_dim: int = -1


@dataclass(frozen=True, eq=False)
class Threshold(Node):
    """z = x > threshold (Heaviside, strict)."""

    kind: ClassVar[str] = "Threshold"
    array_fields: ClassVar[tuple[str, ...]] = ("threshold",)
    threshold: np.ndarray


@dataclass(frozen=True, eq=False)
class Delay(Node):
    """y(t) = x(t - delay), delay in seconds, one per element."""

    kind: ClassVar[str] = "Delay"
    array_fields: ClassVar[tuple[str, ...]] = ("delay",)
    stateful: ClassVar[bool] = True
    delay: np.ndarray


# --- neurons --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LI(Node):
    """Leaky integrator: tau dv/dt = (v_leak - v) + r I; outputs v."""

    kind: ClassVar[str] = "LI"
    array_fields: ClassVar[tuple[str, ...]] = ("tau", "r", "v_leak")
    stateful: ClassVar[bool] = True
    tau: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray


@dataclass(frozen=True, eq=False)
class Integrator(Node):
    """dv/dt = r I; outputs v. Discretised per step as v += r I (see semantics)."""

    kind: ClassVar[str] = "Integrator"
    array_fields: ClassVar[tuple[str, ...]] = ("r",)
    stateful: ClassVar[bool] = True
    r: np.ndarray


@dataclass(frozen=True, eq=False)
class IF(Node):
    """Integrate and fire: dv/dt = r I; z = v > v_threshold; then reset."""

    kind: ClassVar[str] = "IF"
    array_fields: ClassVar[tuple[str, ...]] = ("r", "v_threshold", "v_reset")
    stateful: ClassVar[bool] = True
    r: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    reset: ResetMode = "zero"
    reset_delay: bool = False
    reset_recheck: bool = False


@dataclass(frozen=True, eq=False)
class LIF(Node):
    """tau dv/dt = (v_leak - v) + r I; z = v > v_threshold; then reset.

    ``reset="zero"`` sets v to v_reset, ``"subtract"`` subtracts v_threshold.
    ``reset_delay`` (snnTorch's default) applies the reset one step late.
    ``reset_recheck`` (snnTorch's immediate subtractive reset): the spike test
    also subtracts v_threshold when the stored v of the previous step was
    still above threshold (see docs/semantics.md section 1).
    """

    kind: ClassVar[str] = "LIF"
    array_fields: ClassVar[tuple[str, ...]] = ("tau", "r", "v_leak", "v_threshold", "v_reset")
    stateful: ClassVar[bool] = True
    tau: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    reset: ResetMode = "zero"
    reset_delay: bool = False
    reset_recheck: bool = False


@dataclass(frozen=True, eq=False)
class CubaLIF(Node):
    """Current-based LIF: tau_syn dI/dt = -I + w_in x; then LIF driven by I."""

    kind: ClassVar[str] = "CubaLIF"
    array_fields: ClassVar[tuple[str, ...]] = (
        "tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in",
    )
    stateful: ClassVar[bool] = True
    tau_syn: np.ndarray
    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    w_in: np.ndarray
    reset: ResetMode = "zero"
    reset_delay: bool = False
    reset_recheck: bool = False


NODE_TYPES: dict[str, type[Node]] = {
    cls.kind: cls
    for cls in (
        Input, Output, Affine, Linear, DelayLinear, Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d, MaxPool2d,
        Flatten, Threshold, Delay, LI, Integrator, IF, LIF, CubaLIF,
    )
}
SPIKING_TYPES: tuple[type[Node], ...] = (IF, LIF, CubaLIF, Threshold)
NEURON_TYPES: tuple[type[Node], ...] = (LI, Integrator, IF, LIF, CubaLIF)
SYNAPSE_TYPES: tuple[type[Node], ...] = (Affine, Linear, DelayLinear, Conv1d, Conv2d)
