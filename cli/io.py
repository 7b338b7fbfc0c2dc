"""File I/O for the CLI: loading models and arrays, writing results atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

from ..ir.errors import InputError


def load_array(path: str | os.PathLike) -> np.ndarray | dict[str, np.ndarray]:
    """An input array from ``.npy``, or a dict of arrays (one per graph input) from ``.npz``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such input file: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise InputError(f"cannot read {path} as a numpy array: {exc}") from exc
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        return {k: loaded[k] for k in loaded.files}


def save_npz_atomic(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` via a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **dict(arrays))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
