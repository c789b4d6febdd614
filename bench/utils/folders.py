"""Folders the suite writes into (BENCH_HOME, a results folder), checked before any work starts.

Unchecked, an unusable folder surfaced as a FileExistsError or PermissionError traceback from
deep inside a run; checked, it is one line naming the folder and what is wrong with it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.errors import BenchError


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
