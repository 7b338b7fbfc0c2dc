"""Placement of Loihi neuron populations onto cores.

Each population is split into equal contiguous blocks of neurons, one block
per core, with as few cores as the per-core limits allow:

- neurons per core (``limits.neurons_per_core``);
- synaptic memory per core: every non-zero incoming synapse of the block's
  neurons costs ``weight_bits`` (plus ``delay_bits`` when its Dense has delays)
  plus, for a sparse matrix (under half its entries non-zero), an index of
  ``ceil(log2(n_source))`` bits; a dense matrix is stored without indices;
- fan-in per core (``limits.max_fan_in``): the distinct source neurons that
  reach the block's neurons (input axons).

A block of one neuron that still breaks a limit fails the compile naming the
population, the figure and the limit; so does a total beyond the chip count.

The populations of one split layer (``split-populations``: one per decay
profile, often a handful of neurons each), and the relays of one delay stage
of them (``split-delays``), share cores: consecutive blocks
are packed into one core while the sums of neurons, synaptic bytes and fan-in
(an upper bound on the distinct sources) fit and the core holds at most
``decay_configs_per_core`` profiles (Loihi's compartment configs).
The result is a report (``state.notes["place-loihi"]``): cores used, per-core
neurons, synapses, bytes and fan-in, and their utilisation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...ir import weights
from ...ir.errors import CompileError
from ...ir.graph import Graph
from .nodes import Dense, LoihiNeurons
from ..pipeline import CompileState


@dataclass(frozen=True)
class CoreBlock:
    population: str
    first_neuron: int
    neurons: int
    synapses: int
    synaptic_bytes: int
    fan_in: int
    members: tuple[tuple[str, int, int], ...] = ()  # packed core: (population, first neuron, neurons) each

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "members"}
        if self.members:
            out["populations"] = [{"population": p, "first_neuron": f, "neurons": n} for p, f, n in self.members]
        return out


def core_group(name: str, node: LoihiNeurons) -> str:
    """Populations that may share cores: a split layer's parts, and its relays of one delay stage."""
    return str(node.metadata.get("layer", node.metadata.get("core_group", name)))


def pack_blocks(blocks: list[CoreBlock], limits: Any) -> list[CoreBlock]:
    """Consecutive blocks of one split layer's populations, packed into shared cores (module docstring)."""
    memory = getattr(limits, "synaptic_memory_bytes_per_core", None)
    fan_in_limit = getattr(limits, "max_fan_in", None)
    configs = getattr(limits, "decay_configs_per_core", None) or math.inf  # None: no known limit
    cores: list[list[CoreBlock]] = []
    for b in blocks:
        group = cores[-1] if cores else []
        fits = bool(group) and len(group) < configs \
            and sum(g.neurons for g in group) + b.neurons <= limits.neurons_per_core \
            and (memory is None or sum(g.synaptic_bytes for g in group) + b.synaptic_bytes <= memory) \
            and (fan_in_limit is None or sum(g.fan_in for g in group) + b.fan_in <= fan_in_limit)
        if fits:
            group.append(b)
        else:
            cores.append([b])
    return [g[0] if len(g) == 1 else CoreBlock(
        g[0].population, g[0].first_neuron, sum(b.neurons for b in g), sum(b.synapses for b in g),
        sum(b.synaptic_bytes for b in g), sum(b.fan_in for b in g), tuple((b.population, b.first_neuron, b.neurons) for b in g))
        for g in cores]


def incoming(graph: Graph, population: str) -> list[tuple[str, Dense]]:
    """(source population, Dense) for every Dense feeding ``population``."""
    found = []
    for dense_name in graph.predecessors(population):
        dense = graph.nodes[dense_name]
        if isinstance(dense, Dense):
            (source,) = graph.predecessors(dense_name)
            found.append((source, dense))
    return found


def synapse_bits(dense: Dense, delay_bits: int) -> int:
    """Bits one stored synapse of ``dense`` costs (see the module docstring)."""
    shape = dense.weights.shape
    bits = int(dense.num_weight_bits) + (delay_bits if dense.delays is not None else 0)
    w = dense.weights
    if weights.count_nonzero(w) < shape[0] * shape[1] / 2:
        bits += max(1, math.ceil(math.log2(max(2, shape[1]))))
    return bits


def _rows_cost(w: weights.Matrix, lo: int, hi: int) -> tuple[int, int]:
    """(nonzeros, distinct nonzero columns) of rows ``lo:hi`` of ``w``; a CSR's from its index arrays."""
    if weights.is_sparse(w):  # canonical (Dense): no stored zeros
        cols = w.indices[w.indptr[lo]:w.indptr[hi]]
        return int(cols.size), int(np.count_nonzero(np.bincount(cols, minlength=w.shape[1])))
    rows = np.asarray(w)[lo:hi]
    return int(np.count_nonzero(rows)), int(np.count_nonzero(rows.any(axis=0)))


def block_cost(inputs: list[tuple[str, Dense]], lo: int, hi: int, delay_bits: int) -> tuple[int, int, int]:
    """(synapses, bytes, fan-in) of neurons ``lo:hi`` of a population."""
    synapses = bits = fan_in = 0
    for _, dense in inputs:
        nnz, sources = _rows_cost(dense.weights, lo, hi)
        synapses += nnz
        bits += nnz * synapse_bits(dense, delay_bits)
        fan_in += sources
    return synapses, math.ceil(bits / 8), fan_in


