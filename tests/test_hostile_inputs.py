"""Hostile input arrays (``--input x.npy/.npz``): no unpickling ever, headers bounded, values checked.

Each case: one ``InputError`` naming the file (and the array, index and value
where one is at fault); through the CLI exit 2, one line, nothing written.
docs/hostile-input.md lists them.
"""
from __future__ import annotations

import io
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikec.cli.io import MAX_INPUT_MAGNITUDE, load_array
from spikec.cli.main import cli
from spikec.api import compile as compile_graph
from spikec.compiler.bounded_read import GiB
from spikec.compiler.program import load_program
from spikec.ir.errors import InputError

from fuzz.hostile_files import Entry, Zeros, program_entries, rehash, run_cli, write_zip
from test_hostile_program import as_zip, small_graph

MB = 1 << 20
FAST = settings(deadline=None, database=None, derandomize=True, max_examples=40,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class Payload:
    """Unpickling this creates the folder ``marker``: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def pickled_npy(path: Path, marker: Path) -> Path:
    np.save(path, np.array([Payload(marker), 1], dtype=object), allow_pickle=True)
    return path


@pytest.fixture(scope="module")
def program_zip(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    return compile_graph(small_graph(), "loihi2", dt_s=1e-4, fidelity_steps=0).save(root / "p.zip")


def invoke(args: list[str]):
    result = CliRunner().invoke(cli, args)
    assert "Traceback" not in result.output
    return result


def test_the_payload_is_real_when_numpy_is_allowed_to_unpickle(tmp_path):
    marker = tmp_path / "executed"
    np.load(pickled_npy(tmp_path / "evil.npy", marker), allow_pickle=True)
    assert marker.exists()  # so the tests below would see an execution


@pytest.mark.parametrize("container", ["npy", "npz", "program"])
def test_pickled_object_arrays_are_never_executed(tmp_path, program_zip, container):
    marker = tmp_path / "executed"
    evil = pickled_npy(tmp_path / "evil.npy", marker)
    if container == "npy":
        args, fragment = ["run", str(program_zip), "--input", str(evil)], "evil.npy"
    elif container == "npz":
        write_zip(tmp_path / "evil.npz", [Entry("in.npy", evil.read_bytes())])
        args, fragment = ["run", str(program_zip), "--input", str(tmp_path / "evil.npz")], "'in.npy'"
    else:
        np.save(tmp_path / "x.npy", np.zeros((5, 4), np.int8))
        files = program_entries(load_program(program_zip).save(tmp_path / "folder"))
        inner = write_zip(tmp_path / "a.npz", [Entry("graph/fc/weights.npy", evil.read_bytes())]).read_bytes()
        as_zip(tmp_path / "evil.zip", rehash({**files, "arrays.npz": inner}))
        args, fragment = ["run", str(tmp_path / "evil.zip"), "--input", str(tmp_path / "x.npy")], "graph/fc/weights.npy"
    result = invoke(args + ["--output", str(tmp_path / "y.npz")])
    assert result.exit_code == 2 and "object arrays are pickles and are never loaded" in result.output, result.output
    assert fragment in result.output and len(result.output.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "y.npz").exists()


def npy_header(shape: tuple, dtype: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_npy_header_declaring_10_to_the_12_values_is_refused_before_reading(tmp_path, program_zip):
    (tmp_path / "huge.npy").write_bytes(npy_header((10**6, 10**6)) + bytes(800))
    shutil.copy(program_zip, tmp_path / "p.zip")
    proc, peak = run_cli(["run", "p.zip", "--input", "huge.npy", "--output", "y.npz"], tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "huge.npy" in proc.stderr and "declares shape (1000000, 1000000)" in proc.stderr and "--max-input-bytes" in proc.stderr
    assert not (tmp_path / "y.npz").exists() and peak < GiB


@pytest.mark.parametrize("data, fragment", [
    (npy_header((100, 4)) + bytes(16), "fewer than its declared 3200"),
    (npy_header((2, 2)) + bytes(32) + b"extra", "more data than its header declares"),
    (b"\x93NUMPY\x01\x00\xff\xffgarbage", "not a valid .npy"),
    (npy_header((2,), "|V0"), "zero-sized elements"),
    (b"hello world", "not an .npy or .npz file"),
])
def test_damaged_npy_files_name_the_problem(tmp_path, data, fragment):
    (tmp_path / "bad.npy").write_bytes(data)
    with pytest.raises(InputError, match=fragment) as info:
        load_array(tmp_path / "bad.npy")
    assert "bad.npy" in str(info.value)


def test_npz_bomb_is_refused_under_the_input_limit(tmp_path, program_zip):
    bomb = write_zip(tmp_path / "bomb.npz", [Entry("in.npy", Zeros(GiB))])
    result = invoke(["run", str(program_zip), "--input", str(bomb), "--output", str(tmp_path / "y.npz"), "--max-input-bytes", "64M"])
    assert result.exit_code == 2 and "'in.npy'" in result.output and "67108864" in result.output, result.output
    lie = write_zip(tmp_path / "lie.npz", [Entry("in.npy", Zeros(GiB), declared_size=1000)])
    with pytest.raises(InputError, match="lie.npz"):
        load_array(lie)


def test_fifo_and_folder_as_input_are_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.npy")
    with pytest.raises(InputError, match="not a regular file"):
        load_array(tmp_path / "pipe.npy")  # a plain open() would wait for a writer forever
    with pytest.raises(InputError, match="not a regular file|cannot read"):
        load_array(tmp_path)


BAD_VALUES = [np.nan, np.inf, -np.inf, 1e300, -1e300, 10 * MAX_INPUT_MAGNITUDE]


@given(value=st.sampled_from(BAD_VALUES), at=st.tuples(st.integers(0, 9), st.integers(0, 3)), npz=st.booleans())
@FAST
def test_nan_inf_and_huge_values_name_the_file_index_and_value(tmp_path, value, at, npz):
    x = np.zeros((10, 4))
    x[at] = value
    path = tmp_path / ("x.npz" if npz else "x.npy")
    np.savez(path, inp=x) if npz else np.save(path, x)
    with pytest.raises(InputError) as info:
        load_array(path)
    message = str(info.value)
    assert str(path) in message and f"index {at}" in message and repr(x[at]) in message, message
    assert ("'inp'" in message) == npz


@given(value=st.sampled_from([-1, 2, 0.5, -0.0001, 255]), at=st.tuples(st.integers(0, 19), st.integers(0, 3)))
@FAST
def test_values_other_than_0_and_1_are_refused_where_spikes_are_expected(tmp_path, program_zip, value, at):
    x = np.zeros((20, 4), np.float64 if isinstance(value, float) else np.int16)
    x[at] = value
    np.save(tmp_path / "x.npy", x)
    result = invoke(["run", str(program_zip), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npz")])
    assert result.exit_code == 2 and "spikes are 0 or 1" in result.output and f"index {at}" in result.output, result.output
    assert not (tmp_path / "y.npz").exists()


@pytest.mark.parametrize("array", [np.array([["a", "b"]]), np.ones((3, 4), complex),
                                   np.zeros(3, dtype=[("t", "<i4"), ("v", "<f8")]), np.array(["2026-01-01"], "datetime64[D]")])
def test_non_numeric_input_dtypes_are_refused(tmp_path, array):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(InputError, match="is not a real number type"):
        load_array(tmp_path / "x.npy")


def test_negative_currents_are_accepted_for_a_float_model(tmp_path):
    """A float model takes real-valued input (negative currents included); only non-finite or huge values are refused."""
    x = np.random.default_rng(0).normal(0, 1, (10, 4))
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(load_array(tmp_path / "x.npy"), x)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "folder"])
def test_model_that_is_a_pipe_device_or_folder_is_refused_without_blocking(tmp_path, kind):
    path = tmp_path / "m.nir"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    from spikec.ir.errors import GraphError
    from spikec.ir.nir_io import read_nir

    with pytest.raises(GraphError, match="not a regular file"):
        read_nir(path)
    result = invoke(["inspect", str(path)])
    assert result.exit_code == 2 and "m.nir" in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_a_memory_error_anyway_is_one_line_and_exit_2(tmp_path, program_zip, monkeypatch):
    """A limit raised past the machine's memory: no traceback either (cli/common.py: reports_errors)."""
    import spikec.cli.run_cmd as run_cmd

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(run_cmd, "load_array", exhausted)
    result = invoke(["run", str(program_zip), "--input", "x.npy", "--output", str(tmp_path / "y.npz")])
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        "spikec: error: out of memory (MemoryError); lower --max-program-bytes / --max-input-bytes or free memory"]


