"""PyNN output for SpiNNaker programs: a standalone script for ``pyNN.spiNNaker`` and ``pyNN.nest``.

``emit.write_pynn_script`` writes it (``spikec compile --target spinnaker1 --emit-pynn DIR``);
``runner.run_pynn`` runs it on NEST in its own venv (``python -m spikec.backends.pynn --setup``)
and ``runner.reference_rasters`` / ``runner.agreement`` compare it with spikec's reference.
"""
from .emit import write_pynn_script

__all__ = ["write_pynn_script"]
