"""Folders the suite writes into (BENCH_HOME, a results folder, the folders inside BENCH_HOME a run
will write), checked before any work starts.

Unchecked, an unusable folder surfaced as a FileExistsError or PermissionError traceback from
deep inside a run; checked, it is one line naming the folder and what is wrong with it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.errors import BenchError
from bench.utils.writefaults import write_error


def writable_folder(path: Path, what: str) -> Path:
    """``path``, created if missing, once it is known to be a folder this process can write in."""
    if path.exists() and not path.is_dir():
        raise BenchError(f"{what} {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"{what} {path} cannot be created ({exc.strerror})") from None
    try:  # a real write: permission bits say nothing about ACLs, read-only mounts or quotas
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise BenchError(f"{what} {path} is not writable ({exc.strerror})") from None
    return path


def probe_writable(path: Path, what: str) -> Path:
    """``path`` once a new file can be made in it, or in the nearest folder above it that exists
    (which is where its missing levels would be made); nothing is created.

    Run before slow work on each folder the work will write into: a folder inside BENCH_HOME made
    unwritable (or read-only, or on a full file system with no inodes left) then costs a second,
    not the sampling that came before the first write.
    """
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None:
        return path
    if not existing.is_dir():
        raise BenchError(f"{what} {path} cannot be created: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise write_error(exc, existing, f"write in {what}") from None
    return path
