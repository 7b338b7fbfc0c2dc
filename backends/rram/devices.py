"""Device models and how the simulator turns tiles into conductances at a read time.

The models themselves (programming noise, drift, stuck cells, read noise,
presets after aihwkit) live in ``compiler/rram/devices.py`` because the
hardware config that names them is loaded by the compiler; this module adds
what only the simulator does with them: programming every tile of a compiled
program, seeded, and the global drift compensation factor.

Seeding: tile ``j`` (in the program's layer and tile order) is programmed with
``default_rng((seed, 0, j))``; per-read noise uses ``default_rng((seed, 1))``.
Changing one tile's shape therefore does not reshuffle the others.
"""
from __future__ import annotations

import numpy as np

from ...compiler.rram.crossbar_map import CrossbarMap
from ...compiler.rram.config import RramConfig
from ...compiler.rram.devices import (  # noqa: F401  (re-exported)
    DEVICE_PRESETS, DeviceModel, Drift, ProgrammingNoise, pcm_like, reram_cmo, reram_wan2022,
)
from .analog import ProgrammedTile


def program_tiles(
    crossbars: CrossbarMap, config: RramConfig, *, seed: int, t_s: float, compensate_drift: bool = False,
) -> dict[str, tuple[ProgrammedTile, ...]]:
    """Every tile's conductances at ``t_s`` seconds after programming.

    With ``compensate_drift`` each tile gets the factor of aihwkit's
    ``GlobalDriftCompensation``: right after programming the chip reads the
    tile with all inputs at 1 and stores ``sum |y|`` over its outputs; at
    ``t_s`` it reads again and scales every later output by the ratio. (The
    calibration reads are taken as exact: averaged over many reads.)
    """
    device, g = config.device, config.geometry
    out: dict[str, tuple[ProgrammedTile, ...]] = {}
    index = 0
    for name, layer in crossbars.layers.items():
        tiles = []
        for tile in layer.tiles:
            rng = np.random.default_rng((seed, 0, index))
            index += 1
            gp_t, gn_t = tile.target_conductances_us(device.g_min_us, device.g_max_us, g.levels)
            both = np.stack([gp_t, gn_t])
            programmed, drifted = device.program_and_age(both, t_s, rng)
            factor = 1.0
            if compensate_drift:
                ref = np.abs((programmed[0] - programmed[1]).sum(axis=0)).sum()
                now = np.abs((drifted[0] - drifted[1]).sum(axis=0)).sum()
                factor = float(ref / now) if now > 0 else 1.0
            tiles.append(ProgrammedTile(tile, drifted[0], drifted[1], factor))
        out[name] = tuple(tiles)
    return out
