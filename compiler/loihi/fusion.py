"""Fuse a leaky-integrator chain ``LI -> LI`` into one Loihi read-out with a current and a voltage.

Norse's ``LICell`` (and NIR graphs written from it) is a synaptic filter
followed by a membrane filter: two LI nodes in series. Loihi's two-state
neuron is exactly that pair when it never spikes: u is the first LI (scaled
by the second's input gain), v the second. With the first LI's ``a_A = dt/tau``
and the second's ``a_B``: ``a_u = a_A``, ``a_v = a_B``, input gain
``a_B r_B a_A r_A``, v bias ``a_B v_leak_B + a_B r_B v_leak_A`` (the first
LI's leak at its steady state, as for CubaLIF biases). The first LI then has
no population of its own; its inputs feed the fused read-out.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...ir.graph import Graph
from ...ir.nodes import LI
from ..li_chains import li_chain_pairs
from ..linear_maps import LayerInputs
from .scaling import NeuronCoefficients


def fused_coefficients(first: LI, second: LI, dt_s: float) -> NeuronCoefficients:
    """The two-state coefficients of ``first -> second`` (see the module docstring)."""
    flat = lambda a: np.asarray(a, dtype=np.float64).reshape(-1)
    a_a, a_b = dt_s / flat(first.tau), dt_s / flat(second.tau)
    return NeuronCoefficients(
        a_u=a_a, a_v=a_b, gain=a_b * flat(second.r) * a_a * flat(first.r),
        leak_bias=a_b * flat(second.v_leak) + a_b * flat(second.r) * flat(first.v_leak),
        v_threshold=None, v_reset=np.zeros_like(a_b), reset="zero", reset_delay=False, reset_recheck=False,
        spiking=False, has_current=True,
    )


def fuse_li_chains(graph: Graph, inputs: LayerInputs, dt_s: float | None) -> tuple[LayerInputs, dict[str, NeuronCoefficients], dict[str, str]]:
    """Layer inputs with each fused pair's inputs moved to its second LI, the fused coefficients, and the pairs."""
    if dt_s is None:
        return inputs, {}, {}
    pairs = li_chain_pairs(graph)  # which pairs: family-neutral (compiler/li_chains.py)
    projections, constants = dict(inputs.projections), dict(inputs.constants)
    coefficients: dict[str, NeuronCoefficients] = {}
    for second, first in pairs.items():
        projections[second] = [replace(p, target=second) for p in inputs.projections[first]]
        constants[second] = inputs.constants[first]
        del projections[first]
        coefficients[second] = fused_coefficients(graph.nodes[first], graph.nodes[second], dt_s)
    return LayerInputs(projections, constants, inputs.shapes), coefficients, pairs
