"""Write a compiled program as a folder that rebuilds and runs the Lava network anywhere Lava runs.

For users who take the network to their own Lava set-up (or a Loihi system):
the folder holds the same description the backend runs (``network.json``,
``arrays.npz``), the standalone ``runner.py`` and ``lava_processes.py``, and
a ``run_lava.py`` that runs it and prints spike counts. It needs only
Python 3.10, numpy < 2 and lava-nc 0.10.0; spikec is not required.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .emit import emit_network, program_graph, spike_inputs
from .launch import write_description

HERE = Path(__file__).resolve().parent
DEFAULT_STEPS = 100

RUN_SCRIPT = '''\
"""Rebuild the spikec-compiled network in Lava, run it, print and save what it records.

    python run_lava.py            # needs Python 3.10, numpy<2, lava-nc==0.10.0

Results go to results.npz (arrays [T, batch, neurons], keyed as below).
Written by spikec; edit network.json/arrays.npz (format described in runner.py)
to change inputs or parameters.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    sys.path.insert(0, HERE)
    import runner

    status = runner.main(["runner.py", HERE])
    if status != 0:
        print(open(os.path.join(HERE, "error.json")).read(), file=sys.stderr)
        return status
    with np.load(os.path.join(HERE, "results.npz")) as results:
        for key in results.files:
            if not key.startswith("_"):
                print("%s: shape %s, %d non-zero" % (key, results[key].shape, np.count_nonzero(results[key])))
    return 0


# Lava finds process models by executing every module beside the process's
# own (lava_processes.py): this guard keeps that from re-running the network.
if __name__ == "__main__":
    sys.exit(main())
'''


def write_lava_script(program: Any, directory: str | Path, inputs: Any = None, record: tuple[str, ...] = ()) -> Path:
    """Write ``program`` as a standalone Lava folder; returns the path of ``run_lava.py``.

    ``inputs`` are the input spikes baked into the folder (as for ``run``);
    by default, ``DEFAULT_STEPS`` steps of silence.
    """
    graph = program_graph(program)
    if inputs is None:
        inputs = {n: np.zeros((DEFAULT_STEPS, *node.shape), np.int32) for n, node in graph.items() if node.kind == "LoihiInput"}
    spikes, _ = spike_inputs(program, inputs)
    network = emit_network(program, spikes, record)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    write_description(folder, network.description, network.arrays)
    for name in ("runner.py", "lava_processes.py"):
        shutil.copyfile(HERE / name, folder / name)
    script = folder / "run_lava.py"
    script.write_text(RUN_SCRIPT)
    return script
