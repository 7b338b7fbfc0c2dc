"""Hostile compiled programs: bombs, zip-slip names, links, damage; one InputError each, bounded memory.

Every case either loads or raises one ``InputError`` naming the file and the
entry (and the limit where one applies); through the CLI that is one line on
stderr, exit 2, no traceback, nothing written, and a peak RSS under 1 GB.
Cases and messages: docs/hostile-input.md.
"""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikec.cli.main import cli
from spikec.api import compile as compile_graph
from spikec.compiler.bounded_read import MAX_MANIFEST_BYTES, GiB
from spikec.compiler.program import load_program, program_from_bytes, program_to_bytes
from spikec.ir.errors import InputError, SpikecError
from spikec.ir.graph import Graph
from spikec.ir.nodes import LIF, Input, Linear, Output

from fuzz.hostile_files import Entry, Zeros, program_entries, rehash, run_cli, write_zip

MB = 1 << 20
FAST = settings(deadline=None, database=None, derandomize=True, max_examples=60,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def small_graph() -> Graph:
    rng = np.random.default_rng(0)
    nodes = {
        "in": Input(shape=(4,)),
        "fc": Linear(weight=rng.normal(0, 0.6, (3, 4))),
        "lif": LIF(tau=np.full(3, 2e-3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.full(3, 0.5), v_reset=np.zeros(3)),
        "out": Output(shape=(3,)),
    }
    return Graph(nodes, (("in", "fc"), ("fc", "lif"), ("lif", "out")), {"dt_s": 1e-4})


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(program, its folder, its zip, its files by name, an input .npy) in a module-wide tmp dir."""
    root = tmp_path_factory.mktemp("programs")
    program = compile_graph(small_graph(), "loihi2", dt_s=1e-4, fidelity_steps=0)
    folder, archive = program.save(root / "p"), program.save(root / "p.zip")
    np.save(root / "x.npy", (np.random.default_rng(1).random((20, 4)) < 0.4).astype(np.int8))
    return program, folder, archive, program_entries(folder), root / "x.npy"


def as_zip(path: Path, files: dict[str, bytes], extra: list[Entry] = ()) -> Path:
    return write_zip(path, [Entry(k, v) for k, v in files.items()] + list(extra))


def refused(path: Path, *fragments: str, max_bytes: int | None = None) -> str:
    with pytest.raises(InputError) as info:
        load_program(path, max_bytes=max_bytes)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def assert_cli_refuses(tmp_path: Path, args: list[str], *fragments: str, peak_limit: int = GiB) -> str:
    """A child ``spikec ARGS``: exit 2, one stderr line with the fragments, no traceback, no output, peak RSS < 1 GB."""
    before = set(os.listdir(tmp_path))
    proc, peak = run_cli(args, tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("spikec: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert set(os.listdir(tmp_path)) == before, "something was written"
    assert 0 < peak < peak_limit, f"peak RSS {peak / MB:.0f} MB"
    return lines[0]


def test_clean_program_loads_from_folder_zip_and_hand_written_zip(saved, tmp_path):
    program, folder, archive, files, _ = saved
    assert load_program(folder).same_as(program) and load_program(archive).same_as(program)
    assert load_program(as_zip(tmp_path / "hand.zip", files)).same_as(program)
    assert program_from_bytes(program_to_bytes(program)).same_as(program)
    assert json.loads(files["manifest.json"])["sizes"] == {k: len(v) for k, v in files.items() if k != "manifest.json"}


# --- zip bombs ---------------------------------------------------------------------------------


def test_3gib_unknown_entry_bomb_is_refused_before_reading_it(saved, tmp_path):
    """The issue's case: a 3 MB archive with one extra 3 GiB entry of zeros; exit 2 under 1 GB peak."""
    _, _, _, files, x = saved
    bomb = as_zip(tmp_path / "bomb.zip", files, [Entry("zeros.bin", Zeros(3 * GiB))])
    assert bomb.stat().st_size < 4 * MB
    shutil.copy(x, tmp_path / "x.npy")
    assert_cli_refuses(tmp_path, ["run", "bomb.zip", "--input", "x.npy", "--output", "y.npz"],
                       "bomb.zip", "'zeros.bin'", "not named in manifest.json")


def test_bomb_as_the_arrays_entry_is_refused_by_size(saved, tmp_path):
    """arrays.npz replaced by 1 GiB of zeros: its stored size disagrees with manifest.json's; once the
    manifest declares the bomb's size too, the program limit refuses it. Neither is read."""
    _, _, _, files, _ = saved
    others = [Entry(k, v) for k, v in files.items() if k not in ("arrays.npz", "manifest.json")]
    bomb = write_zip(tmp_path / "bomb.zip", others + [Entry("manifest.json", files["manifest.json"]), Entry("arrays.npz", Zeros(GiB))])
    refused(bomb, "'arrays.npz'", "stored as 1073741824 bytes, manifest.json declares")
    manifest = json.loads(files["manifest.json"])
    manifest["sizes"]["arrays.npz"] = GiB
    bomb = write_zip(tmp_path / "bomb.zip", others + [Entry("manifest.json", json.dumps(manifest).encode()), Entry("arrays.npz", Zeros(GiB))])
    refused(bomb, "'arrays.npz'", "over the limit of 268435456 bytes", "--max-program-bytes", max_bytes=256 * MB)
    message = assert_cli_refuses(tmp_path, ["inspect", "bomb.zip", "--max-program-bytes", "256M"], "'arrays.npz'", "268435456")
    assert "brings the program to" in message


def test_lying_size_header_cannot_inflate_past_it(saved, tmp_path):
    """Central directory and local header say 1 kB; the deflate data holds 1 GiB of zeros."""
    _, _, _, files, _ = saved
    lie = write_zip(tmp_path / "lie.zip", [Entry(k, v) for k, v in files.items() if k != "arrays.npz"]
                    + [Entry("arrays.npz", Zeros(1 * GiB), declared_size=len(files["arrays.npz"]))])
    refused(lie, "'arrays.npz'")
    assert_cli_refuses(tmp_path, ["inspect", "lie.zip"], "'arrays.npz'")


def test_bomb_inside_the_arrays_npz_is_refused(saved, tmp_path):
    """Nested: the program's arrays.npz (with recomputed hashes) holds a 1 GiB array entry of zeros."""
    _, _, _, files, _ = saved
    inner = write_zip(tmp_path / "inner.npz", [Entry("graph/fc/weights.npy", Zeros(1 * GiB))]).read_bytes()
    bomb = as_zip(tmp_path / "nested.zip", rehash({**files, "arrays.npz": inner}))
    refused(bomb, "arrays.npz", "'graph/fc/weights.npy'", "268435456", max_bytes=256 * MB)
    assert_cli_refuses(tmp_path, ["inspect", "nested.zip", "--max-program-bytes", "256M"], "graph/fc/weights.npy")


@pytest.mark.parametrize("inner_name", ["graph/fc/weights.npy", "more.zip"])
def test_nested_archive_inside_the_arrays_npz_is_refused(saved, tmp_path, inner_name):
    _, _, _, files, _ = saved
    nested = write_zip(tmp_path / "n.npz", [Entry(inner_name, files["arrays.npz"])]).read_bytes()
    path = as_zip(tmp_path / "p.zip", rehash({**files, "arrays.npz": nested}))
    refused(path, inner_name, "nested archives are refused" if inner_name.endswith(".zip") else "not a valid .npy")


def test_npy_header_declaring_a_huge_array_is_refused_before_its_data(saved, tmp_path):
    _, _, _, files, _ = saved
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (10**9, 10**9)
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    inner = write_zip(tmp_path / "n.npz", [Entry("graph/fc/weights.npy", buf.getvalue())]).read_bytes()
    path = as_zip(tmp_path / "p.zip", rehash({**files, "arrays.npz": inner}))
    refused(path, "graph/fc/weights.npy", "declares shape (1000000000, 1000000000)")


def test_manifest_over_its_limit_is_refused_before_reading(saved, tmp_path):
    _, _, _, files, _ = saved
    path = write_zip(tmp_path / "m.zip", [Entry("manifest.json", Zeros(MAX_MANIFEST_BYTES + 16 * MB))])
    refused(path, "'manifest.json'", f"over the limit of {MAX_MANIFEST_BYTES} bytes")


def test_too_many_entries_are_refused_from_the_end_record(tmp_path, monkeypatch):
    """Checked before ``zipfile`` parses the central directory (a file of only an end record here)."""
    import struct

    from spikec.compiler import bounded_read

    path = tmp_path / "many.zip"
    path.write_bytes(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 65535, 65535, 0, 0, 0))
    monkeypatch.setattr(bounded_read, "MAX_ENTRIES", 1000)
    refused(path, "65535 entries", "limit of 1000")


def test_entry_count_of_a_zip64_end_record_is_checked_too(tmp_path, monkeypatch):
    """zipfile takes the counts from the zip64 record when there is one: so does the check."""
    from spikec.compiler import bounded_read

    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)  # makes zipfile write a zip64 end record
    with zipfile.ZipFile(tmp_path / "z64.zip", "w") as zf:
        for i in range(5):
            zf.writestr(f"e{i}", b"z")
    assert b"PK\x06\x06" in (tmp_path / "z64.zip").read_bytes()
    monkeypatch.setattr(bounded_read, "MAX_ENTRIES", 3)
    refused(tmp_path / "z64.zip", "declares 5 entries, over the limit of 3")


