"""A file's SHA-256, read in blocks: how checkpoints, SSCD model files and caches are named."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256(path: Path) -> str:
    """The hex SHA-256 of the file's bytes, read 1 MiB at a time (checkpoints run to megabytes)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
