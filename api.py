"""The public Python API: ``compile``, ``run``, ``explain``, ``load_program``, ``load_target``.

The top of the import graph, where the layers meet: ``compile`` is the
compiler's pipeline (``spikec.compiler.api``) plus the float-vs-fixed fidelity
report (``spikec.verification.fidelity``), and ``run`` looks the backend up in
the one table of ``spikec.backends``. Inputs are time-first, ``[T, *shape]`` or
``[T, B, *shape]``; outputs come back in the same layout, keyed by output node
name, plus ``"<node>.<var>"`` traces for ``record=("v", "u", "s")``. Loihi
outputs are in chip time: population L lags the float model by
``program.graph.nodes[L].latency_steps`` steps.
"""
from __future__ import annotations

from .backends import BACKENDS, run
from .compiler.api import PIPELINES, explain, load_program, load_target, pipeline_for
from .verification.fidelity import FIDELITY_FAMILIES, compile

__all__ = ["BACKENDS", "FIDELITY_FAMILIES", "PIPELINES", "compile", "explain", "load_program", "load_target", "pipeline_for", "run"]
