"""spikec's intermediate representation: a typed, frozen graph with NIR at the boundary."""
from .check import normalise, validate
from .errors import CompileError, ConfigError, GraphError, InputError, SpikecError
from .graph import Edge, Graph
from .nir_io import from_nir, read_nir, to_nir, write_nir
from .nodes import NODE_TYPES, Node
from .shapes import infer_shapes

__all__ = [
    "CompileError", "ConfigError", "Edge", "Graph", "GraphError", "InputError", "NODE_TYPES", "Node",
    "SpikecError", "from_nir", "infer_shapes", "normalise", "read_nir", "to_nir", "validate", "write_nir",
]
