"""One exception family for everything spikec rejects.

Each error carries what a user needs to fix the input: the node, the parameter,
the value and the limit. The CLI prints ``str(error)`` on one line and exits 2.
"""
from __future__ import annotations

from typing import Any


class SpikecError(Exception):
    """Base of every error spikec raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        parameter: str | None = None,
        value: Any = None,
        limit: Any = None,
    ) -> None:
        self.node = node
        self.parameter = parameter
        self.value = value
        self.limit = limit
        prefix = f"node '{node}': " if node is not None else ""
        super().__init__(prefix + message)


class GraphError(SpikecError):
    """The graph is malformed: unknown primitive, bad shape, dangling edge, bad parameter."""


class ConfigError(SpikecError):
    """A hardware config file is invalid (names the file, the key and the reason)."""


class CompileError(SpikecError):
    """The graph cannot be compiled for the target (names node, figure and limit)."""


class InputError(SpikecError):
    """Input arrays do not fit the graph (shape, dtype, missing input)."""


class OutputError(SpikecError):
    """An output cannot be written (full disk, read-only folder); the previous content is left unchanged."""
