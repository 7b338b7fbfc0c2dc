"""Running a compiled digits model on a target, in the float model's time, and what it costs there.

``run_on(program, spikes, backend)`` returns every output in float-model
time and units, whatever the target (Loihi's per-Dense latency removed, its
read-out ``v`` rescaled: ``spikec.verification.report.run_in_float_time``).

``fan_out(program)`` is each source population's number of nonzero synapses
per neuron *as compiled* (Loihi's 8-bit Dense matrices, SpiNNaker's synaptic
rows, the RRAM graph's quantised weights): a spike costs that many synaptic
operations there. ``resources(program)`` is what the program occupies.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import spikec
from spikec.ir.weights import count_nonzero
from spikec.verification.metrics import connections, footprint_bytes, neuron_count, static_metrics
from spikec.verification.report import run_in_float_time

def run_on(program: Any, spikes: np.ndarray, backend: str = "reference", *, seed: int = 0, t_s: float = 1.0,
           compensate_drift: bool = False, stats: dict | None = None) -> dict[str, np.ndarray]:
    """Outputs ``{name: [T, B, ...]}`` aligned with the float model (``spikec.verification.report.run_in_float_time``).

    ``stats``, when given, receives the SpiNNaker machine's counters (packets, hops, synaptic events).
    """
    if backend == "rram":
        return run_in_float_time(program, spikes, backend, seed=seed, t_s=t_s, compensate_drift=compensate_drift)
    if backend == "spinnaker" and stats is not None:
        from spikec.backends.spinnaker import run_with_stats

        # record=("v",): the machine records v only when asked, also for read-out Outputs (see docs/digits.md)
        out, machine = run_with_stats(program, spikes, record=("v",))
        out = {k: v for k, v in out.items() if "." not in k}
        stats.update({k: getattr(machine, k) for k in ("packets", "hops", "synaptic_events", "deliveries", "dropped")})
        return out
    return run_in_float_time(program, spikes, backend)


def native_backends(family: str) -> list[str]:
    return {"loihi": ["lava"], "spinnaker": ["spinnaker"], "rram": ["rram"]}.get(family, [])


def fan_out(program: Any) -> dict[tuple[str, str], np.ndarray]:
    """(source, target) -> nonzero synapses per source neuron, as the target stores them."""
    if program.family == "loihi":
        found = {}
        for name, node in program.graph.items():
            if type(node).__name__ == "Dense":
                (src,), (dst,) = program.graph.predecessors(name), program.graph.successors(name)
                found[(src, dst)] = count_nonzero(node.weights, axis=0)  # dense or CSR
        return found
    if program.family == "spinnaker":
        net = program.artefacts["spinnaker"].network
        found = {}
        for syn in net.projections:
            n = net.population(syn.pre).size
            key = (syn.pre, syn.post)
            found[key] = found.get(key, 0) + np.bincount(syn.pre_index, minlength=n)
        return found
    return {(c.source, c.target): (c.weight != 0).sum(axis=0) for c in connections(program.graph)}


def effective_synops(fan: dict[tuple[str, str], np.ndarray], activity: dict[str, np.ndarray]) -> float:
    """Per sample: every nonzero activation times its compiled fan-out (NeuroBench's effective ops)."""
    total, batch = 0.0, None
    for (src, _), count in fan.items():
        x = np.asarray(activity[src])
        batch = x.shape[1]
        total += float(((x.reshape(x.shape[0], x.shape[1], -1) != 0) @ np.asarray(count, dtype=np.float64)).sum())
    return total / batch if batch else 0.0


def resources(program: Any) -> dict[str, Any]:
    """Cores or arrays used: the compiler's placement (``place-loihi``, SpiNNaker, crossbar packing).

    A Loihi program compiled before the placement pass existed has none: then one core per
    population slice of ``neurons_per_core`` (marked as an estimate).
    """
    limits = program.target.limits
    if program.family == "spinnaker":
        r = program.report["spinnaker"]
        return {"unit": "cores", "used": int(r["cores"]), "available": limits.cores_per_chip * int(r.get("chips", 1)),
                "estimated": False}
    if program.family == "rram":
        r = program.report["crossbars"]
        return {"unit": "arrays", "used": int(r["arrays"]), "available": limits.cores_per_chip,
                "utilisation": float(r["utilisation"]), "per_array": list(r["per_array"]), "estimated": False}
    placed = program.report.get("place-loihi")
    if placed:
        return {"unit": "cores", "used": int(placed["cores"]), "available": int(placed["cores_available"]), "estimated": False}
    used = 0
    for node in program.graph.nodes.values():
        if type(node).__name__ == "LoihiNeurons":
            used += math.ceil(int(np.prod(node.shape)) / limits.neurons_per_core)
    return {"unit": "cores", "used": used, "available": limits.cores_per_chip, "estimated": True}


def footprint(program: Any) -> int:
    """NeuroBench's footprint, as the target stores the model (bytes; zero weights included).

    - Loihi: every Dense weight at ``num_weight_bits``; per neuron 24-bit u and v and a 13-bit bias
      mantissa with a 3-bit exponent (du, dv, vth are one value per population: negligible).
    - SpiNNaker: the synaptic rows as compiled (``report["spinnaker"]["synaptic_bytes"]``), plus per
      neuron v and j (32 bits each) and seven 32-bit parameters (decays, threshold, reset, biases).
    - RRAM: two cells per weight at log2(levels) bits each (``cells_used``); per neuron the digital
      periphery's float64 state and parameters (as the float graph: ``static_metrics``).
    """
    if program.family == "loihi":
        items = []
        for node in program.graph.nodes.values():
            kind = type(node).__name__
            if kind == "Dense":
                items.append((int(np.prod(node.weights.shape)), int(node.num_weight_bits)))
            elif kind == "LoihiNeurons":
                items.append((int(np.prod(node.shape)), 24 + 24 + 13 + 3))
        return footprint_bytes(items)
    if program.family == "spinnaker":
        rows = sum(int(v) for v in program.report["spinnaker"]["synaptic_bytes"].values())
        neurons = neuron_count(program.source)
        return rows + footprint_bytes([(neurons, 2 * 32 + 7 * 32)])
    if program.family == "rram":
        r = program.report["crossbars"]
        levels = int(program.target.numeric.levels)
        weights_part = footprint_bytes([(int(r["cells_used"]), math.log2(levels))])
        digital = static_metrics(program.graph, weight_bits=0, parameter_bits=64)["footprint_bytes"]
        return weights_part + digital
    return static_metrics(program.graph)["footprint_bytes"]
