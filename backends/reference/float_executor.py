"""The float reference executor: a graph, discretised at dt, in float64 numpy (or the frameworks' float32).

This module is the living definition of what a spikec graph means (the text is
``docs/semantics.md`` section 2). One time step evaluates every node once, in
``Graph.execution_order()``; a node's input is the sum of its incoming edges;
a back edge carries its source's output of the previous step (zero at t = 0).
All arrays inside are ``[B, *shape]``; the time loop is the only Python loop,
and each step is one matrix product per layer over the whole batch.
``precision="float32"`` (``float32_kernels``) repeats snnTorch's and Norse's
float32 arithmetic in their operation order instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ...ir import weights
from ...ir.errors import SpikecError
from ...ir.inputs import caller_layout, time_first_inputs
from ...ir.graph import Graph
from ...ir.nodes import (
    IF, LI, LIF, AvgPool2d, Affine, Conv1d, Conv2d, CubaLIF, Delay, DelayLinear, Flatten, Input, Integrator,
    Linear, MaxPool2d, Node, Output, Scale, SumPool2d, Threshold,
)
from ...ir.check import normalise
from ...ir.shapes import conv_geometry, flatten_output, infer_shapes, pool_geometry, pool_map_shape
from . import float32_kernels, float_ops

State = dict[str, np.ndarray]
Step = Callable[[State, np.ndarray], np.ndarray]
PRECISIONS = ("float64", "float32")


@dataclass(frozen=True)
class Kernel:
    """How one node advances one step: ``step(state, x) -> y`` (mutates its own state)."""

    init: Callable[[int], State]
    step: Step
    terms: bool = False  # step takes the list of input terms (float32: the neuron adds them in the framework's order)


def _stateless(fn: Callable[[np.ndarray], np.ndarray]) -> Kernel:
    return Kernel(init=lambda batch: {}, step=lambda state, x: fn(x))


def _spike_and_reset(node: LIF | CubaLIF | IF, state: State, v: np.ndarray) -> np.ndarray:
    """Threshold v (strict ``>``) and reset, now or (``reset_delay``) one step late.

    Delayed reset (snnTorch's default): the reset owed by the spike of step t-1
    is applied at step t to the value that already holds step t's input.
    ``reset_recheck`` (snnTorch's immediate subtraction): a neuron whose stored v
    was still above threshold must clear one more threshold to spike again.
    """
    thr, v_reset = node.v_threshold, node.v_reset
    if node.reset_delay:
        owed = state["s"]
        v = v - owed * thr if node.reset == "subtract" else np.where(owed > 0, v_reset, v)
        s = (v > thr).astype(np.float64)
        state["v"], state["s"] = v, s
        return s
    over = v - thr * (state["v"] > thr) if node.reset_recheck else v  # state["v"]: last step's stored v
    s = (over > thr).astype(np.float64)
    state["v"] = v - s * thr if node.reset == "subtract" else np.where(s > 0, v_reset, v)
    return s


def _lif(node: LIF, dt_s: float, shape: tuple[int, ...]) -> Kernel:
    a = dt_s / node.tau  # Euler: v += a (v_leak - v + r x)
    decay, gain, leak = 1.0 - a, a * node.r, a * node.v_leak

    def step(state: State, x: np.ndarray) -> np.ndarray:
        return _spike_and_reset(node, state, decay * state["v"] + leak + gain * x)

    return Kernel(lambda b: {"v": np.zeros((b, *shape)), "s": np.zeros((b, *shape))}, step)


def _cuba_lif(node: CubaLIF, dt_s: float, shape: tuple[int, ...]) -> Kernel:
    a_syn = dt_s / node.tau_syn  # I += a_syn (-I + w_in x)
    a_mem = dt_s / node.tau_mem  # v += a_mem (v_leak - v + r I)
    i_decay, i_gain = 1.0 - a_syn, a_syn * node.w_in
    v_decay, v_gain, v_leak = 1.0 - a_mem, a_mem * node.r, a_mem * node.v_leak

    def step(state: State, x: np.ndarray) -> np.ndarray:
        i = i_decay * state["i"] + i_gain * x
        state["i"] = i
        return _spike_and_reset(node, state, v_decay * state["v"] + v_leak + v_gain * i)

    init = lambda b: {"v": np.zeros((b, *shape)), "i": np.zeros((b, *shape)), "s": np.zeros((b, *shape))}
    return Kernel(init, step)


def _if(node: IF, shape: tuple[int, ...]) -> Kernel:
    def step(state: State, x: np.ndarray) -> np.ndarray:
        return _spike_and_reset(node, state, state["v"] + node.r * x)

    return Kernel(lambda b: {"v": np.zeros((b, *shape)), "s": np.zeros((b, *shape))}, step)


def _li(node: LI, dt_s: float, shape: tuple[int, ...], dtype: type = np.float64) -> Kernel:
    a = dt_s / node.tau
    decay, gain, leak = (np.asarray(c, dtype) for c in (1.0 - a, a * node.r, a * node.v_leak))

    def step(state: State, x: np.ndarray) -> np.ndarray:
        state["v"] = decay * state["v"] + leak + gain * x
        return state["v"]

    return Kernel(lambda b: {"v": np.zeros((b, *shape), dtype)}, step)


def _integrator(node: Integrator, shape: tuple[int, ...], dtype: type = np.float64) -> Kernel:
    r = np.asarray(node.r, dtype)

    def step(state: State, x: np.ndarray) -> np.ndarray:
        state["v"] = state["v"] + r * x
        return state["v"]

    return Kernel(lambda b: {"v": np.zeros((b, *shape), dtype)}, step)


def _as(a: np.ndarray, dtype: type) -> np.ndarray:
    """float64 arrays untouched (results bit for bit as before), others converted."""
    return a if dtype is np.float64 else a.astype(dtype)


def delay_steps(delay_s: np.ndarray, dt_s: float) -> np.ndarray:
    """Delays in whole steps: round half to even of delay/dt (numpy's ``rint``)."""
    return np.rint(np.asarray(delay_s) / dt_s).astype(np.int64)


def _within(steps: np.ndarray, horizon: int | None) -> np.ndarray:
    """Delays past the run's last step deliver nothing: clamp them to the horizon, so that
    the ring buffer never outgrows the run (a 1e6 s delay must not allocate 1e10 steps)."""
    return steps if horizon is None else np.minimum(steps, horizon)


def _delay(node: Delay, dt_s: float, shape: tuple[int, ...], horizon: int | None = None, dtype: type = np.float64) -> Kernel:
    steps = _within(delay_steps(node.delay, dt_s), horizon)
    length = int(steps.max(initial=0)) + 1

    def init(b: int) -> State:
        return {"buf": np.zeros((length, b, *shape), dtype), "t": np.zeros((), dtype=np.int64)}

    def step(state: State, x: np.ndarray) -> np.ndarray:
        t = int(state["t"])
        buf = state["buf"]
        buf[t % length] = x
        read = (t - steps) % length  # per element
        y = np.take_along_axis(buf, np.broadcast_to(read, (1, *buf.shape[1:])), axis=0)[0]
        state["t"] = np.asarray(t + 1)
        return y

    return Kernel(init, step)


def _delay_linear(node: DelayLinear, dt_s: float, in_shape: tuple[int, ...], horizon: int | None = None,
                  dtype: type = np.float64) -> Kernel:
    """y(t) = sum_k W_k x(t - k), one weight matrix per distinct delay in steps."""
    steps = _within(delay_steps(node.delay, dt_s), horizon)
    groups = [(int(k), _as(np.where(steps == k, node.weight, 0.0).T, dtype)) for k in np.unique(steps)]
    length = int(steps.max(initial=0)) + 1

    def init(b: int) -> State:
        return {"buf": np.zeros((length, b, *in_shape), dtype), "t": np.zeros((), dtype=np.int64)}

    def step(state: State, x: np.ndarray) -> np.ndarray:
        t = int(state["t"])
        buf = state["buf"]
        buf[t % length] = x
        state["t"] = np.asarray(t + 1)
        return sum(buf[(t - k) % length] @ w_t for k, w_t in groups)

    return Kernel(init, step)


def _matrix_product(w: np.ndarray, sparse_below: float = 0.25) -> Callable[[np.ndarray], np.ndarray]:
    """``x @ w.T``; for a few spike vectors (0/1, under a quarter active) the sum of the spiking inputs' weight rows.

    The event-driven sum adds the rows in input order (numpy's reduction over
    axis 0), BLAS in its own blocked order: the two can differ in the last
    bit, as two BLAS builds can. It is what keeps a spiking layer's cost
    proportional to its spikes (``bench/README.md``).
    """
    if weights.is_sparse(w):  # CSR times the batch: a sum over each row's stored entries, in column order
        return lambda x: np.ascontiguousarray((w @ x.T).T)
    w_t = np.ascontiguousarray(w.T)

    def product(x: np.ndarray) -> np.ndarray:
        if x.ndim == 2 and x.shape[0] <= 4 and x.dtype.kind in "biuf":
            active = np.count_nonzero(x, axis=1)
            if active.max(initial=0) < sparse_below * x.shape[1] and np.count_nonzero(x == 1) == active.sum():
                return np.stack([w_t[np.flatnonzero(row)].sum(axis=0) for row in x]).astype(np.result_type(x, w_t))
        return x @ w.T

    return product


def make_kernel(name: str, node: Node, in_shape: tuple[int, ...], dt_s: float | None, horizon: int | None = None,
                precision: str = "float64", style: str = "snntorch") -> Kernel:
    """The step function of one node (``dt_s`` may be None for dt-free graphs; ``horizon``: steps in the run).

    ``precision="float32"``: the frameworks' float32 arithmetic (``float32_kernels``); ``style`` ("snntorch"
    or "norse") picks whose operation order a neuron follows.
    """
    needs_dt = isinstance(node, (LIF, CubaLIF, LI, Delay, DelayLinear))
    if needs_dt and dt_s is None:
        raise SpikecError(f"{node.kind} needs a time step: pass dt", node=name, parameter="dt")
    if needs_dt and not (np.isfinite(dt_s) and dt_s > 0):
        raise SpikecError(f"the time step must be a positive number of seconds, got {dt_s!r}", node=name,
                          parameter="dt", value=dt_s, limit="> 0")
    single = precision == "float32"
    dtype = np.float32 if single else np.float64
    if single:
        rule = float32_kernels.neuron(node, dt_s, in_shape, style)
        if rule is not None:
            return Kernel(rule[0], rule[1], terms=True)
        if isinstance(node, (Affine, Linear)):
            bias = float32_kernels.synapse_bias(node, node.bias if isinstance(node, Affine) else None)
            return _stateless(float32_kernels.affine(weights.to_dense(node.weight), bias))  # torch's dense product
        if isinstance(node, (Conv1d, Conv2d)):
            g = conv_geometry(node)
            torch_conv = float32_kernels.conv(node.weight, node.bias, g["stride"], g["padding"], g["dilation"], node.groups)
            if torch_conv is not None:
                return _stateless(torch_conv)
            w, b = node.weight.astype(dtype), None if node.bias is None else node.bias.astype(dtype)
            return _stateless(lambda x: float_ops.conv(x, w, b, g["stride"], g["padding"], g["dilation"], node.groups))
    if isinstance(node, (Input, Output)):
        return _stateless(lambda x: x)
    if isinstance(node, Affine):
        product, b = _matrix_product(node.weight), node.bias
        return _stateless(lambda x: product(x) + b)
    if isinstance(node, Linear):
        return _stateless(_matrix_product(node.weight))
    if isinstance(node, Scale):
        scale = _as(np.asarray(node.scale), dtype)
        return _stateless(lambda x: x * scale)
    if isinstance(node, Threshold):
        return _stateless(lambda x: (x > node.threshold).astype(dtype))
    if isinstance(node, Flatten):
        def flatten(x: np.ndarray) -> np.ndarray:
            return x.reshape((x.shape[0], *flatten_output(in_shape, node.start_dim, node.end_dim)))

        return _stateless(flatten)
    if isinstance(node, (Conv1d, Conv2d)):
        g = conv_geometry(node)
        return _stateless(
            lambda x: float_ops.conv(x, node.weight, node.bias, g["stride"], g["padding"], g["dilation"], node.groups)
        )
    if isinstance(node, (SumPool2d, AvgPool2d, MaxPool2d)):
        g = pool_geometry(node)
        fn = {SumPool2d: float_ops.sum_pool2d, AvgPool2d: float_ops.avg_pool2d, MaxPool2d: float_ops.max_pool2d}[type(node)]
        if len(in_shape) == 3:
            return _stateless(lambda x: fn(x, g["kernel"], g["stride"], g["padding"]))
        # a (C, L) or (L,) input pools as (C, 1, L) (ir/shapes.pool_map_shape)
        return _stateless(lambda x: fn(x.reshape(x.shape[0], *pool_map_shape(in_shape)), g["kernel"], g["stride"],
                                       g["padding"]).reshape(*x.shape[:-1], -1))
    if isinstance(node, CubaLIF):
        return _cuba_lif(node, dt_s, in_shape)
    if isinstance(node, LIF):
        return _lif(node, dt_s, in_shape)
    if isinstance(node, IF):
        return _if(node, in_shape)
    if isinstance(node, LI):
        return _li(node, dt_s, in_shape, dtype)
    if isinstance(node, Integrator):
        return _integrator(node, in_shape, dtype)
    if isinstance(node, Delay):
        return _delay(node, dt_s, in_shape, horizon, dtype)
    if isinstance(node, DelayLinear):
        return _delay_linear(node, dt_s, in_shape, horizon, dtype)
    raise SpikecError(f"the float executor has no rule for {type(node).__name__}", node=name)


def simulate(
    graph: Graph,
    inputs: Any,
    dt_s: float | None = None,
    *,
    dt: float | None = None,
    record: tuple[str, ...] = (),
    precision: str = "float64",
    progress: Any = None,
) -> dict[str, np.ndarray]:
    """Run ``graph`` on time-first ``inputs`` in float64; one array per Output node.

    ``dt_s`` (alias ``dt``) is the time step in seconds; when omitted, the
    graph's ``metadata["dt_s"]`` (set by the frontends) is used. ``record``
    names neuron state variables (``"v"``, ``"i"``) to return as
    ``"<node>.<var>"`` traces. Outputs keep the input's layout: ``[T, *shape]``
    or ``[T, B, *shape]``. ``precision="float32"`` computes in float32 in
    snnTorch's (or, for ``from_norse`` graphs, Norse's) operation order, with
    torch's matrix products when torch is installed: the spikes then equal the
    framework's at every batch size. ``progress(steps_done)`` is called after
    every step (the CLI's progress bar).
    """
    if precision not in PRECISIONS:
        raise SpikecError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}", parameter="precision",
                          value=precision, limit=" | ".join(PRECISIONS))
    dtype = np.float32 if precision == "float32" else np.float64
    style = "norse" if graph.metadata.get("frontend") == "norse" else "snntorch"
    dt_s = dt_s if dt_s is not None else dt if dt is not None else graph.metadata.get("dt_s")
    graph = normalise(graph)
    shapes = infer_shapes(graph)
    order, back = graph.execution_order()
    xs, batched, steps = time_first_inputs(inputs, {n: graph.nodes[n].shape for n in graph.inputs})
    batch = next(iter(xs.values())).shape[1]
    kernels = {name: make_kernel(name, graph.nodes[name], shapes[name][0], dt_s, horizon=steps, precision=precision,
                                 style=style) for name in order}
    states = {name: kernels[name].init(batch) for name in order}
    preds = {name: [(src, (src, name) in back) for src in graph.predecessors(name)] for name in order}
    if dtype is np.float32:  # a framework adds the recurrent term after the layer's input (snnTorch's RLeaky)
        preds = {name: sorted(p, key=lambda edge: edge[1]) for name, p in preds.items()}
    previous = {name: np.zeros((batch, *shapes[name][1]), dtype) if dtype is np.float64
                else float32_kernels.initial_output(graph.nodes[name], shapes[name][1], batch) for name in order}
    outputs: dict[str, np.ndarray] = {}  # [T, B, ...] each, allocated at step 0 (what np.stack of the steps gives)
    recordings: dict[str, list[np.ndarray]] = {}
    traced = [(n, var) for n in order for var in record if var in states[n] and var not in ("s", "i_decayed")]
    for n, var in traced:
        recordings[f"{n}.{var}"] = []
    for t in range(steps):
        current: dict[str, np.ndarray] = {}
        for name in order:
            kernel = kernels[name]
            if name in xs:
                x = xs[name][t]
                if x.dtype != dtype:  # per step: no copy of all T (kernels never write into their input)
                    x = x.astype(dtype)
            elif kernel.terms:
                x = [previous[src] if is_back else current[src] for src, is_back in preds[name]]
            else:
                x = sum((previous[src] if is_back else current[src]) for src, is_back in preds[name])
            try:
                current[name] = kernel.step(states[name], x)
            except SpikecError:
                raise
            except Exception as exc:
                raise SpikecError(f"while executing step {t}: {type(exc).__name__}: {exc}", node=name) from exc
        for name in graph.outputs:
            y = np.asarray(current[name])
            if name not in outputs:
                outputs[name] = np.empty((steps, *y.shape), y.dtype)
            outputs[name][t] = y
        for n, var in traced:
            recordings[f"{n}.{var}"].append(states[n][var].copy())
        previous = current
        if progress is not None:
            progress(t + 1)
    if steps == 0:
        outputs = {name: np.zeros((0, batch), dtype) for name in graph.outputs}
    traces = {k: np.stack(v) if v else np.zeros((0, batch), dtype) for k, v in recordings.items()}
    return caller_layout(outputs | traces, batched)