# --- names, duplicates, links ----------------------------------------------------------------------

UNSAFE = ["../evil.txt", "/etc/passwd", "artefacts/../../x", "a//b", "./manifest.json", "C:\\windows\\x", "a\\..\\b", "x/./y"]


@pytest.mark.parametrize("name", UNSAFE)
def test_zip_slip_names_are_refused_and_nothing_is_written(saved, tmp_path, name):
    _, _, _, files, _ = saved
    path = as_zip(tmp_path / "slip.zip", files, [Entry(name, b"pwned")])
    refused(path, "unsafe name", repr(name))
    assert not (tmp_path.parent / "evil.txt").exists() and not (tmp_path / "x").exists()


@given(name=st.lists(st.sampled_from(["..", ".", "", "a", "artefacts", "/", "\\", "C:"]), min_size=1, max_size=5).map("/".join))
@FAST
def test_any_name_with_dot_dot_or_absolute_is_refused(saved, tmp_path, name):
    _, _, _, files, _ = saved
    path = as_zip(tmp_path / "h.zip", files, [Entry(name, b"x")])
    with pytest.raises(InputError, match="unsafe name|not named in manifest"):
        load_program(path)


def test_names_in_the_manifest_are_checked_too(saved, tmp_path):
    _, folder, _, files, _ = saved
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["../../etc/passwd"] = "0" * 64
    path = as_zip(tmp_path / "m.zip", {**files, "manifest.json": json.dumps(manifest).encode()})
    refused(path, "'../../etc/passwd'", "unsafe name")


