"""The cross-platform fidelity matrix: symmetric, exact where backends are exact, sensitive to change."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

import spikec
from spikec.cli.main import cli
from spikec.verification.fidelity_matrix import activity_cosine, fidelity_matrix, output_lag

EXAMPLE = Path(spikec.__file__).parent / "examples" / "braille_subtract.nir"


def test_matrix_is_symmetric_and_exact_between_reference_and_event_machine():
    m = fidelity_matrix(spikec.load_nir(EXAMPLE), ["spinnaker1", "rram-512"], steps=120, batch=2)
    assert m.runs == ("float", "spinnaker1/reference", "spinnaker1/spinnaker", "rram-512/reference", "rram-512/rram")
    np.testing.assert_array_equal(m.agreement, m.agreement.T)
    np.testing.assert_allclose(np.diag(m.cosine), 1.0)
    i, j = m.runs.index("spinnaker1/reference"), m.runs.index("spinnaker1/spinnaker")
    assert m.agreement[i, j] == 1.0 and abs(m.cosine[i, j] - 1.0) < 1e-12
    # float vs SpiNNaker's fixed point is close but it is a measurement, not an identity
    assert 0.95 < m.agreement[0, i] <= 1.0 and m.spikes[0] > 20


def test_loihi_output_is_aligned_by_its_latency():
    program = spikec.compile(spikec.load_nir(EXAMPLE), "loihi2", fidelity_steps=0)
    assert output_lag(program) == 2  # two Dense on the path to lif2
    m = fidelity_matrix(spikec.load_nir(EXAMPLE), ["loihi2"], steps=150, batch=2, native=False)
    # aligned, the fixed-point program agrees with the float model on most entries; misaligned it would not
    assert m.agreement[0, 1] > 0.95


def test_activity_cosine_by_hand():
    a = np.zeros((3, 1, 2)); a[0, 0, 0] = a[1, 0, 0] = 1  # counts (2, 0)
    b = np.zeros((3, 1, 2)); b[0, 0, 0] = b[2, 0, 1] = 1  # counts (1, 1)
    assert abs(activity_cosine(a, b) - 2 / (2 * np.sqrt(2))) < 1e-12
    assert activity_cosine(np.zeros((2, 1, 2)), np.zeros((2, 1, 2))) == 1.0


def test_cli_prints_the_matrix():
    result = CliRunner().invoke(cli, ["verify", str(EXAMPLE), "--targets", "spinnaker1", "--steps", "60", "--matrix"])
    assert result.exit_code == 0, result.output
    assert "spike-train agreement:" in result.output and "spinnaker1/spinnaker" in result.output
