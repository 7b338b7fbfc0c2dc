"""Writing outputs so that a reader sees the old file or the new one, never half of either.

Every output (a program folder or archive, ``run --output`` arrays, a JUnit
report) is written into a hidden temporary sibling ``.<name>.<pid>.<random>.tmp``
and renamed into place; a program folder is swapped in with one atomic
``renameat2(RENAME_EXCHANGE)`` where the kernel offers it. So:

- an error (full disk, read-only folder) or Ctrl-C removes the temporary and
  leaves the previous output byte-identical; the error is one ``OutputError``;
- a SIGKILL cannot run any clean-up: it may leave one temporary sibling,
  which the next write to the same path removes (its process is gone);
- two writers of the same path both finish; the path then holds one of the
  two complete outputs.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import IO, Callable, Iterator, Mapping

from ..ir.errors import OutputError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _fail(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc}; the previous content (if any) is unchanged",
                       parameter=str(path), value=exc.errno)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def remove_stale_temporaries(path: Path) -> None:
    """Remove ``.<name>.<pid>.*.tmp`` siblings left by writers that were killed (their pid is gone)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\..*\.tmp")
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return
    for sibling in siblings:
        match = pattern.fullmatch(sibling.name)
        if not match or _alive(int(match.group(1))):
            continue
        if sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
        else:
            try:
                sibling.unlink()
            except OSError:
                pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of ours may be writing; our own failures clean up after themselves
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Hold a SIGINT (Ctrl-C) until the block ends; it then interrupts before the rename.

    An interrupt inside a library's writer (``np.savez`` building its ZipFile)
    leaves a half-made object whose ``__del__`` prints a traceback; held here, the
    writer finishes, the KeyboardInterrupt comes at the end of the block, and the
    temporary is removed as for any failure (Unix; elsewhere a no-op).
    """
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


def replace_file(path: str | os.PathLike, write: Callable[[IO[bytes]], None], *, what: str = "file", mode: int = 0o644) -> Path:
    """Call ``write(fh)`` on a temporary sibling, fsync it, rename it over ``path``."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {what} {path}: a folder of that name exists", parameter=str(path))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            with _ctrl_c_after():
                write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise _fail(path, exc) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    return replace_file(path, lambda fh: fh.write(data))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the kernel or file system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_folder(path: str | os.PathLike, files: Mapping[str, bytes], *, is_ours: Callable[[Path], bool]) -> Path:
    """Write ``files`` (relative path -> bytes) into a temporary folder and swap it in for ``path``.

    An existing ``path`` is replaced only if ``is_ours(path)`` (a program
    spikec wrote) or it is an empty folder: ``-o ~/Documents`` must not delete
    a user's folder.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if path.is_symlink() or not path.is_dir():
            raise OutputError(f"cannot write program {path}: a file of that name exists (not a program folder)", parameter=str(path))
        if not is_ours(path) and any(path.iterdir()):
            raise OutputError(f"cannot write program {path}: the folder exists and is not a spikec program; refusing to replace it",
                              parameter=str(path))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp"))
        os.chmod(tmp, 0o755)
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            with open(tmp / rel, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _swap_in(tmp, path)  # afterwards ``tmp`` holds the previous program, or nothing
    except OSError as exc:
        raise _fail(path, exc) from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _swap_in(tmp: Path, path: Path) -> None:
    for _ in range(100):  # another writer may create or swap ``path`` between our attempts
        if path.is_dir():
            if _exchange(tmp, path):
                return
            _two_renames(tmp, path)
            return
        try:
            os.rename(tmp, path)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR):
                raise
    raise OSError(errno.EBUSY, "kept being replaced by another writer", str(path))


def _two_renames(tmp: Path, path: Path) -> None:
    """Where no atomic exchange exists: move the old aside, the new in (a crash between leaves the old aside)."""
    old = tmp.with_name(tmp.name[:-4] + ".old.tmp")
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    os.replace(old, tmp)  # so the caller removes it