def test_a_damaged_chunk_of_a_large_weight_the_probe_skips_is_still_one_error_line(tmp_path):
    """The CLI's forked probe leaves numeric datasets over 1 MiB to the real read (a 10^6-neuron
    file is not read twice); damage inside one still ends as 'damaged HDF5', exit 2, no traceback."""
    import h5py

    from spikec import save_nir
    from spikec.cli.common import PROBE_MAX_NUMERIC_BYTES
    from spikec.ir.graph import Graph
    from spikec.ir.nodes import LIF, Input, Linear, Output

    n = 600
    w = np.random.default_rng(0).normal(0, 0.1, (n, n))
    assert w.nbytes > PROBE_MAX_NUMERIC_BYTES
    g = Graph({"in": Input(shape=(n,)), "fc": Linear(weight=w),
               "lif": LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n)),
               "out": Output(shape=(n,))}, (("in", "fc"), ("fc", "lif"), ("lif", "out")), {"dt_s": 1e-4})
    path = tmp_path / "big.nir"
    save_nir(g, path)
    with h5py.File(path, "r") as f:
        ds = f["node/nodes/fc/weight"]
        assert ds.compression == "gzip"
        info = ds.id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    raw[info.byte_offset + 8: info.byte_offset + 72] = b"\xff" * 64  # inside the first compressed chunk
    path.write_bytes(bytes(raw))
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 2, result.output
    assert "damaged HDF5" in result.output and "Traceback" not in result.output
