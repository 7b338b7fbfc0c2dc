"""What every command shares: error reporting, exit codes, loading a model."""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..ir.errors import InputError, SpikecError
from ..ir.graph import Graph

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2
RESET_CHOICE = click.Choice(["zero", "subtract"])


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a SpikecError into one line on stderr and exit status 2 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpikecError as exc:
            click.echo(f"spikec: error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


def is_program(path: str) -> bool:
    """A compiled program is a folder with a manifest, or a .zip archive of one."""
    p = Path(path)
    return (p.is_dir() and (p / "manifest.json").exists()) or p.suffix == ".zip"


def load_model(path: str, reset: str = "zero") -> Graph:
    """A normalised graph from a ``.nir`` file."""
    from .. import load_nir

    if not Path(path).exists():
        raise InputError(f"no such model file: {path}")
    return load_nir(path, reset=reset)