@pytest.mark.parametrize("dup", ["manifest.json", "arrays.npz", "target.toml"])
def test_duplicate_names_are_refused(saved, tmp_path, dup):
    _, _, _, files, _ = saved
    path = as_zip(tmp_path / "dup.zip", files, [Entry(dup, b"second copy")])
    refused(path, repr(dup), "appears twice")


def test_symlink_entry_in_a_zip_is_refused(saved, tmp_path):
    _, _, _, files, _ = saved
    path = write_zip(tmp_path / "l.zip", [Entry(k, v, symlink=(k == "target.toml")) for k, v in files.items()])
    refused(path, "'target.toml'", "symbolic link")


@pytest.mark.parametrize("entry, fragment", [(Entry("target.toml", b"x", method=12), "uses compression method 12"),
                                             (Entry("target.toml", b"x", flags=1), "is encrypted")])
def test_unusual_compression_and_encryption_are_refused(saved, tmp_path, entry, fragment):
    _, _, _, files, _ = saved
    path = write_zip(tmp_path / "c.zip", [Entry(k, v) for k, v in files.items() if k != "target.toml"] + [entry])
    refused(path, "'target.toml'", fragment)


@pytest.mark.parametrize("kind", ["outside_file", "dev_zero", "dir_link", "fifo", "extra_file"])
def test_program_folder_with_links_or_strangers_is_refused(saved, tmp_path, kind):
    _, folder, _, _, _ = saved
    p = tmp_path / "p"
    shutil.copytree(folder, p)
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    if kind == "outside_file":
        (p / "target.toml").unlink()
        (p / "target.toml").symlink_to(secret)
        fragment = "symbolic link"
    elif kind == "dev_zero":
        (p / "arrays.npz").unlink()
        (p / "arrays.npz").symlink_to("/dev/zero")
        fragment = "symbolic link"
    elif kind == "dir_link":
        (p / "artefacts").symlink_to(tmp_path)
        fragment = "symbolic link"
    elif kind == "fifo":
        os.mkfifo(p / "pipe")
        fragment = "not a regular file"
    else:
        (p / "notes.txt").write_text("hello")
        fragment = "not named in manifest.json"
    refused(p, fragment)
    assert secret.read_text() == "not yours"


