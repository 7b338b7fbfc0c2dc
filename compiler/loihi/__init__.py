"""The Loihi family: fixed-point LIF populations and Dense synapses in Lava's units, and their passes.

``quantise`` lowers the float graph (``LoihiNeurons``/``Dense`` nodes of
``nodes``), ``populations`` splits a layer per decay profile, ``delay_relays``
chains relay populations for long delays, ``place`` assigns cores, and
``feasibility`` refuses what no quantisation can hold before any of them run.
"""
