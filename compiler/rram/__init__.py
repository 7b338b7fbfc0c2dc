"""The RRAM family: weights as differential conductance tiles on crossbar arrays, neurons digital.

``crossbar_map`` quantises each weight matrix into tiles, ``crossbar_pack``
places the tiles on arrays, ``lower`` runs both; ``crossbars`` holds the
artefact types and their bytes, ``config``/``devices`` the target's figures.
"""
