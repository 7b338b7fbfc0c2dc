"""Which ``LI -> LI`` pairs are one current-based leaky integrator: a synaptic current feeding a membrane.

Norse's ``LICell`` (and NIR graphs written from it, NIRTorch's LI chain) is a
synaptic filter followed by a membrane filter: two LI nodes in series. When
the first LI feeds only the second, directly and one to one (a forward edge:
the float reference steps the second on the first's v of the same step), and
the second hears nothing else, the pair is one neuron with two states, the
first LI's v as its current. Every family with such a neuron fuses the pair
into it (Loihi ``compiler/loihi/fusion.py``, SpiNNaker's ``cuba_li`` in
``compiler/spinnaker/quantise.py``); this module only says which pairs, and
nothing about numbers.

Rockpool's ``ExpSyn -> Linear -> ExpSyn`` puts a weight matrix between the
two LIs. An LI with one time constant commutes with a matrix: if
``v <- v + a (v_leak - v + r * I)`` then ``u = W v`` obeys
``u <- u + a (W v_leak - u + W diag(r) I)`` from the same zero start. So
``commute_uniform_lis`` moves such an LI behind the matrix (over the next
layer's neurons), and the two LIs become a pair to fuse.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..ir import weights
from ..ir.graph import Graph
from ..ir.nodes import LI, Affine, Linear
from .pipeline import CompileState


def li_chain_pairs(graph: Graph) -> dict[str, str]:
    """{second LI: first LI} for every LI fed only, directly and one to one, by an LI that feeds nothing else.

    In a longer chain ``LI -> LI -> LI`` only the first pair fuses (in execution
    order): a fused membrane is not the current of another pair, so the third LI
    is fed by a voltage, as it would be unfused."""
    order, back = graph.execution_order()
    pairs: dict[str, str] = {}
    for name in order:
        preds = graph.predecessors(name)
        if not isinstance(graph.nodes[name], LI) or len(preds) != 1:
            continue
        first = preds[0]
        if isinstance(graph.nodes[first], LI) and first not in pairs and graph.successors(first) == (name,) \
                and (first, name) not in back:
            pairs[name] = first
    return pairs


def commute_uniform_lis(graph: Graph) -> Graph:
    """``graph`` with each ``A -> W -> B`` rewritten ``W' -> A' -> B`` (the module docstring).

    Only where it is exact and nothing else sees A's voltage: LI A has one tau and feeds only W (a
    Linear, or an Affine without bias); W hears only A and feeds only LI B; B hears only W; no back
    edge. Then W' = W diag(r_A) takes A's inputs and keeps W's name; A' (A's name) is an LI over B's
    neurons with A's tau, r = 1 and v_leak = W v_leak_A. Anything else is left as it was.
    """
    _, back = graph.execution_order()
    nodes, edges = dict(graph.nodes), list(graph.edges)
    for a_name, a in graph.items():
        if not isinstance(a, LI) or len(graph.successors(a_name)) != 1 or np.ptp(np.asarray(a.tau, dtype=np.float64)) != 0:
            continue
        (w_name,) = graph.successors(a_name)
        w = graph.nodes[w_name]
        if not (isinstance(w, Linear) or (isinstance(w, Affine) and not np.any(w.bias))) \
                or graph.predecessors(w_name) != (a_name,) or len(graph.successors(w_name)) != 1:
            continue
        (b_name,) = graph.successors(w_name)
        if not isinstance(graph.nodes[b_name], LI) or graph.predecessors(b_name) != (w_name,) \
                or {(a_name, w_name), (w_name, b_name)} & set(back):
            continue
        n_in = w.weight.shape[1]
        per_input = lambda x: np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(-1), (n_in,))  # noqa: E731
        leak = np.asarray(w.weight @ per_input(a.v_leak), dtype=np.float64).reshape(-1)
        nodes[w_name] = Linear(weight=weights.matmul(w.weight, weights.diagonal(per_input(a.r))), metadata=w.metadata)
        nodes[a_name] = LI(tau=np.full(leak.size, float(np.ravel(a.tau)[0])), r=np.ones(leak.size), v_leak=leak,
                           metadata={**a.metadata, "spikec.commuted_past": w_name})
        edges = [(p, w_name) if q == a_name else (p, q) for p, q in edges if (p, q) not in ((a_name, w_name), (w_name, b_name))]
        edges += [(w_name, a_name), (a_name, b_name)]
    return graph if nodes == graph.nodes else Graph(nodes, tuple(edges), graph.metadata)


@dataclass(frozen=True)
class CommuteUniformLIs:
    """An LI of one tau feeding a Linear into another LI moves behind the Linear (exact), making an LI pair to fuse."""

    name: ClassVar[str] = "commute-lis"

    def run(self, state: CompileState) -> CompileState:
        return state.evolve(graph=commute_uniform_lis(state.graph))

    def summary(self, state: CompileState) -> str:
        moved = [f"'{n}' past '{node.metadata['spikec.commuted_past']}'" for n, node in state.graph.items()
                 if "spikec.commuted_past" in node.metadata]
        return ("LI " + ", ".join(moved)) if moved else "no LI to move"
