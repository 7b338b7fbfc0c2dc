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
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.nodes import LI


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