def split_population(name: str, node: LoihiNeurons, inputs: list[tuple[str, Dense]], limits: Any, delay_bits: int) -> list[CoreBlock]:
    """The fewest equal blocks of ``node``'s neurons that each fit one core."""
    n = int(np.prod(node.shape))
    memory = getattr(limits, "synaptic_memory_bytes_per_core", None)
    fan_in_limit = getattr(limits, "max_fan_in", None)
    cores = max(1, math.ceil(n / limits.neurons_per_core))
    while True:
        size = math.ceil(n / cores)
        blocks = []
        for lo in range(0, n, size):
            hi = min(n, lo + size)
            synapses, nbytes, fan_in = block_cost(inputs, lo, hi, delay_bits)
            blocks.append(CoreBlock(name, lo, hi - lo, synapses, nbytes, fan_in))
        fits_memory = memory is None or all(b.synaptic_bytes <= memory for b in blocks)
        fits_fan_in = fan_in_limit is None or all(b.fan_in <= fan_in_limit for b in blocks)
        if fits_memory and fits_fan_in:
            return blocks
        if size == 1:
            break
        cores = min(n, cores + max(1, cores // 4))  # grow geometrically: O(log n) tries
    worst = max(block_cost(inputs, i, i + 1, delay_bits) for i in range(n))
    figure, value, limit = (("synaptic memory of one neuron (bytes)", worst[1], memory)
                            if memory is not None and worst[1] > memory else
                            ("fan-in of one neuron", worst[2], fan_in_limit))
    raise CompileError(
        f"{figure} is {value}, over the per-core limit {limit}: no split of this population fits a core; "
        "prune or split its inputs, or lower the weight precision",
        node=name, parameter=figure, value=value, limit=limit,
    )


@dataclass(frozen=True)
class PlaceLoihi:
    """Split every neuron population into cores within the target's per-core limits."""

    name: ClassVar[str] = "place-loihi"

    def run(self, state: CompileState) -> CompileState:
        graph = state.lowered
        if graph is None:
            raise CompileError("place-loihi needs the lowered graph: run quantise-loihi first")
        limits = state.target.limits
        delay_bits = int(getattr(state.target.numeric, "delay_bits", 0) or 0)
        groups: dict[str, list[CoreBlock]] = {}  # in graph order; a split layer's populations are packed together
        for name, node in graph.items():
            if isinstance(node, LoihiNeurons):
                groups.setdefault(core_group(name, node), []).extend(split_population(name, node, incoming(graph, name), limits, delay_bits))
        split = {core_group(n, node) for n, node in graph.items() if isinstance(node, LoihiNeurons) and core_group(n, node) != n}
        blocks = [b for layer, placed in groups.items() for b in (pack_blocks(placed, limits) if layer in split else placed)]
        available = limits.chips * limits.cores_per_chip
        if len(blocks) > available:
            raise CompileError(
                f"the network needs {len(blocks)} cores, {len(blocks) - available} more than the "
                f"{available} of {limits.chips} chip(s) x {limits.cores_per_chip} cores; raise [limits] chips or shrink the model",
                parameter="cores", value=len(blocks), limit=available,
            )
        notes = {self.name: placement_report(blocks, limits)}
        if state.notes.get("delays", {}).get("stages"):  # the cores relay populations take (a stage's cost)
            from .delay_relays import with_relay_cores

            notes["delays"] = with_relay_cores(state.notes["delays"], [[m[0] for m in b.members] or [b.population] for b in blocks])
        return state.evolve(notes=notes)


def placement_report(blocks: list[CoreBlock], limits: Any) -> dict[str, Any]:
    memory = getattr(limits, "synaptic_memory_bytes_per_core", None)
    per_core = [
        b.to_dict() | {
            "core": i,
            "neuron_utilisation": round(b.neurons / limits.neurons_per_core, 4),
            "memory_utilisation": None if memory is None else round(b.synaptic_bytes / memory, 4),
        }
        for i, b in enumerate(blocks)
    ]
    return {
        "cores": len(blocks),
        "cores_available": limits.chips * limits.cores_per_chip,
        "neurons": sum(b.neurons for b in blocks),
        "synapses": sum(b.synapses for b in blocks),
        "synaptic_bytes": sum(b.synaptic_bytes for b in blocks),
        "per_core": per_core,
    }


def format_placement(report: dict[str, Any]) -> str:
    lines = [f"placement: {report['cores']} of {report['cores_available']} cores, {report['neurons']} neurons, "
             f"{report['synapses']} synapses, {report['synaptic_bytes']} bytes of synaptic memory",
             f"  {'core':>4} {'population':<20} {'neurons':>14} {'synapses':>9} {'bytes':>8} {'fan-in':>6} {'n util':>6} {'mem util':>8}"]
    for c in report["per_core"]:
        mem = "-" if c["memory_utilisation"] is None else f"{c['memory_utilisation']:.3f}"
        span = f"{c['first_neuron']}..{c['first_neuron'] + c['neurons'] - 1}"
        population = c["population"]
        if c.get("populations"):  # a packed core: several populations of one split layer
            population, span = f"{c['populations'][0]['population']}..{c['populations'][-1]['population']}", f"{c['neurons']} in {len(c['populations'])}"
        lines.append(f"  {c['core']:>4} {population:<20} {span:>14} {c['synapses']:>9} {c['synaptic_bytes']:>8} "
                     f"{c['fan_in']:>6} {c['neuron_utilisation']:>6.3f} {mem:>8}")
    return "\n".join(lines)
