"""The lowered Loihi graph: Lava's processes, with Lava's own parameter names and units.

A compiled Loihi program is a ``Graph`` of these nodes:
``LoihiInput -> Dense -> LoihiNeurons -> Dense -> ... -> LoihiNeurons -> LoihiOutput``.
Every ``Dense`` joins exactly one source (input or neuron population) to one
neuron population, so a backend builds one ``lava.proc.dense.process.Dense``
per ``Dense`` node and one ``lava.proc.lif.process.LIF`` per ``LoihiNeurons``
node with the fields of the same name (``weights, weight_exp, num_weight_bits,
sign_mode``; ``du, dv, vth, bias_mant, bias_exp``). Populations are flat
(``n`` neurons, C-order over the source layer's ``shape``).

Fields Lava's LIF lacks (``reset``, ``v_reset``, ``reset_delay``, ``reset_recheck``, ``spiking``)
are spikec's exact integer extensions, defined in ``docs/semantics.md``
section 3; ``is_stock_lava`` says when a population needs none of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..ir.nodes import Node, Shape

# lava.utils.weightutils.SignMode values
SIGN_MODES: dict[str, int] = {"mixed": 1, "excitatory": 2, "inhibitory": 3}


def int_array(value: object, dtype: type = np.int32) -> np.ndarray:
    """A read-only integer copy (the bit width is the caller's contract)."""
    arr = np.array(value, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


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
    unchanged). ``sign_mode`` is ``SignMode(sign_mode)``. ``weight_scale`` is
    not Lava's: float weight * weight_scale = integer weight << weight_exp
    (per target row), kept for reports. ``delays`` (int32, same shape, 0..63),
    when set, makes it Lava's ``DelayDense(weights=..., delays=...)``: a spike
    at step t crosses a synapse of delay d at step t + d + 1.
    """

    kind: ClassVar[str] = "Dense"
    weights: np.ndarray
    weight_exp: int
    num_weight_bits: int
    sign_mode: int
    weight_scale: np.ndarray
    delays: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "weights", int_array(self.weights))
        object.__setattr__(self, "weight_scale", int_array(self.weight_scale, np.float64))
        if self.delays is not None:
            object.__setattr__(self, "delays", int_array(np.broadcast_to(self.delays, self.weights.shape)))


@dataclass(frozen=True, eq=False)
class LoihiNeurons(Node):
    """Lava ``LIF(shape=(n,), du=, dv=, vth=, bias_mant=, bias_exp=)`` plus spikec's extensions.

    ``v_scale`` (per neuron) is integer voltage units per float unit of v,
    ``latency_steps`` how many steps this population lags the float reference
    (one per Dense on the forward path). ``origin`` names the source node kind.
    """

    kind: ClassVar[str] = "LoihiNeurons"
    shape: Shape
    du: int
    dv: int
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
        for name in ("du", "dv", "vth", "latency_steps"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @property
    def is_stock_lava(self) -> bool:
        """True when Lava's own bit-accurate LIF computes exactly this population."""
        return self.spiking and self.reset == "zero" and not self.reset_delay and not self.reset_recheck and not self.v_reset.any()


@dataclass(frozen=True, eq=False)
class LoihiOutput(Node):
    """A graph output: the spikes (``reads="s"``) or integer voltage (``"v"``) of its one source."""

    kind: ClassVar[str] = "LoihiOutput"
    shape: Shape = ()
    reads: str = "s"


LOIHI_NODE_TYPES: dict[str, type[Node]] = {c.kind: c for c in (LoihiInput, Dense, LoihiNeurons, LoihiOutput)}
