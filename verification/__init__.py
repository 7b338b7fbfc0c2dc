"""The tools on top of compile and run: they import the compiler and the backends, never the reverse.

``verify`` (reference vs native backend, bisection), ``sweep`` over
``random_graphs`` (``randgraph_*``) with ``shrink``ing of failures,
``fidelity`` (float vs fixed point, and ``spikec.compile``'s report),
``fidelity_matrix``, ``program_check`` (a saved program against a recompile),
``evaluation``/``metrics``/``report`` (accuracy, activity, the HTML report) and
``execution`` (serial, local processes or Dask).
"""
