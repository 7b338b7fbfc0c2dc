"""spikec: compile spiking neural networks for neuromorphic hardware, and prove they compute what was trained."""
from __future__ import annotations

__version__ = "0.1.0"

from .ir import Graph, SpikecError, normalise, validate
from .ir.nir_io import read_nir as _read_nir
from .ir.nir_io import from_nir as _from_nir
from .ir.nir_io import write_nir as save_nir
from .backends.reference.float_executor import simulate
from .frontends import from_norse, from_snntorch
from .compiler.api import compile, explain, load_program, load_target, run


def load_nir(source, *, reset: str = "zero", max_file_bytes: int | None = None) -> Graph:
    """A normalised Graph from a ``.nir`` path or a ``nir.NIRGraph``.

    ``reset`` states the reset mode of spiking neurons whose NIR node does not
    record one (NIR has no field for it; spikec's own files do).
    ``max_file_bytes`` bounds the bytes a file's datasets may declare together
    (default: a quarter of the available memory, 256 MiB-8 GiB); given, it also
    raises the per-array cap to ``max_file_bytes / 8`` values (docs/hostile-input.md).
    """
    import os

    if isinstance(source, (str, os.PathLike)):
        graph = _read_nir(source, reset=reset, max_file_bytes=max_file_bytes)
    else:
        graph = _from_nir(source, reset=reset)
    return normalise(graph)


__all__ = ["compile", "explain", "load_program", "load_target", "run", "from_norse", "from_snntorch", "simulate", "Graph", "SpikecError", "load_nir", "save_nir", "normalise", "validate", "__version__"]
