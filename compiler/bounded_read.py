"""Reading files spikec did not write: every size known and bounded before a byte is read.

A program archive, a program folder, an ``.npz`` or ``.npy`` can be damaged
or made to hurt (a 3 MB zip declaring a 3 GiB entry of zeros; an ``.npy``
header declaring 10^18 elements; a symlink to ``/dev/zero``; a pickled
object array). The readers here learn each entry's size first (a zip's
central directory, ``fstat`` of a file opened without following links, an
``.npy`` header), refuse it past a stated limit, and then read with a hard
cap, so a header that lies cannot make them hold more than the limit.
Every refusal is an ``InputError`` naming the file, the entry and the limit.
``docs/hostile-input.md`` lists the cases.
"""
from __future__ import annotations

import math
import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ..ir.errors import InputError

MiB = 1 << 20
GiB = 1 << 30
#: Most bytes of a program's manifest.json (graphs' structure, report): real ones are a few MB.
MAX_MANIFEST_BYTES = 64 * MiB
#: Most entries of an archive (program or .npz) or files in a program folder.
MAX_ENTRIES = 100_000
#: Most bytes of a zip's central directory (parsed whole by ``zipfile`` before any check of ours).
MAX_CENTRAL_DIRECTORY_BYTES = 32 * MiB
#: Most dimensions of an array read from an .npy header.
MAX_NPY_DIMS = 32
#: Largest .npy header (numpy's own default).
MAX_NPY_HEADER_BYTES = 10_000
#: Bounds of the default read limit (``default_max_bytes``).
DEFAULT_MIN_BYTES, DEFAULT_MAX_BYTES = 1 * GiB, 8 * GiB
_CHUNK = 1 * MiB
_ZIP_MAGIC = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR, _ZIP64_EOCD = b"PK\x06\x07", b"PK\x06\x06"


