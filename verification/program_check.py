"""Is a saved program what its own source graph compiles to? (``spikec verify PROGRAM``)

Hashes in a manifest prove a program is intact, not that it is honest: anyone
can change a weight and recompute them. A program keeps its normalised source
graph and its target, so it can be checked against a fresh compile of that
source: the lowered graphs are compared array by array (the first differing
entry is named), and the stored program and the recompile are run on the same
seeded spikes on the reference executor (or a native backend), spike for
spike. Given the original model too, the stored source graph is compared with
it, which finds a source graph changed in step with the lowered one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir.graph import Graph
from .fidelity import compile as compile_graph
from ..backends import run
from ..compiler.program import Program, _artefact_bytes, graph_to_records
from .verify import Mismatch, first_difference, random_spikes


@dataclass(frozen=True)
class GraphDifference:
    """Where two graphs of the same structure first differ."""

    graph: str  # "graph" (lowered) or "source"
    node: str
    field: str
    what: str  # "values", "dtype", "shape", "scalar", "structure"
    differing: int = 0
    total: int = 0
    index: tuple[int, ...] = ()
    stored: Any = None
    expected: Any = None

    def __str__(self) -> str:
        if self.what == "values":
            return (f"{self.graph}: node '{self.node}' {self.field}: {self.differing} of {self.total} entries differ; "
                    f"first at {self.index}: stored {self.stored}, expected {self.expected}")
        return f"{self.graph}: node '{self.node}' {self.field}: {self.what} differs: stored {self.stored!r}, expected {self.expected!r}"


@dataclass(frozen=True)
class ProgramCheck:
    differences: tuple[GraphDifference, ...]
    run_mismatches: int
    first_mismatch: Mismatch | None
    backend: str
    steps: int
    batch: int

    @property
    def ok(self) -> bool:
        return not self.differences and self.run_mismatches == 0


def compare_graphs(stored: Graph, expected: Graph, which: str) -> list[GraphDifference]:
    """Every node and field where ``stored`` departs from ``expected`` (exact: dtypes and values)."""
    a_rec, a_arr = graph_to_records(stored, which)
    b_rec, b_arr = graph_to_records(expected, which)
    a_nodes, b_nodes = {n["name"]: n for n in a_rec["nodes"]}, {n["name"]: n for n in b_rec["nodes"]}
    out: list[GraphDifference] = []
    if a_nodes.keys() != b_nodes.keys() or a_rec["edges"] != b_rec["edges"]:
        return [GraphDifference(which, "*", "nodes/edges", "structure", stored=sorted(a_nodes), expected=sorted(b_nodes))]
    for name in a_nodes:
        a, b = a_nodes[name], b_nodes[name]
        if a["class"] != b["class"] or a["arrays"].keys() != b["arrays"].keys():
            out.append(GraphDifference(which, name, "class", "structure", stored=a["class"], expected=b["class"]))
            continue
        for key in sorted(set(a["scalars"]) | set(b["scalars"])):
            if a["scalars"].get(key) != b["scalars"].get(key):
                out.append(GraphDifference(which, name, key, "scalar", stored=a["scalars"].get(key), expected=b["scalars"].get(key)))
        for key, ref in sorted(a["arrays"].items()):
            x, y = a_arr[ref], b_arr[b["arrays"][key]]
            if x.dtype != y.dtype or x.shape != y.shape:
                what = "dtype" if x.shape == y.shape else "shape"
                out.append(GraphDifference(which, name, key, what, stored=str(x.dtype) if what == "dtype" else x.shape,
                                           expected=str(y.dtype) if what == "dtype" else y.shape))
                continue
            diff = ~((x == y) | (np.isnan(x) & np.isnan(y))) if x.dtype.kind == "f" else x != y
            if diff.any():
                index = tuple(int(i) for i in np.argwhere(diff)[0])
                out.append(GraphDifference(which, name, key, "values", int(diff.sum()), int(diff.size), index,
                                           x[index].item(), y[index].item()))
    return out


def compare_artefacts(stored: Program, expected: Program) -> list[GraphDifference]:
    """Artefacts (routing tables, SpiNNaker data, crossbar tiles) byte for byte."""
    out = []
    for name in sorted(set(stored.artefacts) | set(expected.artefacts)):
        if name not in stored.artefacts or name not in expected.artefacts:
            out.append(GraphDifference("artefacts", name, "", "presence", stored=name in stored.artefacts, expected=name in expected.artefacts))
            continue
        a, _ = _artefact_bytes(name, stored.artefacts[name])
        b, _ = _artefact_bytes(name, expected.artefacts[name])
        if a != b:
            n = min(len(a), len(b))
            first = next((i for i in range(n) if a[i] != b[i]), n)
            out.append(GraphDifference("artefacts", name, "bytes", "values", sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b)),
                                       max(len(a), len(b)), (first,), a[first:first + 1].hex(), b[first:first + 1].hex()))
    return out


def check_program(program: Program, *, model: Graph | None = None, steps: int = 100, batch: int = 2, seed: int = 0,
                  backend: str = "reference") -> ProgramCheck:
    """Compare ``program`` with a fresh compile of its stored source (and the source with ``model``, if given)."""
    fresh = compile_graph(program.source, program.target, dt_s=program.dt_s, fidelity_steps=0)
    differences = compare_graphs(program.graph, fresh.graph, "graph") + compare_artefacts(program, fresh)
    if model is not None:
        from_model = compile_graph(model, program.target, dt_s=program.dt_s, fidelity_steps=0)
        differences += compare_graphs(program.source, from_model.source, "source")
    inputs = {name: random_spikes(tuple(program.source.nodes[name].shape), steps, batch, seed) for name in program.source.inputs}
    x = inputs if len(inputs) != 1 else next(iter(inputs.values()))
    stored_run = run(program, x, backend=backend)
    fresh_run = run(fresh, x, backend="reference")
    outputs = list(program.source.outputs)
    mismatches = int(sum(np.count_nonzero(np.asarray(stored_run[n]) != np.asarray(fresh_run[n])) for n in outputs))
    first = first_difference(fresh_run, stored_run, outputs) if mismatches else None
    return ProgramCheck(tuple(differences), mismatches, first, backend, steps, batch)


def format_check(check: ProgramCheck, label: str) -> str:
    lines = [f"{label}: " + ("matches a fresh compile of its source graph" if check.ok else "DIFFERS from a fresh compile of its source graph")]
    lines += [f"  {d}" for d in check.differences]
    run_line = f"  run ({check.backend} vs reference of the recompile, {check.steps} steps, batch {check.batch}): "
    lines.append(run_line + (f"{check.run_mismatches} output entries differ; first at {check.first_mismatch}"
                             if check.run_mismatches else "identical outputs"))
    return "\n".join(lines)
