"""The RRAM family's digital format: float64 neurons and the non-crossbar operators.

An RRAM chip computes the weighted sums in the arrays and everything else in
digital logic next to them. spikec models that logic in float64 with the
float reference's equations (``docs/semantics.md`` sections 2 and 5), written
again here so that this backend depends on the compiled program only, not on
the reference backend (``backends/`` never import each other). Per step, with
``a = dt / tau``:

* LIF: ``v <- (1 - a) v + a v_leak + a r x``; CubaLIF first
  ``I <- (1 - a_syn) I + a_syn w_in x`` then LIF on ``I``; IF: ``v <- v + r x``;
  LI and Integrator as LIF and IF without spikes;
* spike ``s = v > v_threshold``; reset ``zero``: ``v <- v_reset`` where
  ``s``; ``subtract``: ``v <- v - s v_threshold``; with ``reset_delay`` the
  reset owed by step t-1's spike is applied at step t after integration,
  before the threshold test (snnTorch's default); with ``reset_recheck`` the
  test is ``v - v_threshold [v_stored(t-1) > v_threshold] > v_threshold``;
* Delay: ``rint(delay / dt)`` whole steps; Threshold, Scale, Flatten, pooling.

Arrays are ``[B, *shape]``. Each kernel is ``(init(batch) -> state, step(state, x) -> y)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...ir.errors import SpikecError
from ...ir.nodes import IF, LI, LIF, AvgPool2d, CubaLIF, Delay, Flatten, Input, Integrator, Node, Output, Scale, SumPool2d, Threshold
from ...ir.shapes import flatten_output, pool_geometry, pool_map_shape

State = dict[str, np.ndarray]
Kernel = tuple[Callable[[int], State], Callable[[State, np.ndarray], np.ndarray]]


def _zeros(shape: tuple[int, ...], *names: str) -> Callable[[int], State]:
    return lambda b: {n: np.zeros((b, *shape)) for n in names}


def _fire(node: LIF | CubaLIF | IF, state: State, v: np.ndarray) -> np.ndarray:
    thr = node.v_threshold
    subtract = node.reset == "subtract"
    if node.reset_delay:
        owed = state["s"]
        v = v - owed * thr if subtract else np.where(owed > 0, node.v_reset, v)
        s = (v > thr).astype(np.float64)
        state["v"], state["s"] = v, s
        return s
    # snnTorch's immediate subtraction re-tests last step's stored v (reset_recheck)
    tested = v - thr * (state["v"] > thr) if node.reset_recheck else v
    s = (tested > thr).astype(np.float64)
    state["v"] = v - s * thr if subtract else np.where(s > 0, node.v_reset, v)
    return s


def _lif(node: LIF, dt_s: float, shape: tuple[int, ...]) -> Kernel:
    a = dt_s / node.tau

    def step(state: State, x: np.ndarray) -> np.ndarray:
        return _fire(node, state, (1.0 - a) * state["v"] + a * node.v_leak + a * node.r * x)

    return _zeros(shape, "v", "s"), step


def _cuba(node: CubaLIF, dt_s: float, shape: tuple[int, ...]) -> Kernel:
    a_syn, a_mem = dt_s / node.tau_syn, dt_s / node.tau_mem

    def step(state: State, x: np.ndarray) -> np.ndarray:
        state["i"] = (1.0 - a_syn) * state["i"] + a_syn * node.w_in * x
        return _fire(node, state, (1.0 - a_mem) * state["v"] + a_mem * node.v_leak + a_mem * node.r * state["i"])

    return _zeros(shape, "v", "i", "s"), step


def _li(node: LI, dt_s: float, shape: tuple[int, ...]) -> Kernel:
    a = dt_s / node.tau

    def step(state: State, x: np.ndarray) -> np.ndarray:
        state["v"] = (1.0 - a) * state["v"] + a * node.v_leak + a * node.r * x
        return state["v"]

    return _zeros(shape, "v"), step


def _accumulate(node: IF | Integrator, shape: tuple[int, ...]) -> Kernel:
    def step(state: State, x: np.ndarray) -> np.ndarray:
        v = state["v"] + node.r * x
        if isinstance(node, IF):
            return _fire(node, state, v)
        state["v"] = v
        return v

    return _zeros(shape, "v", "s"), step


def _delay(node: Delay, dt_s: float, shape: tuple[int, ...]) -> Kernel:
    steps = np.rint(node.delay / dt_s).astype(np.int64)
    length = int(steps.max(initial=0)) + 1

    def init(b: int) -> State:
        return {"buf": np.zeros((length, b, *shape)), "t": np.zeros((), dtype=np.int64)}

    def step(state: State, x: np.ndarray) -> np.ndarray:
        t = int(state["t"])
        state["buf"][t % length] = x
        read = np.broadcast_to((t - steps) % length, (1, *state["buf"].shape[1:]))
        state["t"] = np.asarray(t + 1)
        return np.take_along_axis(state["buf"], read, axis=0)[0]

    return init, step


def _pool(node: SumPool2d | AvgPool2d) -> Callable[[np.ndarray], np.ndarray]:
    g = pool_geometry(node)
    k, s, p = g["kernel"], g["stride"], g["padding"]

    def pool(x: np.ndarray) -> np.ndarray:
        lead = x.shape[:-1]  # a (C, L) or (L,) input pools as (C, 1, L)
        x = x.reshape(x.shape[0], *pool_map_shape(x.shape[1:]))
        x = np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])]) if any(p) else x
        win = sliding_window_view(x, k, axis=(2, 3))[:, :, :: s[0], :: s[1]]
        total = win.sum(axis=(-2, -1))
        total = total / float(np.prod(k)) if isinstance(node, AvgPool2d) else total
        return total if len(lead) == 3 else total.reshape(*lead, total.shape[-1])

    return pool


def make_kernel(name: str, node: Node, in_shape: tuple[int, ...], dt_s: float | None) -> Kernel:
    """The digital step of a non-crossbar node."""
    if isinstance(node, (LIF, CubaLIF, LI, Delay)) and dt_s is None:
        raise SpikecError(f"{node.kind} needs a time step: pass dt_s", node=name, parameter="dt_s")
    stateless: Callable[[np.ndarray], np.ndarray] | None = None
    if isinstance(node, (Input, Output)):
        stateless = lambda x: x
    elif isinstance(node, Scale):
        stateless = lambda x: x * node.scale
    elif isinstance(node, Threshold):
        stateless = lambda x: (x > node.threshold).astype(np.float64)
    elif isinstance(node, Flatten):
        out = flatten_output(in_shape, node.start_dim, node.end_dim)
        stateless = lambda x: x.reshape((x.shape[0], *out))
    elif isinstance(node, (SumPool2d, AvgPool2d)):
        stateless = _pool(node)
    if stateless is not None:
        fn = stateless
        return (lambda b: {}), (lambda state, x: fn(x))
    if isinstance(node, CubaLIF):
        return _cuba(node, dt_s, in_shape)
    if isinstance(node, LIF):
        return _lif(node, dt_s, in_shape)
    if isinstance(node, LI):
        return _li(node, dt_s, in_shape)
    if isinstance(node, (IF, Integrator)):
        return _accumulate(node, in_shape)
    if isinstance(node, Delay):
        return _delay(node, dt_s, in_shape)
    raise SpikecError(f"the RRAM backend has no digital rule for {type(node).__name__}", node=name)
