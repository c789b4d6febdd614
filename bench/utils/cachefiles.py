"""Loading cache files that may be damaged: one that fails to load is removed and made again.

Everything under BENCH_HOME is derived data, so a truncated or corrupt file (a full disk, a copy
cut short) is never the user's problem to mend: it is deleted with a one-line notice and whoever
produced it runs again.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from safetensors import SafetensorError

from bench.utils.notice import notice

T = TypeVar("T")

# What numpy, zipfile (npz CRCs), json and safetensors raise on a truncated or garbled file.
CORRUPT = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, SafetensorError)


def load_cached(path: Path, load: Callable[[Path], T], what: str) -> T | None:
    """``load(path)``; None when the file is missing, or corrupt (then it is also removed)."""
    if not path.is_file():
        return None
    try:
        return load(path)
    except CORRUPT as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        notice(f"{what} {path} is corrupt ({reason}); removed, making it again")
        path.unlink(missing_ok=True)
        return None
