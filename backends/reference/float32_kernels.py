"""The float reference in float32, in the frameworks' own operation order (``precision="float32"``).

float64 is spikec's definition of a graph. Users compare against snnTorch and
Norse, which step in float32; there a rounding differs now and then from
float64 and flips a spike (0.011 % of the entries of a 2 x 1,000 LIF network
at batch 64, 1,000 steps). This mode repeats the frameworks' float32
arithmetic, operation for operation, so that the spikes are equal at every
batch size:

* Linear / Affine / Conv: torch's own ``F.linear`` / ``F.conv*d`` when torch is
  installed (measured: numpy's float32 matmul sums in another order and
  differed from torch in 730 of 1,000 outputs at batch 1, 50,877 of 64,000 at
  batch 64; torch's matmul with a separate ``+ b`` also differs from
  ``F.linear``'s fused bias). Without torch: numpy float32, equal up to
  summation order only.
* snnTorch order (default): ``v = decay v + leak``, then ``+ gain x`` per input
  term, forward terms first and back edges after (``beta mem + input_ +
  recurrent(spk)``), then ``- reset thr``. With snnTorch's coefficients
  (leak 0, gain 1) that is its expression exactly.
* Norse order (graphs from ``from_norse``, ``metadata["frontend"] == "norse"``):
  LIFBox ``v += (dt tau_mem_inv) ((x + v_leak) - v)``; LIF ``i += x;
  v += (dt tau_mem_inv) ((v_leak - v) + i); i += (-dt tau_syn_inv) i``, the
  rates rounded as torch rounds a Python float times a float32 tensor (both
  cast to float32 first). This assumes the cells' ``dt`` equals the graph's.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import numpy as np

# FOLDED_BIAS_KEY / RECURRENT_BIAS_KEY: node metadata written by ``frontends.snntorch.fold_recurrent_biases``,
# the recurrent bias moved onto the feed-forward synapse (float64 adds it there; snnTorch adds it inside
# ``recurrent(spk)``, as float32 mode does)
from ...ir.nir_io import FOLDED_BIAS_KEY, RECURRENT_BIAS_KEY
from ...ir.nodes import LIF, CubaLIF, IF, Node

F32 = np.float32


def f32(value: Any) -> np.ndarray:
    return np.array(value, dtype=F32)  # a writable copy (torch.from_numpy refuses read-only arrays quietly)


@lru_cache(maxsize=1)
def torch_module() -> Any:
    """torch, or None: float32 mode uses torch's own kernels when it can."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def affine(weight: np.ndarray, bias: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray]:
    """``x @ W.T + b`` as ``torch.nn.functional.linear(x, W, b)`` computes it (numpy's sgemm without torch)."""
    w, b = f32(weight), None if bias is None else f32(bias)
    torch = torch_module()
    if torch is None:
        w_t = np.ascontiguousarray(w.T)
        return (lambda x: x @ w_t) if b is None else (lambda x: x @ w_t + b)
    wt, bt = torch.from_numpy(w), None if b is None else torch.from_numpy(b)
    linear = torch.nn.functional.linear

    def product(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return linear(torch.from_numpy(np.ascontiguousarray(x, dtype=F32)), wt, bt).numpy()

    return product


def synapse_bias(node: Node, bias: np.ndarray | None) -> np.ndarray | None:
    """The bias float32 mode adds in this synapse: a folded recurrent bias back where snnTorch adds it.

    float32 values sum exactly in float64, so ``(b_in + b_rec) - b_rec`` is ``b_in`` again.
    """
    folded, recurrent = node.metadata.get(FOLDED_BIAS_KEY), node.metadata.get(RECURRENT_BIAS_KEY)
    if recurrent is not None:
        return np.asarray(recurrent, np.float64)
    if folded is not None and bias is not None:
        return bias - np.asarray(folded, np.float64)
    return bias


def initial_output(node: Node, shape: tuple[int, ...], batch: int) -> np.ndarray:
    """A back edge's value at step 0: zero, or snnTorch's ``recurrent(0) = b``."""
    out = np.zeros((batch, *shape), F32)
    recurrent = node.metadata.get(RECURRENT_BIAS_KEY)
    return out + f32(recurrent) if recurrent is not None else out


def conv(weight: np.ndarray, bias: np.ndarray | None, stride: tuple[int, ...], padding: tuple[int, ...],
         dilation: tuple[int, ...], groups: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """torch's ``conv1d`` / ``conv2d`` in float32, or None without torch (then numpy's einsum in float32)."""
    torch = torch_module()
    if torch is None:
        return None
    fn = {3: torch.nn.functional.conv1d, 4: torch.nn.functional.conv2d}[weight.ndim]
    wt, bt = torch.from_numpy(f32(weight)), None if bias is None else torch.from_numpy(f32(bias))

    def step(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            xt = torch.from_numpy(np.ascontiguousarray(x, dtype=F32))
            return fn(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups).numpy()

    return step


def _add_terms(acc: np.ndarray, gain: np.ndarray | None, terms: list[np.ndarray]) -> np.ndarray:
    """acc + gain t1 + gain t2 ... left to right (gain None: 1, whose product is exact and skipped)."""
    for term in terms:
        acc = acc + (term if gain is None else gain * term)
    return acc


def _gain(values: np.ndarray) -> np.ndarray | None:
    """float32 coefficients, or None where they are all 1.0 (x * 1 == x exactly: skipped)."""
    g = f32(values)
    return None if np.all(g == 1.0) else g


def _offset(values: np.ndarray) -> np.ndarray | None:
    """float32 coefficients, or None where they are all 0.0 (x + 0 == x for every nonzero x and sign-only for 0)."""
    c = f32(values)
    return None if np.all(c == 0.0) else c


def _total(terms: list[np.ndarray]) -> np.ndarray:
    """The input terms summed left to right (a framework's module adds its inputs before the neuron sees them)."""
    acc = terms[0]
    for term in terms[1:]:
        acc = acc + term
    return acc


def spike_and_reset(node: LIF | CubaLIF | IF, state: dict[str, np.ndarray], v: np.ndarray,
                    thr: np.ndarray, v_reset: np.ndarray) -> np.ndarray:
    """float64's rule (``float_executor._spike_and_reset``) on float32 values: ``v > thr``, ``v - s thr``."""
    if node.reset_delay:
        owed = state["s"]
        v = v - owed * thr if node.reset == "subtract" else np.where(owed > 0, v_reset, v)
        s = (v > thr).astype(F32)
        state["v"], state["s"] = v, s
        return s
    if node.reset_recheck:
        over = v - thr * (state["v"] > thr)
        s = (over > thr).astype(F32)
        state["v"] = v - s * thr if node.reset == "subtract" else np.where(s > 0, v_reset, v)
        return s
    fired = v > thr
    if node.reset == "subtract":  # v - s thr: v - thr where s = 1 and v - 0 = v (exact) elsewhere, so only there
        v = v.copy() if v is state["v"] else v
        np.subtract(v, thr, out=v, where=fired)
    else:
        v = np.where(fired, v_reset, v)
    state["v"] = v
    return fired.astype(F32)


def _unit(values: np.ndarray) -> bool:
    return bool(np.allclose(values, 1.0, rtol=1e-9, atol=0.0))


def _torch_rate(a: np.ndarray, dt_s: float) -> np.ndarray:
    """``dt * rate_inv`` as torch rounds it: the float32 rate (recovered from a = dt rate_inv) times float32(dt)."""
    return (F32(dt_s) * f32(np.asarray(a) / dt_s)).astype(F32)


def zeros(batch: int, shape: tuple[int, ...], *names: str) -> dict[str, np.ndarray]:
    return {n: np.zeros((batch, *shape), F32) for n in names}


def lif(node: LIF, dt_s: float, shape: tuple[int, ...], style: str):
    """``(init, step(state, terms))`` of a LIF in float32."""
    a = dt_s / node.tau
    thr, v_reset = f32(node.v_threshold), f32(node.v_reset)
    if style == "norse" and _unit(node.r):
        rate, v_leak = _torch_rate(a, dt_s), _offset(node.v_leak)

        def step(state, terms):
            v, x = state["v"], _total(terms)
            d = np.subtract(x if v_leak is None else x + v_leak, v, dtype=F32)  # v + rate ((x + v_leak) - v),
            np.multiply(rate, d, out=d)                                       # each operation rounded to float32
            np.add(v, d, out=d)                                               # as torch rounds it
            return spike_and_reset(node, state, d, thr, v_reset)
    else:
        decay, gain, leak = f32(1.0 - a), _gain(a * node.r), _offset(a * node.v_leak)

        def step(state, terms):
            v = decay * state["v"]
            return spike_and_reset(node, state, _add_terms(v if leak is None else v + leak, gain, terms), thr, v_reset)

    return (lambda b: zeros(b, shape, "v", "s")), step


def cuba_lif(node: CubaLIF, dt_s: float, shape: tuple[int, ...], style: str):
    a_syn, a_mem = dt_s / node.tau_syn, dt_s / node.tau_mem
    thr, v_reset = f32(node.v_threshold), f32(node.v_reset)
    if style == "norse" and _unit(node.r) and _unit(a_syn * node.w_in):
        rate_mem, v_leak = _torch_rate(a_mem, dt_s), f32(node.v_leak)
        minus_rate_syn = (F32(-dt_s) * f32(a_syn / dt_s)).astype(F32)

        def step(state, terms):
            i = state["i_decayed"] + _total(terms)  # Norse's jumped current: what spikec's I means
            v = state["v"]
            v = v + rate_mem * ((v_leak - v) + i)
            state["i"], state["i_decayed"] = i, i + minus_rate_syn * i
            return spike_and_reset(node, state, v, thr, v_reset)

        return (lambda b: zeros(b, shape, "v", "i", "i_decayed", "s")), step
    i_decay, i_gain = f32(1.0 - a_syn), _gain(a_syn * node.w_in)
    v_decay, v_gain, v_leak = f32(1.0 - a_mem), _gain(a_mem * node.r), _offset(a_mem * node.v_leak)

    def step(state, terms):
        i = _add_terms(i_decay * state["i"], i_gain, terms)
        state["i"] = i
        v = v_decay * state["v"]
        v = _add_terms(v if v_leak is None else v + v_leak, v_gain, [i])
        return spike_and_reset(node, state, v, thr, v_reset)

    return (lambda b: zeros(b, shape, "v", "i", "s")), step


def if_neuron(node: IF, shape: tuple[int, ...]):
    r, thr, v_reset = _gain(node.r), f32(node.v_threshold), f32(node.v_reset)

    def step(state, terms):
        return spike_and_reset(node, state, _add_terms(state["v"], r, terms), thr, v_reset)

    return (lambda b: zeros(b, shape, "v", "s")), step


def neuron(node: Node, dt_s: float | None, shape: tuple[int, ...], style: str):
    """The float32 rule of a spiking node, or None (then the float64 rule runs on float32 arrays)."""
    if isinstance(node, CubaLIF):
        return cuba_lif(node, dt_s, shape, style)
    if isinstance(node, LIF):
        return lif(node, dt_s, shape, style)
    if isinstance(node, IF):
        return if_neuron(node, shape)
    return None
