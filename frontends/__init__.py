"""Frontends: trained torch models -> spikec Graphs.

``from_snntorch`` and ``from_norse`` import their framework only when called,
so ``import spikec`` stays free of torch.
"""
from __future__ import annotations

from typing import Any


def from_snntorch(module: Any, sample: Any, *, dt_s: float = 1e-4) -> Any:
    """See :func:`spikec.frontends.snntorch.from_snntorch`."""
    from .snntorch import from_snntorch as convert

    return convert(module, sample, dt_s=dt_s)


def from_norse(module: Any, sample: Any, *, dt_s: float = 1e-3) -> Any:
    """See :func:`spikec.frontends.norse.from_norse`."""
    from .norse import from_norse as convert

    return convert(module, sample, dt_s=dt_s)


__all__ = ["from_norse", "from_snntorch"]
