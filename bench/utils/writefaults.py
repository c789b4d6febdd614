"""Disk faults at the suite's writes, as one line that names the path and the operation.

Every write (arrays, shards, cached preparation, records, cards, plots) went through ``open`` or
``mkdir`` unguarded, so an unwritable folder inside BENCH_HOME or a full disk ended in a
30-to-50-line traceback even though the atomic writes had kept every file whole. Here an
``OSError`` (and the ``SafetensorError`` that safetensors raises for the same faults) becomes a
``BenchError`` naming the file, what was being done to it, and, for a full disk, the free space
against what the step needs, so the user knows how much room to make before running again.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safetensors import SafetensorError

from bench.errors import BenchError

# ENOSPC, a quota (EDQUOT) and a file-size limit (EFBIG) all mean: make room, then run again.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# numpy's ``tofile`` reports a short write without an errno: "768000 requested and 348032 written".
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
_SAFETENSORS_ERRNO = re.compile(r"os error (\d+)")


def human_bytes(n: float) -> str:
    """``n`` bytes as B, KB, MB, GB or TB (powers of 1000, one decimal above KB)."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def free_bytes(path: Path) -> int | None:
    """Free space on the file system that holds ``path`` (or its nearest existing folder)."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def as_oserror(exc: BaseException) -> OSError | None:
    """The ``OSError`` behind ``exc``: itself, or the one a ``SafetensorError`` describes."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, SafetensorError):
        found = _SAFETENSORS_ERRNO.search(str(exc))
        if found:
            code = int(found.group(1))
            return OSError(code, os.strerror(code))
    return None


def disk_full(exc: OSError) -> bool:
    return exc.errno in _FULL or (exc.errno is None and bool(_SHORT_WRITE.search(str(exc))))


def write_error(exc: OSError, path: Path, operation: str, needs: int | None = None) -> BenchError:
    """The one-line error for ``exc``, raised while doing ``operation`` (``write``, ``create the
    folder``, …) to ``path``; ``needs`` is the bytes the step was writing, where known."""
    if disk_full(exc):
        free = free_bytes(path)
        room = f"{human_bytes(free)} free" if free is not None else "free space unknown"
        if needs is not None:
            room += f", this step needs {human_bytes(needs)}"
        return BenchError(
            f"cannot {operation} {path}: the disk is full ({room}); make room (or point "
            "BENCH_HOME at a larger disk) and run the same command again, finished work is kept"
        )
    if exc.errno == errno.EROFS:
        why = "the file system is read-only"
    elif isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        why = f"permission denied ({exc.strerror or exc}); make the folder writable"
    else:
        why = exc.strerror or " ".join(str(exc).split())
    return BenchError(f"cannot {operation} {path}: {why}")


@contextmanager
def writing(path: Path, operation: str = "write", needs: int | None = None) -> Iterator[None]:
    """Run the block; a disk fault inside it becomes ``write_error`` for ``path``."""
    try:
        yield
    except (OSError, SafetensorError) as exc:
        os_error = as_oserror(exc)
        if os_error is None:
            raise
        raise write_error(os_error, path, operation, needs) from None


def make_folder(path: Path) -> Path:
    """``path.mkdir(parents=True, exist_ok=True)``, naming the level that could not be made."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        failed = Path(exc.filename) if exc.filename else path
        raise write_error(exc, failed, "create the folder") from None
    return path
