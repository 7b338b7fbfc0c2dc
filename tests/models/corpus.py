"""Every corpus entry, from every source file, in one list."""
from __future__ import annotations

import functools

from corpus_core import Entry


@functools.lru_cache(maxsize=None)
def _entries() -> tuple[Entry, ...]:
    import nir_models
    import norse_models
    import snntorch_models

    return tuple(snntorch_models.entries() + norse_models.entries() + nir_models.entries())


def all_entries() -> list[Entry]:
    return list(_entries())


def by_id(entry_id: str) -> Entry:
    for e in _entries():
        if e.id == entry_id:
            return e
    raise KeyError(entry_id)