def test_program_folder_reached_through_a_link_to_the_folder_is_fine(saved, tmp_path):
    program, folder, _, _, _ = saved
    (tmp_path / "link").symlink_to(folder)
    assert load_program(tmp_path / "link").same_as(program)


# --- damage --------------------------------------------------------------------------------------


@given(cut=st.floats(0, 1, exclude_max=True))
@FAST
def test_truncated_archives_give_one_input_error(saved, cut):
    program, _, archive, _, _ = saved
    data = archive.read_bytes()
    with pytest.raises(InputError):
        program_from_bytes(data[: int(cut * len(data))], "cut.zip")


@given(flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 7)), min_size=1, max_size=8))
@FAST
def test_bit_flipped_archives_load_identically_or_give_one_spikec_error(saved, flips):
    program, _, archive, _, _ = saved
    data = bytearray(archive.read_bytes())
    for at, bit in flips:
        data[at % len(data)] ^= 1 << bit
    try:
        loaded = program_from_bytes(bytes(data), "flipped.zip")
    except SpikecError as exc:
        assert "\n" not in str(exc)
        return
    assert loaded.same_as(program)  # a flip the format does not read (a header's time, a comment)


def test_malformed_manifests_give_one_input_error(saved, tmp_path):
    _, _, _, files, _ = saved
    manifest = json.loads(files["manifest.json"])
    cases = {
        "not json": b"{not json",
        "a list": b"[]",
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "bad hash": json.dumps({**manifest, "files": {**manifest["files"], "arrays.npz": "xyz"}}).encode(),
        "lost key": json.dumps({k: v for k, v in manifest.items() if k != "graph"}).encode(),
        "foreign class": json.dumps({**manifest, "graph": {**manifest["graph"], "nodes": [
            {**manifest["graph"]["nodes"][0], "class": "os:system"}]}}).encode(),
        "spikec function": json.dumps({**manifest, "graph": {**manifest["graph"], "nodes": [
            {**manifest["graph"]["nodes"][0], "class": "spikec.cli.io:save_npz_atomic"}]}}).encode(),
        "wrong types": json.dumps({**manifest, "pass_log": 3}).encode(),
    }
    for name, text in cases.items():
        path = as_zip(tmp_path / "m.zip", {**files, "manifest.json": text})
        with pytest.raises(InputError) as info:
            load_program(path)
        assert "\n" not in str(info.value) and "m.zip" in str(info.value), (name, info.value)


def test_cli_run_on_a_damaged_program_writes_nothing(saved, tmp_path):
    _, _, archive, _, x = saved
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0xFF
    (tmp_path / "d.zip").write_bytes(bytes(data))
    shutil.copy(x, tmp_path / "x.npy")
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "d.zip"), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npz")])
    assert result.exit_code == 2 and "d.zip" in result.output and not (tmp_path / "y.npz").exists(), result.output


def test_max_program_bytes_option_is_checked(saved, tmp_path):
    _, _, archive, _, _ = saved
    result = CliRunner().invoke(cli, ["inspect", str(archive), "--max-program-bytes", "lots"])
    assert result.exit_code == 2 and "not a size" in result.output
    result = CliRunner().invoke(cli, ["inspect", str(archive), "--max-program-bytes", "1k"])
    assert result.exit_code == 2 and "over the limit of 1024 bytes" in result.output
    assert CliRunner().invoke(cli, ["inspect", str(archive), "--max-program-bytes", "64M"]).exit_code == 0
