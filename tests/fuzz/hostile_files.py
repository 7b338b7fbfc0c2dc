"""Hostile files for tests/test_hostile_*.py: zip archives written by hand, so they can lie.

``zipfile`` refuses to write what an attacker writes (duplicate names, sizes
that disagree with the data, symlink entries), and deflating 3 GiB of zeros
with it takes 20 s. Here a zero bomb is one 16 MiB deflate block ended by a
full flush (no history), repeated: 3 GiB of zeros in 3.1 MB, built in about a
second (most of it the CRC).
"""
from __future__ import annotations

import json
import hashlib
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 1 << 24
_ZERO_BLOCK: list[bytes] = []


@dataclass(frozen=True)
class Zeros:
    """``n`` zero bytes (a multiple of 16 MiB), deflated without ever being held."""

    n: int


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes | Zeros
    method: int = 8  # 8 deflate, 0 stored
    declared_size: int | None = None  # lie in both headers about the uncompressed size
    symlink: bool = False
    flags: int = 0  # general-purpose bits (bit 0: encrypted)


def _zero_block() -> bytes:
    if not _ZERO_BLOCK:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        _ZERO_BLOCK.append(c.compress(bytes(_BLOCK)) + c.flush(zlib.Z_FULL_FLUSH))
    return _ZERO_BLOCK[0]


def _payload(entry: Entry) -> tuple[bytes, int, int]:
    """(compressed bytes, crc, uncompressed size)."""
    if isinstance(entry.data, Zeros):
        assert entry.data.n % _BLOCK == 0 and entry.method == 8
        crc, zero = 0, bytes(_BLOCK)
        for _ in range(entry.data.n // _BLOCK):
            crc = zlib.crc32(zero, crc)
        return _zero_block() * (entry.data.n // _BLOCK) + b"\x03\x00", crc, entry.data.n
    if entry.method != 8:
        return entry.data, zlib.crc32(entry.data), len(entry.data)
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(entry.data) + c.flush(), zlib.crc32(entry.data), len(entry.data)


def write_zip(path: Path, entries: list[Entry]) -> Path:
    """A zip holding ``entries`` in order, exactly as given (sizes below 4 GiB: no zip64)."""
    central, offset = [], 0
    with open(path, "wb") as fh:
        for e in entries:
            data, crc, size = _payload(e)
            size = size if e.declared_size is None else e.declared_size
            name = e.name.encode()
            fh.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, e.flags, e.method, 0, 0x21, crc, len(data), size, len(name), 0))
            fh.write(name)
            fh.write(data)
            attr = (0o120777 << 16) if e.symlink else (0o100644 << 16)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x031E, 20, e.flags, e.method, 0, 0x21, crc, len(data), size,
                                       len(name), 0, 0, 0, 0, attr, offset) + name)
            offset = fh.tell()
        cd = b"".join(central)
        fh.write(cd)
        fh.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(cd), offset, 0))
    return path


def program_entries(folder: Path) -> dict[str, bytes]:
    """Every file of a saved program folder, by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def rehash(files: dict[str, bytes]) -> dict[str, bytes]:
    """The same files with manifest.json's hashes and sizes recomputed (a careful attacker)."""
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = {k: hashlib.sha256(v).hexdigest() for k, v in files.items() if k != "manifest.json"}
    manifest["sizes"] = {k: len(v) for k, v in files.items() if k != "manifest.json"}
    return {**files, "manifest.json": json.dumps(manifest, indent=1, sort_keys=True).encode()}


def run_cli(args: list[str], cwd: Path, timeout: float = 120, env: dict | None = None) -> tuple[subprocess.CompletedProcess, int]:
    """``python -m spikec.cli.main ARGS`` in a child; returns (result, the child's peak RSS in bytes)."""
    import os

    # VmHWM is the peak of this process's own memory map. getrusage's ru_maxrss is not: Linux carries
    # the forked parent's RSS across exec into it, so a 4 GB pytest worker made every child "4 GB".
    code = ("import runpy, sys\n"
            "sys.argv = ['spikec'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('spikec.cli.main', run_name='__main__')\n"
            "finally:\n"
            "    hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
            "    sys.stderr.write('\\n@@peak_rss_kb=%s' % (hwm[0] if hwm else '0'))\n")
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})})
    err, _, peak = proc.stderr.rpartition("\n@@peak_rss_kb=")
    proc = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, err if peak else proc.stderr)
    return proc, (int(peak) * 1024 if peak.strip().isdigit() else 0)
