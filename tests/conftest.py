"""Shared test fixtures: where the real NIR graphs and routing tables are."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
#: ../shared/fixtures beside the repository (CI clones main with shared/ beside it).
FIXTURES = Path(os.environ.get("SPIKEC_FIXTURES", REPO.parent / "shared" / "fixtures"))
NIR_PAPER = FIXTURES / "nir-paper"
PACMAN_TABLES = FIXTURES / "pacman-tables"


@pytest.fixture
def nir_paper() -> Path:
    if not NIR_PAPER.exists():
        pytest.fail(f"fixtures not found at {NIR_PAPER}; set SPIKEC_FIXTURES")
    return NIR_PAPER


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
