"""Read-outs: graph outputs that follow a stateless chain, computed on the host from recordings.

Hardware records populations (spikes, or v of a non-spiking neuron). A graph's
Output may instead follow a Linear/Affine (a read-out of weighted spikes), a
Scale (graded spikes), a Flatten, a pooling or a convolution, or the sum of
several such paths, possibly through Delay nodes. ``collect_paths`` collapses
that chain (by linearity, ``linear_maps.node_matrix``) into one ``Readout``:
per source population and lag, a matrix, plus constant terms (biases), so that

    y[t] = sum_terms M_term @ x_source[t - lag] + sum_{lag <= t} c_lag

where ``x_source`` is the source's recording (spikes 0/1, or v in the units
the family chooses). Each family's reference executor and its native backend
record the sources and call the same ``apply_readout``, so they agree bit for
bit; the arithmetic is float64, the float reference's format for stateless
nodes. Family-neutral: SpiNNaker (``spinnaker_readout``, graph time) and Loihi
(``loihi_readout``, chip time) build their read-outs from these pieces.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..ir.errors import CompileError
from ..ir.graph import Graph
from ..ir.nodes import Delay, DelayLinear, Input, Node, Output, NEURON_TYPES
from ..ir.shapes import infer_shapes
from ..ir import weights
from .linear_maps import node_matrix


@dataclass(frozen=True, eq=False)
class ReadoutTerm:
    """``matrix @ x[t - lag]`` for the recording ``population.kind`` (``kind``: the family's name, e.g. spikes or v)."""

    population: str
    kind: str
    lag: int
    matrix: np.ndarray  # (n_out, n_population), float64

    @property
    def key(self) -> str:
        return f"{self.population}.{self.kind}"


@dataclass(frozen=True, eq=False)
class Readout:
    """An output computed from recordings: its shape, terms and constants ``(lag, vector)``."""

    shape: tuple[int, ...]
    terms: tuple[ReadoutTerm, ...]
    constants: tuple[tuple[int, np.ndarray], ...] = ()

    @property
    def sources(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({(t.population, t.kind) for t in self.terms}))


def apply_readout(readout: Readout, recordings: Mapping[str, np.ndarray], steps_batch: tuple[int, int] | None = None) -> np.ndarray:
    """``[T, B, *shape]`` float64 from ``recordings["pop.kind"]`` (``[T, B, n]``).

    ``steps_batch`` gives ``(T, B)`` for a read-out without terms (constants only)."""
    if readout.terms:
        steps, batch = recordings[readout.terms[0].key].shape[:2]
    elif steps_batch is not None:
        steps, batch = steps_batch
    else:
        steps, batch = next(iter(recordings.values())).shape[:2]
    n_out = int(np.prod(readout.shape))
    y = np.zeros((steps, batch, n_out))
    for term in readout.terms:
        if term.lag >= steps:
            continue
        x = np.asarray(recordings[term.key], dtype=np.float64)
        y[term.lag:] += x[: steps - term.lag] @ term.matrix.T
    for lag, c in readout.constants:
        if lag < steps:
            y[lag:] += np.asarray(c, dtype=np.float64).reshape(n_out)
    return y.reshape(steps, batch, *readout.shape)


def readouts_to_data(readouts: Mapping[str, Readout]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """JSON metadata and named arrays (``readout<i>.term<j>``, ``readout<i>.const<j>``)."""
    meta: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for i, (name, r) in enumerate(readouts.items()):
        terms = []
        for j, t in enumerate(r.terms):
            arrays[f"readout{i}.term{j}"] = t.matrix
            terms.append({"population": t.population, "kind": t.kind, "lag": t.lag, "array": f"readout{i}.term{j}"})
        consts = []
        for j, (lag, c) in enumerate(r.constants):
            arrays[f"readout{i}.const{j}"] = np.asarray(c, dtype=np.float64)
            consts.append({"lag": lag, "array": f"readout{i}.const{j}"})
        meta[name] = {"shape": list(r.shape), "terms": terms, "constants": consts}
    return meta, arrays


def readouts_from_data(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[str, Readout]:
    out = {}
    for name, r in meta.items():
        terms = tuple(ReadoutTerm(t["population"], t["kind"], int(t["lag"]), np.asarray(arrays[t["array"]], dtype=np.float64))
                      for t in r["terms"])
        consts = tuple((int(c["lag"]), np.asarray(arrays[c["array"]], dtype=np.float64)) for c in r["constants"])
        out[name] = Readout(tuple(r["shape"]), terms, consts)
    return out


# --- paths: a node's input as matrices over source populations --------------------------------


Forms = dict  # {(source, back_edges, delay_steps): matrix (n_in, n_source)}
Constants = dict  # {(back_edges, delay_steps): vector (n_in,)}


def is_population(node: Node) -> bool:
    """What hardware records or drives: a graph Input or a neuron node."""
    return isinstance(node, Input) or isinstance(node, NEURON_TYPES)


def records_directly(graph: Graph, output: str) -> bool:
    """An Output fed by exactly one population records that population; any other is a read-out."""
    preds = graph.predecessors(output)
    return len(preds) == 1 and is_population(graph.nodes[preds[0]])


def collect_paths(graph: Graph, dt_s: float | None = None, readout: Callable[[str], bool] | None = None,
                  *, neurons: bool = True, sparse: bool = False) -> tuple[dict[str, Forms], dict[str, Constants]]:
    """For each neuron node (unless ``neurons=False``), and each Output for which ``readout(name)``
    (default: not ``records_directly``): ``{(source, back_edges, delay_steps): matrix}`` and
    ``{(back_edges, delay_steps): constant}``.

    ``dt_s`` (default: the graph's ``metadata["dt_s"]``) turns Delay nodes into steps. Matrices are
    dense unless ``sparse``: then a neuron's matrices keep the kind ``ir/weights.py`` carries them
    as (CSR when large and sparse; a 10^8-synapse network's paths would be 8 GB dense), and only the
    Outputs' (host read-outs) are dense."""
    shapes = infer_shapes(graph)
    _, back = graph.execution_order()
    dt_s = graph.metadata.get("dt_s") if dt_s is None else dt_s
    form = identity_form if sparse else dense_form  # what None (a population wired straight in) becomes
    wanted = readout if readout is not None else (lambda name: not records_directly(graph, name))
    memo: dict[str, tuple[dict, dict]] = {}

    def incoming(name: str) -> tuple[dict, dict]:
        n_in = int(np.prod(shapes[name][0]))
        acc: dict[tuple[str, int, int], np.ndarray | None] = {}  # None: identity (not materialised)
        const: dict[tuple[int, int], np.ndarray] = {}

        def add(key: tuple[str, int, int], m: np.ndarray | None) -> None:
            acc[key] = m if key not in acc else weights.add(form(acc[key], n_in), form(m, n_in))

        for src in graph.predecessors(name):
            extra = 1 if (src, name) in back else 0
            if is_population(graph.nodes[src]):
                add((src, extra, 0), None)
                continue
            forms, consts = output_form(src)
            for (s, b, d), m in forms.items():
                add((s, b + extra, d), m)
            for (b, d), c in consts.items():
                const[(b + extra, d)] = const.get((b + extra, d), 0) + c
        return acc, const

    def output_form(name: str) -> tuple[dict, dict]:
        if name in memo:
            return memo[name]
        node = graph.nodes[name]
        acc, const = incoming(name)
        if isinstance(node, Delay):
            n = int(np.prod(shapes[name][0]))
            steps = delay_steps(name, node, dt_s, n)
            if np.all(steps == steps[0]):
                k = int(steps[0])
                memo[name] = ({(s, b, d + k): m for (s, b, d), m in acc.items()},
                              {(b, d + k): c for (b, d), c in const.items()})
            else:  # per-element delays: each element's row of every form moves to its own delay
                memo[name] = _per_element_delay_form(steps, _dense_forms(acc), const, n)
            return memo[name]
        if isinstance(node, DelayLinear):  # per-synapse delays: one matrix per distinct delay
            memo[name] = _delay_linear_form(name, node, dt_s, _dense_forms(acc), const)
            return memo[name]
        matrix, bias = node_matrix(name, node, shapes[name][0], shapes[name][1])
        if not sparse:
            matrix = weights.to_dense(matrix)  # read-outs are host matrices, dense
        forms = {key: matrix if m is None else weights.matmul(matrix, m) for key, m in acc.items()}
        consts = {key: matrix @ c for key, c in const.items()}
        if np.any(bias != 0):
            consts[(0, 0)] = consts.get((0, 0), 0) + bias
        memo[name] = (forms, consts)
        return memo[name]

    paths: dict[str, Forms] = {}
    constants: dict[str, Constants] = {}
    for name, node in graph.items():
        if (neurons and isinstance(node, NEURON_TYPES)) or (isinstance(node, Output) and wanted(name)):
            acc, constants[name] = incoming(name)  # an Output here: its read-out
            n_in = int(np.prod(shapes[name][0]))
            keep_kind = sparse and not isinstance(node, Output)
            paths[name] = {key: form(m, n_in) if keep_kind else weights.to_dense(form(m, n_in)) for key, m in acc.items()}
    return paths, constants


def build_readout(shape: tuple[int, ...], forms: Forms, consts: Constants, kind_of: Callable[[str], str]) -> Readout:
    """An Output's collected paths as terms over its sources' recordings, lag = back edges + delay steps
    (graph time); ``kind_of(source)`` names the recording a source gives."""
    terms = [ReadoutTerm(src, kind_of(src), int(b + d), np.asarray(m, dtype=np.float64))
             for (src, b, d), m in sorted(forms.items(), key=lambda kv: kv[0])]
    constants = tuple((int(b + d), np.asarray(c, dtype=np.float64).reshape(-1)) for (b, d), c in sorted(consts.items()))
    return Readout(tuple(shape), tuple(terms), constants)


def dense_form(m: np.ndarray | None, n: int) -> np.ndarray:
    """``None`` stands for the identity (a population wired straight into the next node)."""
    return np.eye(n) if m is None else m


def _dense_forms(acc: dict) -> dict:
    """Forms as dense matrices (``None``, the identity, kept): what the per-delay splits work on."""
    return {key: None if m is None else weights.to_dense(m) for key, m in acc.items()}


def identity_form(m: weights.Matrix | None, n: int) -> weights.Matrix:
    """``dense_form`` in ``ir/weights.py``'s kinds: ``None`` is ``weights.identity(n)`` (CSR when large)."""
    return weights.identity(n) if m is None else m


def _delay_linear_form(name: str, node: Node, dt_s: float | None, acc: dict, const: dict) -> tuple[dict, dict]:
    """y(t) = sum_k W_k x(t - k): each incoming form, through each W_k, k steps later."""
    if dt_s is None:
        raise CompileError("a DelayLinear node needs dt_s", node=name, parameter="dt_s")
    steps = np.rint(np.asarray(node.delay) / dt_s).astype(np.int64)
    steps = np.broadcast_to(steps, node.weight.shape)
    forms: dict = {}
    consts: dict = {}
    for k in np.unique(steps[node.weight != 0]).tolist():
        w_k = np.where(steps == k, node.weight, 0.0)
        for (s, b, d), m in acc.items():
            forms[(s, b, d + k)] = forms.get((s, b, d + k), 0) + (w_k if m is None else w_k @ m)
        for (b, d), c in const.items():
            consts[(b, d + k)] = consts.get((b, d + k), 0) + w_k @ c
    return forms, consts


def delay_steps(name: str, node: Delay, dt_s: float | None, n: int) -> np.ndarray:
    """Each element's delay in steps (round half to even), flattened to ``n``."""
    if dt_s is None:
        raise CompileError("a Delay node needs dt_s", node=name, parameter="dt_s")
    steps = np.rint(np.asarray(node.delay) / dt_s).astype(np.int64)
    return np.broadcast_to(steps.reshape(-1) if steps.size > 1 else steps.reshape(-1)[:1], (n,)).copy() if steps.size else np.zeros(n, np.int64)


def _per_element_delay_form(steps: np.ndarray, acc: dict, const: dict, n: int) -> tuple[dict, dict]:
    """Element o of a Delay's output is its input's element o, ``steps[o]`` steps later."""
    forms: dict = {}
    consts: dict = {}
    for k in np.unique(steps).tolist():
        rows = (steps == k)[:, None]
        for (s, b, d), m in acc.items():
            forms[(s, b, d + k)] = forms.get((s, b, d + k), 0) + np.where(rows, dense_form(m, n), 0.0)
        for (b, d), c in const.items():
            consts[(b, d + k)] = consts.get((b, d + k), 0) + np.where(rows[:, 0], c, 0.0)
    return forms, consts
