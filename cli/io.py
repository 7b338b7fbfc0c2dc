"""File I/O for the CLI: input arrays read within a bound, results written atomically.

``load_array`` never unpickles (object arrays are refused before their data is
read), checks an ``.npy`` header's shape and dtype against the limit before
reading the data, bounds an ``.npz`` like a program's entries
(``compiler/bounded_read.py``), and refuses values no executor can take,
naming the file, the array, the index and the value.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Mapping

import numpy as np

from ..compiler.atomic_write import replace_file
from ..compiler.bounded_read import default_max_bytes, read_npy, read_npz
from ..ir.errors import InputError

#: Largest magnitude accepted in an input array: beyond it float64 sums overflow to inf within a few layers.
MAX_INPUT_MAGNITUDE = 1e12
_HINT = " (raise it with --max-input-bytes)"


def load_array(path: str | os.PathLike, *, max_bytes: int | None = None, spikes: bool = False) -> np.ndarray | dict[str, np.ndarray]:
    """An input array from ``.npy``, or a dict of arrays (one per graph input) from ``.npz``.

    ``spikes``: the values must be 0 or 1 (integer hardware takes nothing else).
    """
    path = Path(path)
    limit = default_max_bytes() if max_bytes is None else max_bytes
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"no such input file: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{path}: not a regular file (a folder, device or pipe)")
    with os.fdopen(fd, "rb") as fh:
        magic = fh.read(6)
        fh.seek(0)
        if magic == b"\x93NUMPY":
            loaded: np.ndarray | dict[str, np.ndarray] = read_npy(fh, str(path), None, limit, _HINT)
        elif magic[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            loaded = read_npz(fh, str(path), limit, _HINT)
        else:
            raise InputError(f"cannot read {path} as a numpy array: not an .npy or .npz file")
    arrays = loaded if isinstance(loaded, dict) else {None: loaded}
    for key, array in arrays.items():
        check_input_values(array, str(path), key, spikes=spikes)
    return loaded


def check_input_values(array: np.ndarray, file: str, key: str | None, *, spikes: bool = False) -> None:
    """Real numbers, finite, at most ``MAX_INPUT_MAGNITUDE``; with ``spikes``, only 0 and 1."""
    where = f"{file}" + (f": array '{key}'" if key is not None else "")
    if array.dtype.kind not in "biuf":
        raise InputError(f"{where}: dtype {array.dtype} is not a real number type (spikes or currents)", parameter=key, value=str(array.dtype))
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (np.abs(array) > MAX_INPUT_MAGNITUDE)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{where}: value {array[index]!r} at index {index} is not finite or exceeds {MAX_INPUT_MAGNITUDE:g} in magnitude",
                             parameter=key, value=float(array[index]), limit=MAX_INPUT_MAGNITUDE)
    elif array.dtype.kind in "iu" and array.size and (array.max() > MAX_INPUT_MAGNITUDE or array.min() < -MAX_INPUT_MAGNITUDE):
        index = tuple(int(i) for i in np.argwhere(np.abs(array.astype(np.float64)) > MAX_INPUT_MAGNITUDE)[0])
        raise InputError(f"{where}: value {array[index]} at index {index} exceeds {MAX_INPUT_MAGNITUDE:g} in magnitude",
                         parameter=key, value=int(array[index]), limit=MAX_INPUT_MAGNITUDE)
    if spikes and array.dtype != bool:
        bad = (array != 0) & (array != 1)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{where}: value {array[index]!r} at index {index}: spikes are 0 or 1 for this integer target",
                             parameter=key, value=array[index].item(), limit=(0, 1))


def save_npz_atomic(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` via a temporary sibling and a rename: never half-written (``atomic_write``)."""
    replace_file(path, lambda fh: np.savez(fh, **dict(arrays)), what="outputs")
