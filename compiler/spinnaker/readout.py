"""Read-outs: graph outputs that follow a stateless chain, computed on the host from recordings.

SpiNNaker records populations (spikes, or v of an LI/Integrator). A graph's
Output may instead follow a Linear/Affine (a read-out of weighted spikes), a
Scale (graded spikes), a Flatten, a pooling or a convolution, or the sum of
several such paths, possibly through Delay nodes. ``quantise_spinnaker``
collapses that chain into one ``Readout``: per source population and lag, a
matrix, plus constant terms (biases), so that

    y[t] = sum_terms M_term @ x_source[t - lag] + sum_{lag <= t} c_lag

where ``x_source`` is the population's recording in graph time (spikes 0/1, or
v in real units). The reference executor and the event machine both record
the sources and call ``apply_readout``, so they agree bit for bit; the
arithmetic is float64, the float reference's format for stateless nodes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True, eq=False)
class ReadoutTerm:
    """``matrix @ x[t - lag]`` for the recording ``population.kind`` (``kind``: spikes or v)."""

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


def apply_readout(readout: Readout, recordings: Mapping[str, np.ndarray]) -> np.ndarray:
    """``[T, B, *shape]`` float64 from ``recordings["pop.kind"]`` (``[T, B, n]``, real units, graph time)."""
    first = recordings[readout.terms[0].key] if readout.terms else next(iter(recordings.values()))
    steps, batch = first.shape[:2]
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
    """JSON metadata and named arrays (for ``spinnaker_io``)."""
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
