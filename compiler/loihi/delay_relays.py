"""Loihi delays longer than DelayDense holds: chains of relay populations.

Lava's ``DelayDense`` holds 0..63 steps per synapse (``max_delay_steps``); a
spike crosses a synapse of delay d at step ``t + d + 1``. A *relay* is a stock
Lava LIF population, one neuron per source neuron, that fires in the step its
one input spike arrives and at no other: ``du = dv = 4095`` (u holds only this
step's input, v keeps ``v >> 12`` of the last step, which is 0 after the zero
reset), ``vth = 0``, no bias, fed by an identity ``Dense`` of weight 1 (v = 64
> 0). Relay k of a source is fed by relay k-1 (the source for k = 1) through
delay ``row_max``, so it fires ``k * (row_max + 1)`` steps after the source.
A synapse of total delay d is split by ``quantise_delays.split_delay`` into
``k = stages`` and ``rest``; it is moved to a Dense from relay k with delay
``rest``, so the spike arrives at ``t + k (row_max + 1) + rest + 1 = t + d + 1``,
exactly as the single synapse would. Relays are shared by every target
population of the source (sPyNNaker's delay-extension idea, in neurons), and
``k = ceil((d - row_max) / (row_max + 1))`` is the fewest relays for d.

Everything here is integer and exact, so the reference executor, Lava and the
float graph's timing agree; the cost (neurons, Dense nodes, synapses) is in
``program.report["delays"]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...ir.graph import Graph
from .nodes import SIGN_MODES, Dense, LoihiNeurons
from ..quantise_delays import DelayLimits, check_representable, delay_limits, delay_report, split_delays, with_stages

RELAY = "~delay"


def relay_population(n: int, core_group: str | None = None) -> LoihiNeurons:
    """A stock Lava LIF that fires exactly when its one input spike arrives (see module docstring).

    ``core_group``: relays of one split layer's populations (stage k of each) share cores (place-loihi)."""
    return LoihiNeurons(shape=(n,), du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0, latency_steps=0, origin="relay",
                        metadata={} if core_group is None else {"core_group": core_group})


def _relay_input(n_source: int, row_max: int) -> Dense:
    return Dense(weights=np.eye(n_source, dtype=np.int32), weight_exp=0, num_weight_bits=8,
                 sign_mode=SIGN_MODES["excitatory"], weight_scale=np.ones(n_source), delays=np.full((n_source, n_source), row_max))


def split_long_delays(graph: Graph, limits: DelayLimits) -> tuple[Graph, list[dict[str, Any]], dict[str, int]]:
    """The lowered graph with every Dense delay above ``row_max`` moved onto relay chains; stages and cost."""
    long = {name: node for name, node in graph.items()
            if isinstance(node, Dense) and node.delays is not None and int(node.delays.max()) > limits.row_max}
    if not long:
        return graph, [], {}
    nodes: dict[str, Any] = {}
    edges = [e for e in graph.edges if e[0] not in long and e[1] not in long]
    chains: dict[str, int] = {}  # source -> relays built
    for name, node in graph.items():
        if name not in long:
            nodes.setdefault(name, node)
            continue
        (source,), (target,) = graph.predecessors(name), graph.successors(name)
        check_representable(target, node.delays[node.weights != 0], limits)
        stages, rest = split_delays(node.delays, limits)
        stages = np.where(node.weights != 0, stages, 0)
        n_source = node.weights.shape[1]
        for k in range(chains.get(source, 0) + 1, int(stages.max()) + 1):
            prev, relay = (source if k == 1 else f"{source}{RELAY}{k - 1}"), f"{source}{RELAY}{k}"
            layer = graph.nodes[source].metadata.get("layer")
            group = None if layer is None else f"{layer}{RELAY}{k}"
            nodes[relay + ".in"], nodes[relay] = _relay_input(n_source, limits.row_max), relay_population(n_source, group)
            edges += [(prev, relay + ".in"), (relay + ".in", relay)]
            chains[source] = k
        for k in np.unique(stages[node.weights != 0]):
            keep = (stages == k) & (node.weights != 0)
            part = Dense(weights=np.where(keep, node.weights, 0), weight_exp=node.weight_exp, num_weight_bits=node.num_weight_bits,
                         sign_mode=node.sign_mode, weight_scale=node.weight_scale, delays=np.where(keep, rest, 0))
            part_name, origin = (name, source) if k == 0 else (f"{name}{RELAY}{k}", f"{source}{RELAY}{k}")
            nodes[part_name] = part
            edges += [(origin, part_name), (part_name, target)]
    stage_records = [{"source": s, "stages": k, "cost": {"neurons": k * graph.nodes[s].n, "dense": k, "synapses": k * graph.nodes[s].n}}
                     for s, k in chains.items()]
    cost = {key: sum(r["cost"][key] for r in stage_records) for key in ("neurons", "dense", "synapses")}
    return Graph(nodes, tuple(edges), graph.metadata), stage_records, cost


def with_relay_cores(report: dict[str, Any], core_populations: list[list[str]]) -> dict[str, Any]:
    """The delay report with each relay chain's placed cores added to its cost (the populations of each core;
    a core shared by the relays of several populations of one split layer counts once in the total)."""
    stages = [{**r, "cost": {**r["cost"], "cores": sum(any(p.startswith(r["source"] + RELAY) for p in core) for core in core_populations)}}
              for r in report["stages"]]
    relay_cores = sum(any(RELAY in p for p in core) for core in core_populations)
    return {**report, "stages": stages, "cost": {**report["cost"], "cores": relay_cores}}


@dataclass(frozen=True)
class SplitLoihiDelays:
    """Move synaptic delays above DelayDense's limit onto chains of relay populations (exact, minimal)."""

    name: ClassVar[str] = "split-delays"

    def run(self, state: Any) -> Any:
        limits = delay_limits(state.target)
        lowered, stages, cost = split_long_delays(state.lowered, limits)
        report = state.notes.get("delays") or delay_report(state.graph, state.dt_s)
        return state.evolve(lowered=lowered, notes={"delays": with_stages(report, limits, stages, cost)})
