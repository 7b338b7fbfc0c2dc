"""The digits example: train in snnTorch and Norse, compile for every target, report (docs/digits.md).

A folder of scripts (``train.py``, ``evaluate.py``, ``run_all.py``) and the small modules they share; the
tests import it as a package, the scripts run directly.
"""
