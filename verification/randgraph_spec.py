"""What kind of random graphs to draw: the knobs of the random-graph generator.

``GraphSpec`` is a frozen, hashable value: the same seed and the same spec give
the same graph (``random_graphs.random_graph``), and a spec prints as Python
that rebuilds it, so a failing case is one line to replay. Ranges are
``(low, high)`` and inclusive; probabilities are per opportunity (per layer,
per pair of layers, per synapse), as each field says.

Presets: ``small()`` (the default, for sweeps across every target), ``tiny()``
(a handful of neurons, for fast property tests), ``loihi_friendly()`` (only
what a Loihi-family target can express) and ``large(n)`` (benchmarks).
Per-layer uniform time constants and thresholds are the default because
Loihi's LIF has one ``du``/``dv``/``vth`` per population; ``per_neuron_tau``
and ``per_neuron_threshold`` lift that for targets that do not care.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..ir.errors import SpikecError

IntRange = tuple[int, int]
FloatRange = tuple[float, float]

SPIKING_KINDS = ("LIF", "CubaLIF", "IF")
READOUT_KINDS = SPIKING_KINDS + ("LI", "Integrator")
POOLINGS = ("none", "sum", "avg")


@dataclass(frozen=True)
class GraphSpec:
    """The distribution random graphs are drawn from (defaults = ``small()``)."""

    # --- topology -------------------------------------------------------------
    hidden_layers: IntRange = (1, 3)          # dense spiking layers before the read-out
    hidden_size: IntRange = (2, 16)           # neurons per dense layer
    input_size: IntRange = (2, 16)            # dense input width
    output_size: IntRange = (1, 8)            # read-out width
    p_skip: float = 0.2                       # per pair (i, j >= i+2): a Linear i -> j
    p_recurrent: float = 0.3                  # per spiking layer: one recurrent Linear (self or to an earlier layer)
    p_hidden_output: float = 0.1              # per hidden layer: an extra Output recording it
    # --- neurons --------------------------------------------------------------
    neuron_types: tuple[str, ...] = SPIKING_KINDS
    readout_types: tuple[str, ...] = ("LI", "LIF", "CubaLIF", "IF")
    resets: tuple[str, ...] = ("zero", "subtract")
    p_reset_delay: float = 0.3                # snnTorch's delayed reset, per layer
    p_reset_recheck: float = 0.1              # per immediate-subtract layer: snnTorch 1.0's re-test (``reset_recheck``)
    beta: FloatRange = (0.5, 0.98)            # per-step decay 1 - dt/tau
    per_neuron_tau: bool = False              # False: one tau per layer (Loihi)
    per_neuron_threshold: bool = False        # False: one threshold per layer (Loihi)
    p_leak: float = 0.2                       # per layer: nonzero v_leak
    p_v_reset: float = 0.2                    # per zero-reset layer: nonzero v_reset
    drive: FloatRange = (-1.0, 1.5)           # threshold = mean + drive * std of v: low saturates, high is sparse
    # --- synapses -------------------------------------------------------------
    p_bias: float = 0.5                       # per synapse: Affine (with bias) rather than Linear
    weight_scale_log10: FloatRange = (-2.0, 2.0)  # per synapse: typical |w| = 10**U(range)
    weight_mean: FloatRange = (0.0, 0.6)      # per synapse: mean of w in units of its spread
    weight_density: FloatRange = (0.3, 1.0)   # per synapse: fraction of nonzero weights
    p_weight_outliers: float = 0.1            # per synapse: a few weights 10-100x the rest
    # --- convolutional front end ------------------------------------------------
    p_conv: float = 0.15                      # per graph: Conv2d (+ pool) layers + Flatten first
    conv_layers: IntRange = (1, 2)
    conv_channels: IntRange = (1, 4)
    image_size: IntRange = (4, 8)             # input height = width
    kernel_size: IntRange = (1, 3)
    poolings: tuple[str, ...] = POOLINGS
    # --- delays ---------------------------------------------------------------
    p_delay: float = 0.15                     # per feed-forward edge leaving a hidden layer: a Delay node
    max_delay_steps: int = 4                  # delays are 1..max steps (multiples of dt)
    per_element_delay: bool = False           # False: one delay per Delay node (every family now takes either)
    p_delay_linear: float = 0.1               # per synapse between hidden layers: a DelayLinear (a delay per synapse, 0..max steps)
    # --- time and the recommended input -----------------------------------------
    dt_s: tuple[float, ...] = (1e-3, 1e-4)
    input_rate: FloatRange = (0.05, 0.3)      # spike probability per input per step
    steps: int = 50

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("p_") and not 0.0 <= value <= 1.0:
                raise SpikecError(f"GraphSpec.{f.name} is a probability, got {value!r}", parameter=f.name, value=value)
            if isinstance(value, tuple) and len(value) == 2 and f.name not in ("dt_s", "neuron_types", "readout_types", "resets", "poolings") and value[0] > value[1]:
                raise SpikecError(f"GraphSpec.{f.name} range is empty: {value!r}", parameter=f.name, value=value)
        _check_subset("neuron_types", self.neuron_types, SPIKING_KINDS)
        _check_subset("readout_types", self.readout_types, READOUT_KINDS)
        _check_subset("resets", self.resets, ("zero", "subtract"))
        _check_subset("poolings", self.poolings, POOLINGS)
        if min(self.hidden_size[0], self.input_size[0], self.output_size[0], self.conv_channels[0]) < 1:
            raise SpikecError("GraphSpec sizes must be at least 1")
        if self.kernel_size[0] < 1 or self.image_size[0] < 1 or self.hidden_layers[0] < 0 or self.steps < 1 or self.max_delay_steps < 1:
            raise SpikecError("GraphSpec kernel_size, image_size, steps and max_delay_steps must be positive, hidden_layers >= 0")
        if not 0.0 < self.beta[0] <= self.beta[1] < 1.0:
            raise SpikecError(f"GraphSpec.beta must lie in (0, 1), got {self.beta!r}", parameter="beta", value=self.beta)
        if not self.dt_s or min(self.dt_s) <= 0:
            raise SpikecError(f"GraphSpec.dt_s needs positive choices, got {self.dt_s!r}", parameter="dt_s")

    # --- presets ----------------------------------------------------------------
    @classmethod
    def small(cls) -> "GraphSpec":
        """The default for sweeps: every feature, a few dozen neurons, 50 steps."""
        return cls()

    @classmethod
    def tiny(cls) -> "GraphSpec":
        """One or two layers of a few neurons: fast enough for hundreds of property-test cases."""
        return cls(
            hidden_layers=(0, 2), hidden_size=(1, 4), input_size=(1, 4), output_size=(1, 3),
            conv_channels=(1, 2), image_size=(3, 5), conv_layers=(1, 1), input_rate=(0.1, 0.4), steps=30,
        )

    @classmethod
    def loihi_friendly(cls) -> "GraphSpec":
        """What Loihi's LIF + Dense arithmetic expresses without loss of structure.

        One tau and one threshold per layer (one ``du``/``dv``/``vth`` per
        population); reset to zero (Lava's LIF) or by subtraction, ``v_reset``
        and delayed reset (spikec's LIF variants); weights within a modest
        dynamic range and no outliers, so 8-bit weights with one exponent per
        layer keep every synapse nonzero. Delay and DelayLinear nodes as in
        ``small`` (DelayDense delays; per-element delays too, which Loihi holds
        per synapse). No snnTorch ``reset_recheck``: raise ``p_reset_recheck``
        to test it.
        """
        return cls(
            per_neuron_tau=False, per_neuron_threshold=False, weight_scale_log10=(-1.0, 1.0),
            p_weight_outliers=0.0, p_delay=0.15, p_delay_linear=0.1, per_element_delay=True, p_reset_recheck=0.0,
            readout_types=("LI", "LIF", "CubaLIF", "IF"),
            weight_density=(0.5, 1.0),
        )

    @classmethod
    def long_delays(cls) -> "GraphSpec":
        """``small`` with delays up to 64 steps per node (a Delay then a DelayLinear: up to 128, past
        Loihi's 63 and a SpiNNaker row's 31, within its 144: relay chains and delay extensions)
        on most graphs, and 200 steps to see them arrive."""
        return cls(p_delay=0.5, p_delay_linear=0.5, max_delay_steps=64, steps=200)

    @classmethod
    def large(cls, n: int = 1024) -> "GraphSpec":
        """Benchmarks: layers of ``n/2..n`` neurons, sparse weights, no conv, 100 steps."""
        if n < 4:
            raise SpikecError(f"GraphSpec.large needs n >= 4, got {n}", parameter="n", value=n)
        return cls(
            hidden_layers=(2, 4), hidden_size=(n // 2, n), input_size=(n // 4, n // 2),
            output_size=(max(1, n // 64), max(1, n // 16)), p_conv=0.0, weight_density=(0.05, 0.3),
            p_hidden_output=0.0, steps=100,
        )

    def with_(self, **changes) -> "GraphSpec":
        """A copy with some knobs changed (checked like the constructor)."""
        return replace(self, **changes)

    def expression(self) -> str:
        """Python that rebuilds this spec: a preset's name when it is one, else the full constructor."""
        for preset in ("small", "tiny", "loihi_friendly"):
            if self == getattr(GraphSpec, preset)():
                return f"GraphSpec.{preset}()"
        for n in (self.hidden_size[1],):
            if self == GraphSpec.large(n):
                return f"GraphSpec.large({n})"
        return repr(self)


def _check_subset(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not values or any(v not in allowed for v in values):
        raise SpikecError(f"GraphSpec.{name} must be a non-empty subset of {allowed}, got {values!r}", parameter=name, value=values)
