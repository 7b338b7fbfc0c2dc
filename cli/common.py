"""What every command shares: error reporting, exit codes, loading a model."""
from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..ir.errors import InputError, SpikecError
from ..ir.graph import Graph

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2
RESET_CHOICE = click.Choice(["zero", "subtract"])


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a SpikecError into one line on stderr and exit status 2 (never a traceback).

    A ``MemoryError`` (a limit raised past what the machine holds) becomes one
    line too; outputs are written atomically, so nothing half-written remains.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpikecError as exc:
            click.echo(f"spikec: error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except MemoryError:
            click.echo("spikec: error: out of memory (MemoryError); lower --max-program-bytes / --max-input-bytes "
                       "or free memory", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


def _size_option(name: str, what: str, default_text: str = "a quarter of the available memory, 1-8 GiB",
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
        from ..compiler.bounded_read import parse_size

        if value is None:
            return None
        try:
            return parse_size(value, name)
        except SpikecError as exc:
            raise click.BadParameter(str(exc)) from exc

    return click.option(name, default=None, callback=parse, metavar="SIZE",
                        help=f"Most bytes {what} may hold, e.g. 512M, 16G (default: {default_text}; "
                             "docs/hostile-input.md).")


#: ``--max-program-bytes``: the limit on a compiled program read (``compiler/program.py: load_program``).
max_program_bytes_option = _size_option("--max-program-bytes", "a compiled PROGRAM (all its files, uncompressed)")
#: ``--max-input-bytes``: the limit on an input .npy/.npz (``cli/io.py: load_array``).
max_input_bytes_option = _size_option("--max-input-bytes", "an --input array file (its arrays, uncompressed)")
#: ``--max-file-bytes``: the limit on a MODEL .nir file's datasets (``ir/nir_io.py: read_nir``).
max_file_bytes_option = _size_option(
    "--max-file-bytes", "the datasets of a MODEL .nir file (together; also raises the per-array cap to SIZE/8 values)",
    default_text="a quarter of the available memory, 256 MiB-8 GiB")


def is_program(path: str) -> bool:
    """A compiled program is a folder with a manifest, or a .zip archive of one."""
    p = Path(path)
    return (p.is_dir() and (p / "manifest.json").exists()) or p.suffix == ".zip"


#: Numeric datasets larger than this are not read by the probe (see ``probe_hdf5``).
PROBE_MAX_NUMERIC_BYTES = 2**20


def probe_hdf5(path: str, max_file_bytes: int | None = None) -> None:
    """Read the file's HDF5 once in a forked child: libhdf5 can crash (SIGSEGV) on a damaged file.

    Found by fuzzing (a few flipped bytes in a variable-length string); no
    Python code can catch that in-process. A child that dies by a signal
    becomes one InputError; any other outcome is left to the real read.
    The child reads the whole tree (groups, names, strings, every small array) but
    not the numeric datasets over ``PROBE_MAX_NUMERIC_BYTES``: a large model's
    weights were read twice (2 x 25 s for a 10^6-neuron file), and a damaged
    chunk of numbers fails in HDF5's filters with an error, which the real read reports.
    """
    if not hasattr(os, "fork"):
        return
    from ..ir.nir_io import ReadLimits, _read_hdf5

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: read, say nothing, exit without running the parent's cleanup
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            _read_hdf5(Path(path), ReadLimits.of(max_file_bytes), skip_numbers_above=PROBE_MAX_NUMERIC_BYTES)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise InputError(f"cannot read {path} as NIR: damaged HDF5 (the HDF5 library crashed reading it: {name})")


def load_model(path: str, reset: str = "zero", max_file_bytes: int | None = None) -> Graph:
    """A normalised graph from a ``.nir`` file (``max_file_bytes``: ``--max-file-bytes``, None for the default)."""
    from .. import load_nir

    if not Path(path).exists():
        raise InputError(f"no such model file: {path}")
    if Path(path).is_file():
        probe_hdf5(path, max_file_bytes)
    return load_nir(path, reset=reset, max_file_bytes=max_file_bytes)
