"""A csmith for spiking networks: random valid graphs, seeded and reproducible.

``random_graph(seed, spec)`` draws a graph from the distribution ``spec``
describes (``randgraph_spec.GraphSpec``): an optional convolutional front end
(Conv2d -> spiking neurons -> optional Sum/AvgPool2d, repeated, then Flatten),
dense spiking layers (Affine, Linear or DelayLinear -> LIF/CubaLIF/IF), a
read-out layer (LI, Integrator or spiking), plus skip and recurrent Linear
synapses, Delay nodes on feed-forward edges and extra Outputs on hidden layers. Thresholds are
scaled to the expected input (``randgraph_calibrate``) so that graphs spike.

Every graph is normalised (so it survives ``save_nir``/``load_nir`` as
``same_as``) and carries in its metadata ``dt_s``, the recommended input
(``spikec.random.input_rate``, ``spikec.random.steps``) and a one-line
reproducer (``spikec.random.reproducer``). One ``numpy`` Generator seeded
with ``seed`` makes every random choice, in a fixed order.

Node names: ``input``; ``conv1``, ``cneurons1``, ``pool1``, ..., ``flatten``;
``fc1``, ``layer1``, ... (synapse and neurons of dense layer k; the last k is
the read-out); ``delay1`` (after ``layer1``); ``skip0_2`` (from the dense
input, 0, or layer i to layer j); ``rec2_1`` (from layer 2 back to layer 1);
``output``; ``probe1`` (extra Output of ``layer1``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir.check import normalise
from ..ir.errors import InputError
from ..ir.graph import Graph
from ..ir.nodes import (
    IF, LI, LIF, Affine, AvgPool2d, Conv2d, CubaLIF, Delay, DelayLinear, Flatten, Input, Integrator,
    Linear, Node, Output, SumPool2d,
)
from ..ir.shapes import conv_output_size
from .randgraph_calibrate import Activity, expected_rate, firing_rates, membrane, threshold_for, through_conv, through_dense, through_pool
from .randgraph_spec import GraphSpec

__all__ = ["GraphSpec", "random_graph", "random_input", "reproducer"]

META_RATE = "spikec.random.input_rate"
META_STEPS = "spikec.random.steps"
META_SEED = "spikec.random.seed"
META_REPRODUCER = "spikec.random.reproducer"


def reproducer(seed: int, spec: GraphSpec) -> str:
    """One line of Python that rebuilds the graph of ``seed`` and ``spec``."""
    return f"spikec.verification.random_graphs.random_graph(seed={int(seed)}, spec={spec.expression()})"


@dataclass
class _Builder:
    """The graph under construction and the activity statistics of each node's output."""

    rng: np.random.Generator
    spec: GraphSpec
    dt_s: float
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    activity: dict[str, Activity] = field(default_factory=dict)

    def add(self, name: str, node: Node, *sources: str) -> str:
        self.nodes[name] = node
        self.edges.extend((src, name) for src in sources)
        return name

    # --- random parameters ----------------------------------------------------
    def uniform(self, bounds: tuple[float, float]) -> float:
        return float(self.rng.uniform(bounds[0], bounds[1])) if bounds[1] > bounds[0] else float(bounds[0])

    def integer(self, bounds: tuple[int, int]) -> int:
        return int(self.rng.integers(bounds[0], bounds[1] + 1))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def weights(self, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        """Sparse Gaussian weights of a per-synapse scale and mean; every row keeps one excitatory input."""
        spec = self.spec
        scale = 10.0 ** self.uniform(spec.weight_scale_log10)
        density = self.uniform(spec.weight_density)
        w = self.rng.normal(self.uniform(spec.weight_mean), 1.0, size=shape)
        rows = w.reshape(shape[0], -1)
        mask = self.rng.random(rows.shape) < density
        keep = (np.arange(rows.shape[0]), self.rng.integers(0, rows.shape[1], size=rows.shape[0]))
        mask[keep] = True
        rows[keep] = np.abs(rows[keep]) + 0.5  # an excitatory input for every neuron, else some never fire
        rows = rows * mask * scale / np.sqrt(max(1.0, density * fan_in))
        if self.chance(spec.p_weight_outliers):
            hits = self.rng.random(rows.shape) < 0.05
            rows = np.where(hits, rows * 10.0 ** self.rng.uniform(1.0, 2.0, size=rows.shape), rows)
        return rows.reshape(shape)

    def maybe_bias(self, spread: np.ndarray) -> np.ndarray | None:
        """A bias of up to about half the spread of each neuron's synaptic input, or None.

        Scaled to the input's spread, not the weights: against sparse input a
        bias the size of one weight would silence (or saturate) the layer.
        """
        if not self.chance(self.spec.p_bias):
            return None
        return self.rng.normal(0.1, 0.4, size=spread.shape) * spread

    def per_layer(self, draw: Any, shape: tuple[int, ...], per_neuron: bool) -> np.ndarray:
        """A parameter drawn once per layer, or once per neuron."""
        return np.asarray(draw(shape)) if per_neuron else np.full(shape, float(draw(())))


def _decay_tau(b: _Builder, shape: tuple[int, ...]) -> np.ndarray:
    """tau = dt / (1 - beta), beta the per-step decay drawn from ``spec.beta``."""
    lo, hi = b.spec.beta
    beta = b.per_layer(lambda s: b.rng.uniform(lo, hi, size=s), shape, b.spec.per_neuron_tau)
    return b.dt_s / (1.0 - beta)


def _gain(b: _Builder, tau: np.ndarray) -> np.ndarray:
    """r = tau/dt (snnTorch: one input adds one to v) or r = 1 (Norse)."""
    return tau / b.dt_s if b.chance(0.5) else np.ones_like(tau)


def _neuron(b: _Builder, kind: str, drive_in: Activity, drive: float, rate: float, reset: str, delayed: bool, recheck: bool) -> tuple[Node, np.ndarray | None]:
    """A neuron layer of ``kind`` over ``drive_in``'s shape, its threshold scaled to that input,
    and the firing rate of each neuron to expect (None for read-outs)."""
    shape = drive_in.mean.shape
    params: dict[str, np.ndarray] = {}
    if kind in ("LIF", "LI"):
        params["tau"] = _decay_tau(b, shape)
        params["r"] = _gain(b, params["tau"])
    elif kind == "CubaLIF":
        params["tau_syn"] = _decay_tau(b, shape)
        params["tau_mem"] = _decay_tau(b, shape)
        params["w_in"] = _gain(b, params["tau_syn"])
        params["r"] = _gain(b, params["tau_mem"])
    else:  # IF, Integrator
        params["r"] = np.full(shape, 10.0 ** b.uniform((-1.0, 1.0)))
    if kind in ("LI", "Integrator"):
        if kind == "Integrator":
            return Integrator(r=params["r"]), None
        return LI(tau=params["tau"], r=params["r"], v_leak=np.zeros(shape)), None
    v_mean, v_std = membrane(kind, drive_in, params, b.dt_s, rate, max(1, b.spec.steps // 2))
    v_leak = np.zeros(shape)
    if kind != "IF" and b.chance(b.spec.p_leak):
        v_leak = np.full(shape, 0.3 * float(v_std.mean()) * b.rng.normal())
    threshold = threshold_for(v_mean + v_leak, v_std, drive, b.spec.per_neuron_threshold)
    v_reset = np.zeros(shape)
    if reset == "zero" and b.chance(b.spec.p_v_reset):
        v_reset = np.full(shape, float(threshold.mean()) * b.rng.uniform(-0.5, 0.5))
    rates = firing_rates(v_mean + v_leak, v_std, threshold)
    common = dict(v_threshold=threshold, v_reset=v_reset, reset=reset, reset_delay=delayed, reset_recheck=recheck)
    if kind == "LIF":
        return LIF(tau=params["tau"], r=params["r"], v_leak=v_leak, **common), rates
    if kind == "CubaLIF":
        return CubaLIF(tau_syn=params["tau_syn"], tau_mem=params["tau_mem"], r=params["r"], v_leak=v_leak, w_in=params["w_in"], **common), rates
    return IF(r=params["r"], **common), rates


@dataclass(frozen=True)
class _Layer:
    """One planned neuron layer: its kind, width, drive and reset."""

    name: str
    kind: str
    width: int
    drive: float
    reset: str
    delayed: bool
    recheck: bool

    @property
    def spiking(self) -> bool:
        return self.kind in ("LIF", "CubaLIF", "IF")

    @property
    def rate(self) -> float:
        return expected_rate(self.drive)

    def neurons(self, b: _Builder, drive_in: Activity) -> tuple[Node, np.ndarray | None]:
        """The layer's neuron node over ``drive_in``, and its neurons' expected rates."""
        return _neuron(b, self.kind, drive_in, self.drive, self.rate, self.reset, self.delayed, self.recheck)


def _plan_layer(b: _Builder, name: str, kinds: tuple[str, ...], widths: tuple[int, int]) -> _Layer:
    kind = str(b.rng.choice(kinds))
    width, drive = b.integer(widths), b.uniform(b.spec.drive)
    reset, delayed = str(b.rng.choice(b.spec.resets)), b.chance(b.spec.p_reset_delay)
    recheck = reset == "subtract" and not delayed and b.chance(b.spec.p_reset_recheck)
    return _Layer(name, kind, width, drive, reset, delayed, recheck)


def _conv_front(b: _Builder, rate: float) -> str:
    """Input (C, H, W) -> [Conv2d -> neurons -> pool?]* -> Flatten; returns the Flatten's name."""
    spec = b.spec
    size = b.integer(spec.image_size)
    shape: tuple[int, ...] = (b.integer(spec.conv_channels), size, size)
    src = b.add("input", Input(shape=shape))
    b.activity[src] = Activity.spikes(rate, shape)
    for c in range(1, b.integer(spec.conv_layers) + 1):
        k = min(b.integer(spec.kernel_size), shape[1])
        stride = 1 if shape[1] - k < 2 else b.integer((1, 2))
        pad = b.integer((0, k // 2))
        out_hw = conv_output_size(shape[1], k, stride, pad, 1)
        c_out = b.integer(spec.conv_channels)
        weight = b.weights((c_out, shape[0], k, k), fan_in=shape[0] * k * k)
        spread = np.sqrt((weight.reshape(c_out, -1) ** 2).sum(axis=1) * float(b.activity[src].var.mean()))
        bias = b.maybe_bias(spread)
        bias = np.zeros(c_out) if bias is None else bias
        conv = b.add(f"conv{c}", Conv2d(None, weight, (stride, stride), (pad, pad), (1, 1), 1, bias), src)
        shape = (c_out, out_hw, out_hw)
        layer = _plan_layer(b, f"cneurons{c}", spec.neuron_types, (1, 1))
        drive_in = through_conv(weight, bias, b.activity[src], shape)
        neurons, rates = layer.neurons(b, drive_in)
        src = b.add(layer.name, neurons, conv)
        b.activity[src] = Activity(rates, rates * (1.0 - rates))
        pooling = str(b.rng.choice(spec.poolings))
        if pooling != "none" and shape[1] >= 2:
            out_hw = conv_output_size(shape[1], 2, 2, 0, 1)
            pool_cls = AvgPool2d if pooling == "avg" else SumPool2d
            pooled = (shape[0], out_hw, out_hw)
            b.activity[f"pool{c}"] = through_pool(b.activity[src], 4, pooling == "avg", pooled)
            src = b.add(f"pool{c}", pool_cls(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)), src)
            shape = pooled
    flat = b.add("flatten", Flatten(None, 0, -1), src)
    b.activity[flat] = Activity(b.activity[src].mean.reshape(-1), b.activity[src].var.reshape(-1))
    return flat


def _synapse(b: _Builder, name: str, source: str, layer: _Layer, beside: Activity | None = None) -> tuple[str, Activity]:
    """An Affine, Linear or (between hidden layers) DelayLinear from ``source`` to ``layer``,
    and the drive it delivers.

    A skip or recurrent synapse (``beside`` = the feed-forward drive) has no
    bias and is scaled so that its drive's spread is 0.2-0.8 of the
    feed-forward one: a recurrent loop as strong as the input would be
    calibrated for activity it never reaches from a silent start.
    """
    src_act = b.activity[source]
    weight = b.weights((layer.width, src_act.mean.size), fan_in=src_act.mean.size)
    bias = b.maybe_bias(np.sqrt((weight**2) @ src_act.var)) if beside is None else None
    drive = through_dense(weight, bias, src_act)
    if beside is not None:
        wanted = b.uniform((0.2, 0.8)) * np.sqrt(float(beside.var.mean()))
        have = np.sqrt(float(drive.var.mean()))
        factor = wanted / have if have > 0 and wanted > 0 else 1.0
        weight = weight * factor
        drive = Activity(drive.mean * factor, drive.var * factor**2)
    node: Node = Linear(weight) if bias is None else Affine(weight, bias)
    between_layers = isinstance(b.nodes.get(source), (LIF, CubaLIF, IF, Delay))
    if beside is None and between_layers and b.chance(b.spec.p_delay_linear):
        steps = b.rng.integers(0, b.spec.max_delay_steps + 1, size=weight.shape)
        node = DelayLinear(weight, steps * b.dt_s)  # no bias in a DelayLinear
        drive = through_dense(weight, None, src_act)
    b.add(name, node, source)
    return name, drive


def _plan_dense(b: _Builder) -> tuple[list[_Layer], list[tuple[int, int]], list[tuple[int, int]]]:
    """The dense layers (hidden ones, then the read-out), skip pairs (i, j) and recurrent pairs (from, to)."""
    spec = b.spec
    hidden = [_plan_layer(b, f"layer{k}", spec.neuron_types, spec.hidden_size) for k in range(1, b.integer(spec.hidden_layers) + 1)]
    layers = hidden + [_plan_layer(b, f"layer{len(hidden) + 1}", spec.readout_types, spec.output_size)]
    skips = [(i, j) for i in range(len(layers) - 1) for j in range(i + 2, len(layers) + 1) if b.chance(spec.p_skip)]
    recurrent = []
    for k, layer in enumerate(layers, start=1):
        if layer.spiking and b.chance(spec.p_recurrent):
            recurrent.append((k, k if k == 1 or b.chance(0.6) else b.integer((1, k - 1))))
    return layers, skips, recurrent


def _dense_layers(b: _Builder, entry: str) -> None:
    """Hidden layers, the read-out, skip and recurrent synapses, delays and outputs."""
    spec = b.spec
    layers, skips, recurrent = _plan_dense(b)
    for layer in layers:  # what recurrent synapses will see, before the layers exist
        if layer.spiking:
            b.activity[layer.name] = Activity.spikes(layer.rate, (layer.width,))
    sources = {0: entry}
    ff_source = entry
    for k, layer in enumerate(layers, start=1):
        syn, ff_drive = _synapse(b, f"fc{k}", ff_source, layer)
        incoming, drive_in = [syn], ff_drive
        extra = [(f"skip{i}_{j}", sources[i]) for i, j in skips if j == k]
        extra += [(f"rec{i}_{j}", layers[i - 1].name) for i, j in recurrent if j == k]
        for name, source in extra:
            _, drive = _synapse(b, name, source, layer, beside=ff_drive)
            incoming.append(name)
            drive_in = drive_in + drive
        neurons, rates = layer.neurons(b, drive_in)
        b.add(layer.name, neurons, *incoming)
        if rates is not None:  # successors see the rates this threshold gives (recurrent ones saw the plan)
            b.activity[layer.name] = Activity(rates, rates * (1.0 - rates))
        sources[k] = ff_source = layer.name
        if k < len(layers) and b.chance(spec.p_delay):
            steps = b.rng.integers(1, spec.max_delay_steps + 1, size=layer.width if spec.per_element_delay else 1)
            ff_source = b.add(f"delay{k}", Delay(np.broadcast_to(steps, (layer.width,)) * b.dt_s), layer.name)
            b.activity[ff_source] = b.activity[layer.name]
        if k < len(layers) and b.chance(spec.p_hidden_output):
            b.add(f"probe{k}", Output(), layer.name)
    b.add("output", Output(), layers[-1].name)


def random_graph(seed: int, spec: GraphSpec = GraphSpec()) -> Graph:
    """A random valid, normalised graph; the same ``seed`` and ``spec`` give the same graph."""
    rng = np.random.default_rng(int(seed))
    dt_s = float(rng.choice(spec.dt_s))
    b = _Builder(rng, spec, dt_s)
    rate = b.uniform(spec.input_rate)
    if b.chance(spec.p_conv):
        entry = _conv_front(b, rate)
    else:
        width = b.integer(spec.input_size)
        entry = b.add("input", Input(shape=(width,)))
        b.activity[entry] = Activity.spikes(rate, (width,))
    _dense_layers(b, entry)
    metadata = {
        "dt_s": dt_s, META_RATE: rate, META_STEPS: spec.steps, META_SEED: int(seed),
        META_REPRODUCER: reproducer(seed, spec),
    }
    return normalise(Graph(b.nodes, tuple(b.edges), metadata))


def random_input(
    graph: Graph, seed: int, steps: int | None = None, batch: int = 1, rate: float | None = None,
) -> np.ndarray | dict[str, np.ndarray]:
    """Bernoulli spikes ``[steps, batch, *shape]`` (float64 0/1) for the graph's input.

    ``steps`` and ``rate`` default to the recommendation a random graph carries
    (else 50 steps at rate 0.2). A graph with several inputs gets a dict.
    """
    steps = int(graph.metadata.get(META_STEPS, 50)) if steps is None else int(steps)
    rate = float(graph.metadata.get(META_RATE, 0.2)) if rate is None else float(rate)
    if steps < 0 or batch < 1 or not 0.0 <= rate <= 1.0:
        raise InputError(f"random_input needs steps >= 0, batch >= 1 and a rate in [0, 1]; got {steps}, {batch}, {rate}")
    shapes = normalise(graph).nodes if any(not graph.nodes[n].shape for n in graph.inputs) else graph.nodes
    rng = np.random.default_rng(int(seed))
    arrays = {
        name: (rng.random((steps, batch, *shapes[name].shape)) < rate).astype(np.float64) for name in graph.inputs
    }
    return next(iter(arrays.values())) if len(arrays) == 1 else arrays
