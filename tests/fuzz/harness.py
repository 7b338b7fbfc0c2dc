"""What every hostile input must give: a graph (or target), or one clear SpikecError.

``check_nir_file`` drives the Python API on a ``.nir`` file (``read_nir``,
``load_nir``, and for a file that loads: summary, lint, a short float run,
a round trip through ``save_nir``); ``check_config_file`` does the same for a
target TOML. Anything else escaping is a bug: the checks re-raise it.
``run_cli`` runs ``spikec`` in a subprocess under a memory limit and returns
(exit status, stdout, stderr); ``check_cli_result`` states what a rejected
file must look like on the command line.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import spikec
from spikec.compiler.target import Target, load_target
from spikec.ir import read_nir
from spikec.ir.errors import SpikecError
from spikec.ir.graph import Graph

#: examples per Hypothesis test: a short CI pass unless SPIKEC_FUZZ_EXAMPLES says otherwise
EXAMPLES = int(os.environ.get("SPIKEC_FUZZ_EXAMPLES", "0")) or None
#: address-space limit of CLI subprocesses (MB): a file that makes spikec allocate more fails the test
CLI_MEMORY_MB = 2048
#: above this many neurons a loaded graph is not simulated by the fuzz (it is not hostile, only big)
SIMULATE_MAX_NEURONS = 20_000


#: the CI pass replays the same examples every run (no flakiness); the long pass explores
DERANDOMIZE = EXAMPLES is None


def examples(ci: int) -> int:
    return EXAMPLES or ci


def assert_clear(exc: SpikecError) -> None:
    """One non-empty line, no traceback."""
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} with an empty message"
    assert "\n" not in text, f"multi-line error: {text!r}"
    assert "Traceback" not in text


def _exercise(graph: Graph) -> None:
    """What inspect and run do with a loaded graph; SpikecError allowed, nothing else."""
    from spikec.ir.lint import lint
    from spikec.ir.shapes import infer_shapes
    from spikec.ir.summary import summarise

    summary = summarise(graph)
    json.dumps(summary)
    dt = graph.metadata.get("dt_s", 1e-4)
    lint(graph, dt)
    shapes = infer_shapes(graph)
    neurons = sum(int(np.prod(out)) for _, out in shapes.values())
    if neurons <= SIMULATE_MAX_NEURONS:
        rng = np.random.default_rng(0)
        inputs = {n: (rng.random((3, 1, *graph.nodes[n].shape)) < 0.5).astype(float) for n in graph.inputs}
        try:
            with np.errstate(all="ignore"):
                spikec.simulate(graph, inputs, dt_s=1e-4)
        except SpikecError as exc:
            assert_clear(exc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "again.nir"
        spikec.save_nir(graph, path)
        again = spikec.load_nir(path)
        assert again.same_as(graph), "save_nir -> load_nir changed the graph"


def check_nir_file(path: str | Path, *, probe: bool = False) -> Graph | None:
    """The loaded graph, or None if spikec rejected the file with a clear SpikecError.

    ``probe``: first read the HDF5 in a forked child, as the CLI does, and stop
    if libhdf5 crashes on it (a segfault would kill this process; the CLI turns
    it into one error line, see test_cli_survives_a_file_that_crashes_libhdf5).
    """
    if probe:
        from spikec.cli.common import probe_hdf5

        try:
            probe_hdf5(str(path))
        except SpikecError as exc:
            assert_clear(exc)
            return None
    try:
        read_nir(path)
    except SpikecError as exc:
        assert_clear(exc)
    try:
        graph = spikec.load_nir(path)
    except SpikecError as exc:
        assert_clear(exc)
        return None
    _exercise(graph)
    return graph


def check_config_file(path: str | Path) -> Target | None:
    """The target, or None if spikec rejected the file with a clear SpikecError."""
    try:
        target = load_target(Path(path))
    except SpikecError as exc:
        assert_clear(exc)
        return None
    target.to_dict()
    return target


def _limit_memory() -> None:
    limit = CLI_MEMORY_MB * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_cli(args: list[str], *, cwd: str | Path | None = None, timeout: float = 120) -> tuple[int, str, str]:
    """``spikec ARGS`` in a subprocess limited to CLI_MEMORY_MB of address space."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-c", "from spikec.cli.main import main; main()", *args],
        capture_output=True, text=True, cwd=cwd, timeout=timeout, preexec_fn=_limit_memory, env=env,
    )
    return proc.returncode, proc.stdout, proc.stderr


def check_cli_result(status: int, stderr: str, outputs: list[Path], *, what: str) -> None:
    """Accepted (0) or rejected (2) with one line on stderr; a rejection leaves no output."""
    assert "Traceback" not in stderr, f"{what}: traceback:\n{stderr}"
    assert status in (0, 2), f"{what}: exit status {status}, stderr:\n{stderr}"
    if status == 2:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("spikec: error: "), f"{what}: stderr is not one error line:\n{stderr}"
        for out in outputs:
            assert not out.exists(), f"{what}: failed but left {out} behind"
        leftovers = [p for out in outputs for p in out.parent.glob(f".{out.name}*")] + \
                    [p for out in outputs for p in out.parent.glob("*.tmp")]
        assert not leftovers, f"{what}: temporary files left behind: {leftovers}"
