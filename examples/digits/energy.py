"""An energy ESTIMATE per inference: operation counts times published per-operation energies.

The figures and their sources live in ``energy.toml`` (one section per
target family, or per target name, which wins). A target lacking a figure
for an operation it performs gets ``None`` (shown as "n/a"), never a guess.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

FIGURES = Path(__file__).resolve().parent / "energy.toml"


def load_figures(path: Path = FIGURES) -> dict[str, dict[str, Any]]:
    with open(path, "rb") as f:
        return tomllib.load(f)


def figures_for(target: str, family: str, figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return figures.get(target) or figures.get(family) or {}


def estimate_uj(counts: dict[str, float], fig: dict[str, Any]) -> float | None:
    """Microjoules per inference from ``counts`` (per inference), or None if a needed figure is missing.

    ``counts`` keys: ``synops`` (effective, binary inputs), ``macs`` (effective,
    graded inputs), ``neuron_updates``, ``packet_hops``, ``tile_reads``.
    Spiking targets charge every synaptic op at ``synop_pj``; the float
    baseline charges ACs and MACs separately.
    """
    needed = {"neuron_updates": "neuron_update_pj"}
    if "ac_pj" in fig:
        needed |= {"synops": "ac_pj", "macs": "mac_pj"}
    else:
        needed |= {"synops": "synop_pj", "macs": "synop_pj", "packet_hops": "packet_hop_pj", "tile_reads": "array_read_pj"}
    total_pj = 0.0
    for count_key, fig_key in needed.items():
        count = counts.get(count_key, 0.0)
        if not count:
            continue
        if fig_key not in fig:
            return None
        total_pj += count * float(fig[fig_key])
    return total_pj * 1e-6
