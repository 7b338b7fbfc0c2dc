"""The analog in-memory simulator: an RRAM mapping run step by step.

Same contract as the float reference (``spikec.simulate``): inputs
``[T, *shape]`` or ``[T, B, *shape]`` per Input node, one recording per
Output node in the same layout, plus ``"<node>.<var>"`` traces for names in
``record``. One step evaluates the nodes in ``Graph.execution_order()``; a
node's input is the sum of its incoming edges; back edges carry the previous
step's value. Synapse nodes are computed on the programmed tiles
(``layers.py`` / ``analog.py``), everything else in the digital format
(``neurons.py``).

The conductances are fixed for a run: they are those at ``t_s`` seconds after
programming (a run lasts far less than any drift time scale). Read noise and
ADC noise are fresh at every read. Everything random follows from ``seed``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...compiler.rram.config import RramConfig
from ...compiler.rram.crossbars import CrossbarMap
from ...compiler.rram.lower import RramMapping
from ...ir.errors import CompileError, SpikecError
from ...ir.shapes import infer_shapes
from .analog import ProgrammedTile, read_tile
from .devices import program_tiles
from .layers import layer_on_tiles
from .neurons import make_kernel
from ...ir.inputs import time_first_inputs


def simulate_rram(
    mapping: RramMapping,
    inputs: Any,
    *,
    dt_s: float | None = None,
    record: tuple[str, ...] = (),
    seed: int = 0,
    t_s: float = 1.0,
    config: RramConfig | None = None,
    compensate_drift: bool = False,
) -> dict[str, np.ndarray]:
    """Run the mapped program on ``inputs``; ``config`` overrides the mapping's (e.g. ``.ideal()``).

    ``t_s`` is the read time in seconds after programming; ``seed`` fixes
    programming noise, faults, drift and every read's noise.
    """
    config = config or mapping.config
    graph = mapping.graph
    dt_s = dt_s if dt_s is not None else graph.metadata.get("dt_s")
    shapes = infer_shapes(graph)
    order, back = graph.execution_order()
    xs, batched, steps = time_first_inputs(inputs, {n: tuple(graph.nodes[n].shape) for n in graph.inputs})
    batch = next(iter(xs.values())).shape[1]
    programmed = program_tiles(mapping.crossbars, config, seed=seed, t_s=t_s, compensate_drift=compensate_drift)
    read_rng = np.random.default_rng((seed, 1))

    def read(p: ProgrammedTile, x: np.ndarray) -> np.ndarray:
        return read_tile(p, x, config, read_rng)

    layers = mapping.crossbars.layers
    kernels = {n: make_kernel(n, graph.nodes[n], shapes[n][0], dt_s) for n in order if n not in layers}
    states = {n: k[0](batch) for n, k in kernels.items()}
    preds = {n: [(src, (src, n) in back) for src in graph.predecessors(n)] for n in order}
    previous = {n: np.zeros((batch, *shapes[n][1])) for n in order}
    traced = [(n, var) for n in kernels for var in record if var in states[n] and var != "s"]
    rec: dict[str, list[np.ndarray]] = {n: [] for n in graph.outputs} | {f"{n}.{v}": [] for n, v in traced}
    for t in range(steps):
        current: dict[str, np.ndarray] = {}
        for n in order:
            x = xs[n][t] if n in xs else sum((previous[s] if b else current[s]) for s, b in preds[n])
            try:
                if n in layers:
                    current[n] = layer_on_tiles(layers[n], programmed[n], x, read)
                else:
                    current[n] = kernels[n][1](states[n], x)
            except SpikecError:
                raise
            except Exception as exc:  # name the node and step, keep the cause
                raise SpikecError(f"while executing step {t}: {type(exc).__name__}: {exc}", node=n) from exc
        for n in graph.outputs:
            rec[n].append(current[n])
        for n, v in traced:
            rec[f"{n}.{v}"].append(states[n][v].copy())
        previous = current
    result = {k: np.stack(v) if v else np.zeros((0, batch)) for k, v in rec.items()}
    return result if batched else {k: v[:, 0] for k, v in result.items()}


def mapping_of(program: Any) -> RramMapping:
    """The RramMapping a program carries: tiles from its artefact, figures from its target."""
    if isinstance(program, RramMapping):
        return program
    artefacts = getattr(program, "artefacts", None) or {}
    crossbars = artefacts.get("crossbars") if hasattr(artefacts, "get") else None
    if getattr(program, "family", None) != "rram" or not isinstance(crossbars, CrossbarMap):
        raise CompileError(
            f"the RRAM backend runs programs compiled for an RRAM target; got {type(program).__name__} "
            f"of family {getattr(program, 'family', None)!r} without artefacts['crossbars']"
        )
    config = RramConfig.from_target(program.target)
    return RramMapping(graph=program.graph, crossbars=crossbars, config=config, report=None)
