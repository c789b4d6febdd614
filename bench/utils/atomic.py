"""Atomic writes: a crash mid-write must never leave a half file where a good one stood."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import BenchError


def write_atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer`` on a temporary sibling of ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda p: p.write_text(text))


def write_json_atomic(path: Path, obj: Any) -> None:
    """Strict JSON: a NaN or infinity is refused, never written as a token parsers reject."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False)
    except ValueError:
        raise BenchError(f"{path} was not written: it would hold a NaN or infinity") from None
    write_text_atomic(path, text + "\n")
