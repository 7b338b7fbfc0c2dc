"""sPyNNaker maps what spikec maps, and PACMAN's compressors agree with spikec's checker (slow: ~1 min).

Runs ``bench/spynnaker_mapping.py`` on a small network in the sPyNNaker venv
(``python -m spikec.backends.toolenvs spynnaker``): sPyNNaker 7.4.1 maps the
emitted PyNN script on a virtual SpiNN-5 board, and PACMAN's pair compressor
and ordered covering compress spikec's uncompressed tables. spikec's
equivalence checker must accept PACMAN's tables (two independent codes agree on
what routing means), and spikec's compressor must do at least as well as PACMAN's
pair compressor.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spikec.backends import toolenvs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not toolenvs.works(toolenvs.ENVS["spynnaker"]),
    reason="sPyNNaker not installed: run `python -m spikec.backends.toolenvs spynnaker`")]


def test_spynnaker_maps_the_emitted_network_and_pacman_tables_pass_spikecs_checker():
    from spynnaker_mapping import main

    figures = main(["--sizes", "100,700,700,50", "--density", "0.05"])
    sp, ours = figures["spynnaker"], figures["spikec_compress"]
    neuron_cores = sum(-(-n // 256) for n in (700, 700, 50))
    assert sp["cores_network"] >= neuron_cores and figures["spikec"]["cores"] >= neuron_cores
    assert sum(sp["routing_entries"].values()) > 0
    pacman = figures["pacman_on_spikec"]
    assert set(pacman) == set(ours) and len(ours) >= 1
    for chip, p in pacman.items():
        assert p["equivalent"], chip
        assert ours[chip]["compressed"] <= p["pair"], chip
