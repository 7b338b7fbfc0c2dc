"""Read-outs: graph outputs that follow a stateless chain, computed on the host from recordings.

Hardware records populations (spikes, or v of a non-spiking neuron). A graph's
Output may instead follow a Linear/Affine (a read-out of weighted spikes), a
Scale (graded spikes), a Flatten, a pooling or a convolution, or the sum of
several such paths, possibly through Delay nodes. ``collect_paths`` collapses
that chain (by linearity, ``synaptic_paths.collapse``) into one ``Readout``:
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

from ..ir.graph import Graph
from ..ir.nodes import Output, NEURON_TYPES
from ..ir import weights
from .synaptic_paths import collapse, is_population  # noqa: F401  (is_population re-exported)


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


# --- paths: a node's input as matrices over source populations (``synaptic_paths``) ---------


Forms = dict  # {(source, back_edges, delay_steps): matrix (n_in, n_source)}
Constants = dict  # {(back_edges, delay_steps): vector (n_in,)}


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
    dt_s = graph.metadata.get("dt_s") if dt_s is None else dt_s
    wanted = readout if readout is not None else (lambda name: not records_directly(graph, name))
    targets = [name for name, node in graph.items()
               if (neurons and isinstance(node, NEURON_TYPES)) or (isinstance(node, Output) and wanted(name))]
    paths: dict[str, Forms] = {}
    constants: dict[str, Constants] = {}
    for name, x in collapse(graph, dt_s, targets, dense=not sparse).items():
        keep_kind = sparse and not isinstance(graph.nodes[name], Output)  # an Output here: its read-out
        paths[name] = {key: x.matrix(key) if keep_kind else weights.to_dense(x.matrix(key)) for key in x.forms}
        constants[name] = x.lagged
    return paths, constants


def build_readout(shape: tuple[int, ...], forms: Forms, consts: Constants, kind_of: Callable[[str], str]) -> Readout:
    """An Output's collected paths as terms over its sources' recordings, lag = back edges + delay steps
    (graph time); ``kind_of(source)`` names the recording a source gives."""
    terms = [ReadoutTerm(src, kind_of(src), int(b + d), np.asarray(m, dtype=np.float64))
             for (src, b, d), m in sorted(forms.items(), key=lambda kv: kv[0])]
    constants = tuple((int(b + d), np.asarray(c, dtype=np.float64).reshape(-1)) for (b, d), c in sorted(consts.items()))
    return Readout(tuple(shape), tuple(terms), constants)
