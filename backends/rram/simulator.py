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

from typing import Any, Mapping

import numpy as np

from ...compiler.rram_config import RramConfig
from ...compiler.rram_lower import RramMapping
from ...ir.errors import InputError, SpikecError
from ...ir.graph import Graph
from ...ir.shapes import infer_shapes
from .analog import ProgrammedTile, read_tile
from .devices import program_tiles
from .layers import layer_on_tiles
from .neurons import make_kernel


def prepare_inputs(graph: Graph, inputs: Any) -> tuple[dict[str, np.ndarray], bool, int]:
    """``{input: [T, B, *shape]}``, whether the caller passed a batch axis, and T."""
    names = graph.inputs
    if not isinstance(inputs, Mapping):
        if len(names) != 1:
            raise InputError(f"graph has {len(names)} inputs {list(names)}: pass a dict of arrays")
        inputs = {names[0]: inputs}
    if set(inputs) != set(names):
        raise InputError(f"inputs {sorted(inputs)} do not match the graph's Input nodes {list(names)}")
    out, batched, steps = {}, set(), set()
    for name, arr in inputs.items():
        arr = np.asarray(arr, dtype=np.float64)
        shape = tuple(graph.nodes[name].shape)
        if arr.shape[1:] == shape:
            batched.add(False)
            arr = arr[:, None]
        elif arr.ndim == len(shape) + 2 and arr.shape[2:] == shape:
            batched.add(True)
        else:
            raise InputError(f"input of shape {arr.shape} fits neither [T, *{shape}] nor [T, B, *{shape}]",
                             node=name, value=arr.shape, limit=shape)
        if not np.isfinite(arr).all():
            raise InputError("input contains NaN or infinite values", node=name)
        out[name] = arr
        steps.add(arr.shape[0])
    if len(batched) > 1 or len(steps) > 1 or len({a.shape[1] for a in out.values()}) > 1:
        raise InputError("all inputs must share T and B")
    return out, batched.pop(), steps.pop()


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
    xs, batched, steps = prepare_inputs(graph, inputs)
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