def default_max_bytes() -> int:
    """The default limit on the bytes one program (or input file) may hold: a quarter of the
    memory available now (``MemAvailable``), at least 1 GiB and at most 8 GiB.

    Loading holds the file's bytes and the arrays decoded from them (about twice
    the limit at the peak), so a quarter leaves room for the run itself.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    return max(DEFAULT_MIN_BYTES, min(DEFAULT_MAX_BYTES, available // 4))
    except (OSError, ValueError, IndexError):
        pass
    return DEFAULT_MIN_BYTES


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": MiB, "mb": MiB, "mib": MiB,
          "g": GiB, "gb": GiB, "gib": GiB, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}


def parse_size(text: str | int, what: str = "size") -> int:
    """``"512M"``, ``"4G"``, ``"1.5GiB"`` or a plain byte count (binary units: 1G = 2^30 bytes)."""
    if isinstance(text, int):
        value = text
    else:
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
        if not match or match.group(2).lower() not in _UNITS:
            raise InputError(f"{what}: {text!r} is not a size (e.g. 512M, 4G, or bytes)", parameter=what, value=text)
        value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value < 1:
        raise InputError(f"{what}: {text!r} must be at least 1 byte", parameter=what, value=text)
    return value


def _refuse(label: str, entry: str | None, message: str, *, value: object = None, limit: object = None) -> InputError:
    where = f"{label}: entry {entry!r}: " if entry else f"{label}: "
    return InputError(where + message, parameter=entry, value=value, limit=limit)


def _too_big(label: str, entry: str | None, size: int, limit: int, hint: str, what: str = "holds") -> InputError:
    return _refuse(label, entry, f"{what} {size} bytes, over the limit of {limit} bytes{hint}", value=size, limit=limit)


# --- names ------------------------------------------------------------------------------


def check_entry_name(label: str, name: str) -> None:
    """A relative POSIX path inside the archive or folder: no ``..``, no absolute path, no drive, no NUL."""
    parts = name.split("/")
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name or re.match(r"^[A-Za-z]:", name)
            or any(p in ("", ".", "..") for p in parts)):
        raise _refuse(label, name, "unsafe name (absolute, '..', empty part or backslash): refused", value=name)


# --- zip archives --------------------------------------------------------------------------


def _check_end_record(fh: IO[bytes], label: str, file_size: int) -> None:
    """Entry count and central-directory size from the end record, before ``zipfile`` parses the directory."""
    tail_len = min(file_size, 22 + 65535)
    fh.seek(file_size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise _refuse(label, None, "not a zip archive, or truncated (no end-of-central-directory record)")
    _, _, _, _, entries, cd_size, _, _ = struct.unpack("<4s4H2LH", tail[at:at + 22])
    locator = tail[at - 20:at] if at >= 20 else b""
    if locator[:4] == _ZIP64_LOCATOR:  # zip64: zipfile takes the counts from the zip64 record instead
        fh.seek(struct.unpack("<Q", locator[8:16])[0])
        record = fh.read(56)
        if len(record) == 56 and record[:4] == _ZIP64_EOCD:
            _, _, _, _, _, _, _, entries, cd_size, _ = struct.unpack("<4sQ2H2L4Q", record)
    if entries > MAX_ENTRIES:
        raise _refuse(label, None, f"declares {entries} entries, over the limit of {MAX_ENTRIES}", value=entries, limit=MAX_ENTRIES)
    if cd_size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise _too_big(label, None, cd_size, MAX_CENTRAL_DIRECTORY_BYTES, "", "has a central directory of")
    fh.seek(0)


@dataclass
class ZipEntries:
    """A zip archive whose directory has been checked: safe unique names, no links, no encryption."""

    zf: zipfile.ZipFile
    label: str
    sizes: dict[str, int]

    @classmethod
    def open(cls, fh: IO[bytes], label: str, size_limit: int, hint: str = "") -> "ZipEntries":
        fh.seek(0, os.SEEK_END)
        file_size = fh.tell()
        if file_size > size_limit + MAX_CENTRAL_DIRECTORY_BYTES:
            raise _too_big(label, None, file_size, size_limit, hint, "is")
        _check_end_record(fh, label, file_size)
        try:
            zf = zipfile.ZipFile(fh)
            infos = zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as exc:
            raise _refuse(label, None, f"damaged zip archive ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc
        sizes: dict[str, int] = {}
        for info in infos:
            name = info.filename
            check_entry_name(label, name)
            if name in sizes:
                raise _refuse(label, name, "appears twice in the archive: refused (which one would be read?)")
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_ISLNK(mode):
                raise _refuse(label, name, f"is a {'folder' if info.is_dir() else 'symbolic link'} entry: refused")
            if info.flag_bits & 0x1:
                raise _refuse(label, name, "is encrypted: refused")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _refuse(label, name, f"uses compression method {info.compress_type}; only stored and deflate are read")
            sizes[name] = info.file_size
        return cls(zf, label, sizes)

    def stream(self, name: str) -> IO[bytes]:
        return self.zf.open(name)

    def read(self, name: str, size: int) -> bytes:
        """The entry's bytes, stream-decompressed with a hard cap at ``size`` (its checked, declared size)."""
        try:
            with self.zf.open(name) as stream:
                return read_capped(stream, size, self.label, name)
        except InputError:
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error) as exc:
            raise _refuse(self.label, name, f"damaged ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc


def read_capped(stream: IO[bytes], size: int, label: str, name: str | None, *, probe_end: bool = True) -> bytes:
    """Exactly ``size`` bytes from ``stream``; fewer is refused, and (``probe_end``) so is more.

    Never reads more than ``size + 1`` bytes, whatever the stream would inflate to.
    """
    buf = bytearray()
    want = size + 1 if probe_end else size
    while len(buf) < want:
        chunk = stream.read(min(_CHUNK, want - len(buf)))
        if not chunk:
            break
        buf += chunk
    if len(buf) > size:
        raise _refuse(label, name, f"inflates past its declared size of {size} bytes: refused", value=size, limit=size)
    if len(buf) < size:
        raise _refuse(label, name, f"holds {len(buf)} bytes, fewer than its declared {size} (truncated)", value=len(buf), limit=size)
    return bytes(buf)


# --- program folders -------------------------------------------------------------------------


@dataclass
class FolderEntries:
    """A folder walked without following links: every entry a regular file or a folder, none a link."""

    root: Path
    label: str
    sizes: dict[str, int]

    @classmethod
    def open(cls, root: Path, label: str) -> "FolderEntries":
        sizes: dict[str, int] = {}

        def walk(folder: Path, prefix: str, depth: int) -> None:
            if depth > 8:
                raise _refuse(label, prefix.rstrip("/"), "folders nested more than 8 deep: refused", limit=8)
            with os.scandir(folder) as it:
                for entry in it:
                    rel = prefix + entry.name
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISLNK(st.st_mode):
                        raise _refuse(label, rel, f"is a symbolic link (to {os.readlink(entry.path)!r}): a program folder "
                                      "holds only regular files")
                    if stat.S_ISDIR(st.st_mode):
                        walk(Path(entry.path), rel + "/", depth + 1)
                    elif stat.S_ISREG(st.st_mode):
                        sizes[rel] = st.st_size
                    else:
                        raise _refuse(label, rel, "is not a regular file (device, socket or pipe): refused")
                    if len(sizes) > MAX_ENTRIES:
                        raise _refuse(label, None, f"holds more than {MAX_ENTRIES} files", limit=MAX_ENTRIES)

        try:
            walk(root, "", 0)
        except OSError as exc:
            raise _refuse(label, None, f"cannot list the folder: {exc.strerror or exc}") from exc
        return cls(root, label, sizes)

    def read(self, name: str, size: int) -> bytes:
        """Open each path component relative to its parent without following links (no race with a swap)."""
        parts = name.split("/")
        fds: list[int] = []
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            fds.append(fd)
            for part in parts[:-1]:
                fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                fds.append(fd)
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            fds.append(fd)
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size != size:
                raise _refuse(self.label, name, "changed while being read (no longer the regular file listed): refused")
            with os.fdopen(os.dup(fd), "rb") as fh:
                return read_capped(fh, size, self.label, name)
        except OSError as exc:
            raise _refuse(self.label, name, f"cannot read: {exc.strerror or exc} (a symbolic link?)") from exc
        finally:
            for fd in fds:
                os.close(fd)


# --- numpy files ---------------------------------------------------------------------------------


def _npy_header(stream: IO[bytes], label: str, entry: str | None) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=MAX_NPY_HEADER_BYTES)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=MAX_NPY_HEADER_BYTES)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, zlib.error, zipfile.BadZipFile) as exc:
        raise _refuse(label, entry, f"not a valid .npy array ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc
    if dtype.hasobject:
        raise _refuse(label, entry, f"holds Python objects (dtype {dtype}): object arrays are pickles and are never loaded")
    if len(shape) > MAX_NPY_DIMS:
        raise _refuse(label, entry, f"has {len(shape)} dimensions, over the limit of {MAX_NPY_DIMS}", limit=MAX_NPY_DIMS)
    return tuple(int(s) for s in shape), bool(fortran), dtype


def read_npy(stream: IO[bytes], label: str, entry: str | None, budget: int, hint: str = "") -> np.ndarray:
    """One array from an .npy stream: header checked against ``budget`` bytes before its data is read."""
    shape, fortran, dtype = _npy_header(stream, label, entry)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > budget:
        raise _too_big(label, entry, nbytes, budget, hint, f"declares shape {shape} of {dtype} ({math.prod(shape)} elements),")
    if dtype.itemsize == 0:
        raise _refuse(label, entry, f"has zero-sized elements (dtype {dtype}): refused")
    try:
        data = read_capped(stream, nbytes, label, entry, probe_end=False)
    except (zlib.error, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _refuse(label, entry, f"damaged ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc
    if stream.read(1):
        raise _refuse(label, entry, f"holds more data than its header declares ({nbytes} bytes): refused")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def read_npz(fh: IO[bytes], label: str, budget: int, hint: str = "") -> dict[str, np.ndarray]:
    """Every array of an .npz: each entry an ``<key>.npy`` whose declared sizes fit ``budget`` together."""
    entries = ZipEntries.open(fh, label, budget, hint)
    total = 0
    for name, size in entries.sizes.items():
        if not name.endswith(".npy"):
            raise _refuse(label, name, "is not an .npy array: an .npz holds only arrays (nested archives are refused)")
        total += size
        if total > budget:
            raise _too_big(label, name, total, budget, hint, "brings the arrays to")
    arrays: dict[str, np.ndarray] = {}
    for name, size in entries.sizes.items():
        try:
            with entries.stream(name) as stream:
                arrays[name[:-4]] = read_npy(stream, label, name, size, hint)
        except InputError:
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error) as exc:
            raise _refuse(label, name, f"damaged ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc
    return arrays


def is_zip_bytes(data: bytes) -> bool:
    return data[:4] == _ZIP_MAGIC

