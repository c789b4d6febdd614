"""One lock per benchmark cell (and per zoo training), so two identical runs in one BENCH_HOME
never interleave.

The lock is an exclusive ``flock`` on a file in the cell's output folder, which also names its
owner. A second run of the cell exits with one line naming that owner. The kernel drops the lock
when its process ends however it ends, so a killed run leaves no stale lock behind and resumes.

A run that fails before ``release`` keeps its lock until its process exits; the same process may
take it again (a caller that catches the error and retries), another process may not.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import stat
from pathlib import Path

from bench.errors import BenchError
from bench.utils.writefaults import make_folder, writing

_held: dict[Path, int] = {}  # lock file -> descriptor holding the flock, in this process


def lock_cell(folder: Path, what: str = "this cell") -> Path:
    """Take the lock of the cell whose outputs live in ``folder`` (or of ``what`` else works
    there, such as a training); returns the lock file."""
    path = folder / "lock"
    if path in _held:
        return path
    make_folder(folder)
    fd = _open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.read(fd, 256).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise BenchError(
            f"{what} is already running ({owner}; lock {path}); wait for it to finish, then "
            "run the same command again"
        ) from None
    with contextlib.suppress(OSError):  # the owner's name only informs; the flock is the lock
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
    _held[path] = fd
    return path


def _open_lock_file(path: Path) -> int:
    """Open (or create) the lock file without following a link at its name, dangling or not:
    a planted ``lock`` symlink would otherwise make the owner's line overwrite its target, or
    create one anywhere. Anything but a regular file is refused, so a FIFO cannot hang us."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    if path.is_symlink():
        raise BenchError(f"{path} is a symbolic link, not a lock file; remove it and run again")
    with writing(path, "create the lock file"):  # ELOOP (a link planted since) is one line too
        fd = os.open(path, flags, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BenchError(f"{path} is not a regular file, so it cannot be a lock; remove it")
    return fd


def release(path: Path) -> None:
    """Give up a lock taken by ``lock_cell``; the file stays, only the flock goes."""
    fd = _held.pop(path, None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
