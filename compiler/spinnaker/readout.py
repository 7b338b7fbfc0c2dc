"""SpiNNaker read-outs: graph outputs after a stateless chain, computed on the host (``compiler/readout.py``).

The family-neutral pieces live in ``readout``; SpiNNaker's read-outs are in
graph time, with sources ``"<population>.spikes"`` or ``"<population>.v"``
(v in real units), built by ``quantise_spinnaker`` and applied by the
reference executor and the event machine alike.
"""
from __future__ import annotations

from ..readout import Readout, ReadoutTerm, apply_readout, readouts_from_data, readouts_to_data  # noqa: F401  (re-exported)

__all__ = ["Readout", "ReadoutTerm", "apply_readout", "readouts_from_data", "readouts_to_data"]
