"""Layers whose neurons need different decays: at most N integer (du, dv) profiles, one Lava LIF each.

Lava's LIF holds ``du``, ``dv`` and ``vth`` once per process (a Loihi
compartment config). ``vth`` is already one per layer: the per-neuron voltage
scale ``v_scale`` absorbs threshold differences (``quantise_loihi``). The
decays are quantised per neuron; neurons whose decays round to the same
integers share a profile. A layer may use at most
``[limits] decay_configs_per_core`` profiles (the compartment configs of one
core, so a layer that fits a core still does). Over that, the profiles are
clustered (``cluster_decays``, deterministic) and the change in every decay is
reported as an error budget; with ``decay_clustering = false`` it is a
``CompileError`` naming the layer, the count and the limit.

The ``split-populations`` pass then makes one ``LoihiNeurons`` per profile
(neurons in layer order, in order of each profile's first neuron), splits the
Dense nodes into and out of the layer by rows and columns (all-zero blocks are
dropped: they add exactly 0), and points the layer's outputs at every part.
Executors and backends put results back in layer order under the layer's name
(``loihi_nodes.gather_parts``), so a split changes no result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...ir import weights
from ...ir.errors import CompileError
from ...ir.graph import Graph
from .nodes import Dense, LoihiNeurons
from ..target import Limits, LoihiNumeric


def decay_profiles(du: np.ndarray, dv: np.ndarray) -> int:
    """How many distinct (du, dv) pairs the neurons need."""
    return int(np.unique(np.stack([np.broadcast_to(du, np.shape(dv)), dv], axis=1), axis=0).shape[0]) if np.size(dv) else 0


#: distinct values up to which one varying decay is clustered optimally (dynamic programming, O(limit m^2))
EXACT_1D_MAX = 2048


def cluster_decays(du: np.ndarray, dv: np.ndarray, limit: int, fmt: LoihiNumeric, iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron (du, dv) moved to at most ``limit`` distinct pairs, deterministically.

    Weighted k-means over the distinct pairs (weight: neurons) on
    ``log(1 + d + offset)``, so each decay moves by a similar *relative* amount
    (a slow neuron's ``dv = 4`` and ``dv = 8`` differ by 2x in time constant,
    ``2000`` and ``2004`` hardly at all). Where only one decay varies (LIF:
    ``du = 4095`` throughout) and it takes at most ``EXACT_1D_MAX`` values, the
    clusters are the optimal contiguous runs (dynamic programming); otherwise
    Lloyd's iterations from the pairs sorted by (dv, du) cut into ``limit``
    equal runs. Centres go back to the nearest integers.
    """
    pairs, inverse, counts = np.unique(np.stack([du, dv], axis=1), axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if pairs.shape[0] <= limit:
        return du, dv
    offsets = np.array([fmt.decay_offset_u, fmt.decay_offset_v], np.float64)
    x = np.log1p(pairs + offsets)
    w = counts.astype(np.float64)
    varying = [d for d in (0, 1) if np.ptp(pairs[:, d]) > 0]
    if len(varying) == 1 and pairs.shape[0] <= EXACT_1D_MAX:
        labels = _optimal_runs(x[:, varying[0]], w, limit)  # np.unique sorted the pairs: x is ascending
    else:
        labels = _lloyd(x, w, pairs, limit, iterations)
    top = (1 << fmt.decay_bits) - 1
    rep = {}
    for j in np.unique(labels):
        centre = (x[labels == j] * w[labels == j, None]).sum(axis=0) / w[labels == j].sum()
        rep[int(j)] = np.clip(np.rint(np.expm1(centre) - offsets), 0, top).astype(np.int64)
    chosen = np.stack([rep[int(j)] for j in labels])
    return chosen[inverse, 0], chosen[inverse, 1]


def _optimal_runs(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Labels of the ``k`` contiguous runs of ascending ``x`` with the least weighted squared error."""
    m = x.size
    c0, c1, c2 = (np.concatenate([[0.0], np.cumsum(w * x**p)]) for p in (0, 1, 2))
    i, j = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")  # run i..j (i <= j)
    weight = c0[j + 1] - c0[i]
    cost = np.where(i <= j, c2[j + 1] - c2[i] - (c1[j + 1] - c1[i]) ** 2 / np.where(i <= j, weight, 1.0), np.inf)
    best = cost[0].copy()  # best[j]: runs 0..j in one run
    starts = []
    for _ in range(1, k):
        total = np.concatenate([[np.inf], best[:-1]])[:, None] + cost  # last run i..j after the best of 0..i-1
        start = np.argmin(total, axis=0)  # ties: the earliest start
        best = total[start, np.arange(m)]
        starts.append(start)
    labels = np.empty(m, np.int64)
    end = m - 1
    for run in range(k - 1, -1, -1):
        first = 0 if run == 0 else int(starts[run - 1][end])
        labels[first:end + 1] = run
        end = first - 1
    return labels


def _lloyd(x: np.ndarray, w: np.ndarray, pairs: np.ndarray, k: int, iterations: int) -> np.ndarray:
    """Weighted Lloyd iterations from the pairs sorted by (dv, du), cut into ``k`` equal runs."""
    labels = np.empty(pairs.shape[0], np.int64)
    for j, run in enumerate(np.array_split(np.lexsort((pairs[:, 0], pairs[:, 1])), k)):
        labels[run] = j
    for _ in range(iterations):
        used = np.unique(labels)
        centres = np.stack([(x[labels == j] * w[labels == j, None]).sum(axis=0) / w[labels == j].sum() for j in used])
        new = used[np.argmin(((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)]  # ties: the first
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def error_budget(before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray], fmt: LoihiNumeric) -> dict[str, Any]:
    """Per decay: max and mean |change| in integer units and relative to the decay fraction ``(d + offset) / 4096``."""
    out: dict[str, Any] = {}
    for label, b, a, offset in (("du", before[0], after[0], fmt.decay_offset_u), ("dv", before[1], after[1], fmt.decay_offset_v)):
        change = np.abs(a.astype(np.int64) - b.astype(np.int64))
        rel = change / np.maximum(b + offset, 1)
        out[label] = {"max_abs": int(change.max(initial=0)), "mean_abs": float(change.mean()) if change.size else 0.0,
                      "max_rel": float(rel.max(initial=0.0)), "mean_rel": float(rel.mean()) if rel.size else 0.0,
                      "neurons_changed": int((change > 0).sum())}
    return out


def limit_profiles(name: str, du: np.ndarray, dv: np.ndarray, limits: Limits, fmt: LoihiNumeric) -> tuple[np.ndarray, np.ndarray, dict[str, Any] | None]:
    """(du, dv) per neuron within ``decay_configs_per_core`` profiles, and the clustering report (None if not needed)."""
    du, dv = np.broadcast_to(du, np.shape(dv)).astype(np.int64), np.asarray(dv, np.int64)
    limit = limits.decay_configs_per_core
    need = decay_profiles(du, dv)
    if limit is None or need <= limit:
        return du, dv, None
    if not limits.decay_clustering:
        raise CompileError(
            f"{need} distinct (du, dv) decay profiles after quantisation, limit {limit} (decay_configs_per_core); "
            f"set decay_clustering = true in the target's [limits] to cluster them, or use fewer distinct time constants",
            node=name, parameter="decay profiles", value=need, limit=limit,
        )
    new_du, new_dv = cluster_decays(du, dv, limit, fmt)
    report = {"profiles_requested": need, "profiles_kept": decay_profiles(new_du, new_dv), "limit": limit,
              "error": error_budget((du, dv), (new_du, new_dv), fmt)}
    return new_du, new_dv, report


def clustering_warning(name: str, report: dict[str, Any]) -> str:
    e = report["error"]
    return (f"node '{name}': {report['profiles_requested']} decay profiles clustered into {report['profiles_kept']} "
            f"(limit {report['limit']}): du max |change| {e['du']['max_abs']} ({e['du']['max_rel']:.2%}), mean {e['du']['mean_abs']:.3g}; "
            f"dv max |change| {e['dv']['max_abs']} ({e['dv']['max_rel']:.2%}), mean {e['dv']['mean_abs']:.3g}")


# --- the pass ----------------------------------------------------------------------


def _groups(node: LoihiNeurons) -> list[np.ndarray]:
    """Neuron indices of each (du, dv) profile, in order of the profile's first neuron."""
    du = np.broadcast_to(np.asarray(node.du), (node.n,))
    dv = np.broadcast_to(np.asarray(node.dv), (node.n,))
    _, first, inverse = np.unique(np.stack([du, dv], axis=1), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    return [np.flatnonzero(inverse == g) for g in np.argsort(first, kind="stable")]


def part_name(layer: str, k: int) -> str:
    return f"{layer}[{k}]"


def split_layer(name: str, node: LoihiNeurons) -> list[tuple[str, LoihiNeurons, np.ndarray]]:
    """(part name, population, neuron indices) per profile of a layer with per-neuron decays."""
    du = np.broadcast_to(np.asarray(node.du), (node.n,))
    dv = np.broadcast_to(np.asarray(node.dv), (node.n,))
    parts = []
    for k, idx in enumerate(_groups(node)):
        meta = {**dict(node.metadata), "layer": name, "layer_shape": tuple(node.shape), "neuron_index": idx.astype(np.int32)}
        part = LoihiNeurons(
            shape=(idx.size,), du=int(du[idx[0]]), dv=int(dv[idx[0]]), vth=node.vth, bias_mant=node.bias_mant[idx],
            bias_exp=node.bias_exp[idx], reset=node.reset, v_reset=node.v_reset[idx], reset_delay=node.reset_delay,
            reset_recheck=node.reset_recheck, spiking=node.spiking, v_scale=node.v_scale[idx],
            latency_steps=node.latency_steps, origin=node.origin, metadata=meta,
        )
        parts.append((part_name(name, k), part, idx))
    return parts


def _block(d: Dense, rows: np.ndarray | None, cols: np.ndarray | None) -> Dense | None:
    """Rows (target neurons) and columns (source neurons) of a Dense; None when all its weights are 0."""
    r = slice(None) if rows is None else rows
    c = slice(None) if cols is None else cols
    block = weights.select(d.weights, rows, cols)  # CSR stays CSR
    if not weights.any_nonzero(block):
        return None
    return Dense(weights=block, weight_exp=d.weight_exp, num_weight_bits=d.num_weight_bits, sign_mode=d.sign_mode,
                 weight_scale=d.weight_scale[r], delays=None if d.delays is None else d.delays[r][:, c], metadata=d.metadata)


def split_populations(graph: Graph) -> tuple[Graph, dict[str, Any]]:
    """The lowered graph with every layer of per-neuron decays split (see module docstring), and the report."""
    split = {n: split_layer(n, node) for n, node in graph.items() if isinstance(node, LoihiNeurons) and node.per_neuron_decays}
    layers = {n: {"neurons": node.n, "populations": len(split[n]) if n in split else 1,
                  "parts": [{"name": p, "neurons": int(idx.size), "du": part.du, "dv": part.dv, "vth": part.vth} for p, part, idx in split.get(n, [])]}
              for n, node in graph.items() if isinstance(node, LoihiNeurons)}
    report = {"layers": layers, "split_layers": sorted(split), "populations": sum(r["populations"] for r in layers.values())}
    if not split:
        return graph, report
    pieces = lambda n: [(p, idx) for p, _, idx in split[n]] if n in split else [(n, None)]
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    for name, node in graph.items():
        if name in split:
            nodes |= {p: part for p, part, _ in split[name]}
        elif isinstance(node, Dense):
            (source,), (target,) = graph.predecessors(name), graph.successors(name)
            if source not in split and target not in split:
                nodes[name] = node
                continue
            base = f"{source}->{target}"
            suffix = name[len(base):] if name.startswith(base) else f"|{name}"
            for t, rows in pieces(target):
                for s, cols in pieces(source):
                    block = _block(node, rows, cols)
                    if block is not None:
                        nodes[f"{s}->{t}{suffix}"] = block
                        edges += [(s, f"{s}->{t}{suffix}"), (f"{s}->{t}{suffix}", t)]
        else:
            nodes[name] = node
    for a, b in graph.edges:
        if isinstance(graph.nodes[a], Dense) and a not in nodes or isinstance(graph.nodes[b], Dense) and b not in nodes:
            continue  # a Dense that was split: its parts' edges are above
        if a in split:
            edges += [(p, b) for p, _ in pieces(a)]
        elif b in split:
            edges += [(a, p) for p, _ in pieces(b)]
        else:
            edges.append((a, b))
    return Graph(nodes, tuple(edges), graph.metadata), report


def check_threshold_profiles(graph: Graph, limits: Limits) -> None:
    """Distinct vth per layer against ``threshold_configs_per_core`` (one per layer by construction)."""
    limit = limits.threshold_configs_per_core
    seen: dict[str, set[int]] = {}
    for name, node in graph.items():
        if isinstance(node, LoihiNeurons) and node.spiking:
            seen.setdefault(str(node.metadata.get("layer", name)), set()).add(node.vth)
    for layer, values in seen.items():
        if limit is not None and len(values) > limit:
            raise CompileError(f"{len(values)} distinct vth in one layer, limit {limit} (threshold_configs_per_core)",
                               node=layer, parameter="vth profiles", value=len(values), limit=limit)


@dataclass(frozen=True)
class SplitPopulations:
    """One Lava LIF per integer (du, dv, vth) profile of a layer; Dense split by rows and columns."""

    name: ClassVar[str] = "split-populations"

    def run(self, state: Any) -> Any:
        if state.lowered is None:
            raise CompileError("split-populations needs the lowered graph: run quantise-loihi first")
        lowered, report = split_populations(state.lowered)
        check_threshold_profiles(lowered, state.target.limits)
        return state.evolve(lowered=lowered, notes={self.name: report})
