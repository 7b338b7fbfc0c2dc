"""Loihi read-outs: an Output that is not one neuron layer's recording, computed on the host in chip time.

A Loihi output normally records one layer (``LoihiOutput``: spikes, or the
integer v of a non-spiking layer). An Output after a Linear/Affine, a Scale
(graded spikes), a Flatten with a delay, a pooling, a convolution, Delay
nodes, the sum of several paths (skip connections) or straight after an
Input is a ``LoihiReadout``: ``readout.collect_paths`` collapses its chain
into terms over the source layers' recordings, and every executor records
those sources and calls ``readout.apply_readout`` (``readout_values``), so
the reference executor and Lava agree bit for bit.

Time. Loihi outputs are in chip time: layer S lags the float model by
``d_S = latency_steps`` (inputs: 0). A term of graph lag ``g`` (back edges
plus Delay steps) reads ``x_S^float[t - g] = x_S^chip[t - g + d_S]``; the
read-out lags the float output by ``L = max(0, max_terms(d_S - g))`` (the
smallest lag that needs no future sample), so the term's chip lag is
``L + g - d_S >= 0`` and a constant of graph lag ``g`` starts at ``L + g``.
An output after one layer through a Linear lags exactly as that layer does.

Units. ``x`` is spikes 0/1, or integer v for a non-spiking source; the term's
matrix carries ``1 / v_scale`` per source neuron, so ``y`` is in the float
model's units.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ...ir.errors import CompileError
from ...ir.graph import Graph
from ...ir.nodes import Input, NEURON_TYPES
from ...ir.shapes import infer_shapes
from ...ir import weights
from ..linear_maps import Projection
from .nodes import LoihiReadout, gather_parts, layer_parts
from ..readout import apply_readout, build_readout, collect_paths


def is_direct_output(graph: Graph, projections: list[Projection], absorbed: set[str]) -> bool:
    """An Output whose input is one (unfused) neuron layer's, unchanged (directly, or through a Flatten):
    it records that layer (``LoihiOutput``); any other Output is a read-out."""
    if len(projections) != 1:
        return False
    p = projections[0]
    return (isinstance(graph.nodes[p.source], NEURON_TYPES) and p.source not in absorbed and p.delays is None
            and p.back_edges == frozenset({0}) and p.matrix.shape[0] == p.matrix.shape[1]
            and weights.equal(p.matrix, weights.identity(p.matrix.shape[0])))


def lower_readouts(graph: Graph, names: list[str], nodes: Mapping[str, object], dt_s: float | None) -> dict[str, LoihiReadout]:
    """A ``LoihiReadout`` per Output in ``names`` (see the module docstring); ``nodes``: the lowered
    inputs and populations so far (their ``latency_steps`` and ``v_scale``)."""
    if not names:
        return {}
    wanted = set(names)
    paths, constants = collect_paths(graph, dt_s, lambda n: n in wanted, neurons=False)
    shapes = infer_shapes(graph)
    return {name: _readout(name, shapes[name][1], paths[name], constants[name], graph, nodes) for name in names}


def _readout(name: str, shape: tuple[int, ...], forms: dict, consts: dict, graph: Graph, nodes: Mapping[str, object]) -> LoihiReadout:
    for src, _, _ in forms:
        if src not in nodes:  # the first LI of a fused LI -> LI pair has no population of its own
            raise CompileError(f"output reads '{src}', which has no Loihi population (fused into an LI read-out)", node=name)
    reads = lambda src: "s" if isinstance(graph.nodes[src], Input) or nodes[src].spiking else "v"
    latency = lambda src: 0 if isinstance(graph.nodes[src], Input) else nodes[src].latency_steps
    r = build_readout(shape, forms, consts, reads)  # graph time
    lag = max([0] + [latency(t.population) - t.lag for t in r.terms])
    matrices = []
    for t in r.terms:
        m = t.matrix
        if t.kind == "v":  # integer v -> float units
            m = m / np.asarray(nodes[t.population].v_scale, np.float64)[None, :]
        matrices.append(m)
    n_out = int(np.prod(shape))
    return LoihiReadout(
        shape=shape, sources=tuple(t.population for t in r.terms), reads=tuple(t.kind for t in r.terms),
        lags=tuple(lag + t.lag - latency(t.population) for t in r.terms), widths=tuple(m.shape[1] for m in matrices),
        matrix=np.concatenate(matrices, axis=1) if matrices else np.zeros((n_out, 0)),
        constant_lags=tuple(lag + g for g, _ in r.constants),
        constants=np.stack([c for _, c in r.constants]) if r.constants else None, latency_steps=lag,
    )


def source_recordings(graph: Graph, name: str) -> list[tuple[str, str]]:
    """(population or input, var) a backend must record for read-out ``name``: every part of a split layer."""
    node = graph.nodes[name]
    parts = layer_parts(graph)
    out: list[tuple[str, str]] = []
    for src, var in zip(node.sources, node.reads):
        for p in parts.get(src, [src]):
            if (p, var) not in out:
                out.append((p, var))
    return out


def readout_values(graph: Graph, name: str, get: Callable[[str, str], np.ndarray]) -> np.ndarray:
    """Read-out ``name`` ``[T, B, *shape]`` (float64) from ``get(population_or_input, var)`` ``[T, B, n]``
    (chip time, raw: spikes 0/1, integer v), split layers gathered back in layer order."""
    node: LoihiReadout = graph.nodes[name]
    parts = layer_parts(graph)
    recordings = {}
    for src, var, width in zip(node.sources, node.reads, node.widths):
        key = f"{src}.{var}"
        if key not in recordings:
            if src not in graph.nodes and src not in parts:
                raise CompileError(f"read-out source '{src}' is not in the program", node=name, parameter="sources", value=src)
            recordings[key] = gather_parts(graph, parts.get(src, [src]), lambda p: np.asarray(get(p, var), np.float64))
        if recordings[key].shape[-1] != width:
            raise CompileError(f"read-out term over '{src}' is {width} wide, the source has {recordings[key].shape[-1]} neurons",
                               node=name, parameter="widths", value=width, limit=recordings[key].shape[-1])
    if not recordings:
        steps, batch = _steps_batch(graph, get)
        return apply_readout(node.readout(), {}, (steps, batch))
    return apply_readout(node.readout(), recordings)


def _steps_batch(graph: Graph, get: Callable[[str, str], np.ndarray]) -> tuple[int, int]:
    for n, node in graph.items():
        if node.kind == "LoihiInput":
            return get(n, "s").shape[:2]
    raise CompileError("a constant read-out needs an input to know the number of steps")


def readouts(graph: Graph) -> list[str]:
    return [n for n, node in graph.items() if isinstance(node, LoihiReadout)]


__all__ = ["is_direct_output", "lower_readouts", "readout_values", "readouts", "source_recordings"]
