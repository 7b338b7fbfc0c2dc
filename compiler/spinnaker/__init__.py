"""The SpiNNaker family: integer LIF cores, synaptic rows, multicast keys and routing tables.

Stages: ``quantise`` (the integer network), ``partition`` (machine vertices),
``place`` (cores of a ``boards`` machine), ``keys``, ``route`` (tables,
``routing_compress``ed and ``routing_check``ed), ``rows`` (synaptic words),
with ``delays`` adding delay-extension cores; ``io`` holds the artefact types
and their folder/bytes, ``readout`` the host-side read-outs.
"""
