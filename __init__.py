"""spikec: compile spiking neural networks for neuromorphic hardware, and prove they compute what was trained."""
from __future__ import annotations

from .ir.version import __version__

from .ir import Graph, SpikecError, normalise, validate
from .ir.nir_io import load_nir
from .ir.nir_io import write_nir as save_nir
from .backends.reference.float_executor import simulate
from .frontends import from_norse, from_snntorch
from .api import compile, explain, load_program, load_target, run


__all__ = ["compile", "explain", "load_program", "load_target", "run", "from_norse", "from_snntorch", "simulate", "Graph", "SpikecError", "load_nir", "save_nir", "normalise", "validate", "__version__"]
