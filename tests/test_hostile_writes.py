"""Interrupted and failing writes: the previous output survives byte for byte, no temporary is left.

``spikec compile -o OUT`` and ``spikec run --output Y.npz`` run in a child;
the parent watches the output folder and sends SIGINT or SIGKILL the moment
the hidden temporary ``.OUT.<pid>.*.tmp`` appears, i.e. mid-write (no test
hook in the library: the model is big enough that the write takes a while).
A full disk and a read-only folder are small tmpfs mounts (skipped where
mounting is not permitted). docs/hostile-input.md, "writes".
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spikec import save_nir
from spikec.cli.main import cli
from spikec.api import compile as compile_graph
from spikec.compiler.program import load_program, save_program
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Input, Linear, Output

from test_hostile_program import small_graph

N = 700  # a 700 x 700 layer: a ~4 MB program whose write takes long enough to be caught


def layer(n: int, seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    nodes = {"in": Input(shape=(n,)), "fc": Linear(weight=rng.normal(0, 0.05, (n, n))),
             "lif": LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 0.5), v_reset=np.zeros(n)),
             "out": Output(shape=(n,))}
    return Graph(nodes, (("in", "fc"), ("fc", "lif"), ("lif", "out")), {"dt_s": 1e-4})


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("writes")
    save_nir(layer(N, 0), root / "big.nir")
    old = compile_graph(layer(N, 1), "loihi2", dt_s=1e-4, fidelity_steps=0)  # a different program: old != new
    np.save(root / "x.npy", (np.random.default_rng(2).random((1500, N)) < 0.05).astype(np.int8))
    return root, old


def temporaries(folder: Path, name: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(f".{name}.") and n.endswith(".tmp"))


def snapshot(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    return {"": path.read_bytes()}


def signal_mid_write(args: list[str], cwd: Path, out: str, sig: int, seed: int, attempts: int = 3,
                     max_delay_s: float = 0.01) -> subprocess.CompletedProcess:
    """Run ``spikec ARGS``; send ``sig`` once the output's temporary exists. Retried if the write was missed."""
    rng = random.Random(seed)
    for _ in range(attempts):
        child = subprocess.Popen([sys.executable, "-m", "spikec.cli.main", *args], cwd=cwd, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        caught = False
        while child.poll() is None:
            if temporaries(cwd, out):
                time.sleep(rng.uniform(0, max_delay_s))
                child.send_signal(sig)
                caught = True
                break
            time.sleep(0.0005)
        stdout, stderr = child.communicate(timeout=300)
        if caught:
            return subprocess.CompletedProcess(args, child.returncode, stdout, stderr)
        assert child.returncode == 0, stderr
        for leftover in temporaries(cwd, out):  # finished before the watcher saw the temporary: try again
            raise AssertionError(f"finished normally but left {leftover}")
    pytest.fail(f"the write of {out} was never caught in {attempts} attempts")


@pytest.mark.parametrize("out", ["prog.zip", "prog"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_signal_during_compile_keeps_the_previous_program(big, tmp_path, out, sig):
    root, old = big
    for attempt in range(5):
        old.save(tmp_path / out)
        before = snapshot(tmp_path / out)
        result = signal_mid_write(["compile", str(root / "big.nir"), "--target", "loihi2", "-o", out, "--fidelity-steps", "0"],
                                  tmp_path, out, sig, seed=hash((out, sig, attempt)) % 1000)
        assert "Traceback" not in result.stderr, result.stderr
        if snapshot(tmp_path / out) == before:  # byte-identical: the signal came mid-write
            assert result.returncode != 0, result.stdout
            break
        # the signal came just after the swap (a fast disk writes 4 MB in under the watcher's delay),
        # possibly so late that the interpreter was already exiting (exit 0, the work done):
        # then the new program is there whole, never a mix; try to catch the write again
        assert not load_program(tmp_path / out).same_as(old)
        save_program(load_program(tmp_path / out), tmp_path / out)  # clears a SIGKILL's stale temporary
    else:
        pytest.fail("the signal never came mid-write in 5 attempts")
    left = temporaries(tmp_path, out)
    if sig == signal.SIGINT:
        assert left == []  # removed by the interrupted writer itself
    else:
        assert len(left) <= 1  # a SIGKILL runs no clean-up; the next write removes it
        save_program(load_program(tmp_path / out), tmp_path / out)
        assert temporaries(tmp_path, out) == []
    assert load_program(tmp_path / out).same_as(old)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_signal_during_run_output_keeps_the_previous_outputs(big, tmp_path, sig):
    root, old = big
    old.save(tmp_path / "p.zip")
    for attempt in range(5):
        (tmp_path / "y.npz").write_bytes(b"previous outputs")
        result = signal_mid_write(["run", "p.zip", "--input", str(root / "x.npy"), "--output", "y.npz", "--record", "v"],
                                  tmp_path, "y.npz", sig, seed=int(sig) + attempt, max_delay_s=0.0)
        assert "Traceback" not in result.stderr, result.stderr
        if (tmp_path / "y.npz").read_bytes() == b"previous outputs":  # the signal came mid-write
            assert result.returncode != 0, result.stdout
            break
        with np.load(tmp_path / "y.npz") as new:  # it came after the rename (a loaded watcher): the new file is whole
            assert new.files
    else:
        pytest.fail("the signal never came mid-write in 5 attempts")
    assert len(temporaries(tmp_path, "y.npz")) <= (0 if sig == signal.SIGINT else 1)
    if sig == signal.SIGKILL:
        from spikec.cli.io import save_npz_atomic

        save_npz_atomic(tmp_path / "y.npz", {"a": np.zeros(3)})
        assert temporaries(tmp_path, "y.npz") == []


@pytest.fixture(scope="module")
def two_models(big):
    """Two models of the same size (so the two writes overlap) and the programs they compile to."""
    from spikec import load_nir

    root, _ = big
    save_nir(layer(N, 3), root / "other.nir")
    return {p: compile_graph(load_nir(p), "loihi2", dt_s=1e-4, fidelity_steps=0) for p in (root / "big.nir", root / "other.nir")}


@pytest.mark.parametrize("out", ["same.zip", "same"])
def test_two_compiles_to_the_same_output_at_once_leave_one_complete_program(two_models, tmp_path, out):
    children = [subprocess.Popen([sys.executable, "-m", "spikec.cli.main", "compile", str(model), "--target", "loihi2",
                                  "-o", out, "--fidelity-steps", "0", "--dt", "1e-4"], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for model in two_models]
    results = [(c.wait(timeout=300), c.stderr.read()) for c in children]
    assert all(rc == 0 for rc, _ in results), results
    loaded = load_program(tmp_path / out)  # every hash checked: complete
    assert any(loaded.same_as(expected) for expected in two_models.values())
    assert os.listdir(tmp_path) == [out]  # no temporary, no moved-aside old copy


# --- full disk, read-only folder ----------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path):
    """A 1 MiB tmpfs at tmp_path/mnt (root only); unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("no mount command: full-disk and read-only cases need a tmpfs")
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not permitted'}): full-disk and read-only cases need one")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(mnt: Path) -> None:
    """Write until the file system is full."""
    with open(mnt / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(bytes(4096))
        except OSError:
            pass


def cli_refuses(args: list[str], *fragments: str) -> str:
    result = CliRunner().invoke(cli, args)
    lines = result.output.strip().splitlines()
    assert isinstance(result.exception, SystemExit), (result.output, result.exception)  # not a traceback
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("spikec: error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("out", ["p.zip", "p", "y.npz"])
def test_full_disk_exits_2_and_keeps_the_previous_output(big, tmpfs, out):
    root, _ = big
    small = compile_graph(small_graph(), "loihi2", dt_s=1e-4, fidelity_steps=0)
    small.save(tmpfs / "prev.zip")
    previous = tmpfs / out
    if out == "y.npz":
        previous.write_bytes(b"previous outputs")
    else:
        small.save(previous)
    before = snapshot(previous)
    fill(tmpfs)
    nir = root / "small.nir"
    save_nir(small_graph(), nir)
    if out == "y.npz":
        np.save(root / "xs.npy", np.ones((2000, 4), np.int8))
        args = ["run", str(tmpfs / "prev.zip"), "--input", str(root / "xs.npy"), "--output", str(previous), "--record", "v"]
    else:
        args = ["compile", str(nir), "--target", "loihi2", "-o", str(previous)]
    cli_refuses(args, str(previous), "No space left on device", "unchanged")
    assert snapshot(previous) == before and temporaries(tmpfs, out) == []


@pytest.mark.parametrize("out", ["p.zip", "p", "y.npz"])
def test_read_only_folder_exits_2_and_keeps_the_previous_output(big, tmpfs, out):
    root, _ = big
    small = compile_graph(small_graph(), "loihi2", dt_s=1e-4, fidelity_steps=0)
    small.save(tmpfs / "prev.zip")
    (tmpfs / "y.npz").write_bytes(b"previous outputs")
    small.save(tmpfs / "p")
    small.save(tmpfs / "p.zip")
    before = snapshot(tmpfs / out)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    nir = root / "small.nir"
    save_nir(small_graph(), nir)
    np.save(root / "xs.npy", np.ones((20, 4), np.int8))
    if out == "y.npz":
        args = ["run", str(tmpfs / "prev.zip"), "--input", str(root / "xs.npy"), "--output", str(tmpfs / out)]
    else:
        args = ["compile", str(nir), "--target", "loihi2", "-o", str(tmpfs / out)]
    cli_refuses(args, str(tmpfs / out), "Read-only file system")
    assert snapshot(tmpfs / out) == before


def test_output_over_an_existing_file_or_user_folder_is_refused(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    (tmp_path / "file").write_text("mine")
    nir = tmp_path / "m.nir"
    save_nir(small_graph(), nir)
    cli_refuses(["compile", str(nir), "--target", "loihi2", "-o", str(tmp_path / "notes")], "not a spikec program")
    cli_refuses(["compile", str(nir), "--target", "loihi2", "-o", str(tmp_path / "file")], "a file of that name exists")
    assert (tmp_path / "notes" / "a.txt").read_text() == "mine" and (tmp_path / "file").read_text() == "mine"
