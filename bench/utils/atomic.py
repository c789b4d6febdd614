"""Atomic writes: a crash mid-write must never leave a half file where a good one stood.

A disk fault (permission, read-only, full disk) during the write becomes one line naming the file
(``bench.utils.writefaults``); the temporary file is removed, so the good file, if any, stays.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.utils.notice import notice
from bench.utils.writefaults import make_folder, writing

# A temporary file older than this process cannot be a write of its own run (or of the peer ranks
# launched with it), so it is what a killed run left behind.
_STARTED = time.time()


def write_atomic(path: Path, writer: Callable[[Path], None], size: int | None = None) -> None:
    """Call ``writer`` on a temporary sibling of ``path``, then rename it into place; ``size``
    (bytes, where the caller knows it) is what a full-disk message says the step needs."""
    make_folder(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with writing(path, "write", size):  # outside the clean-up, so free space excludes ``tmp``
        try:
            writer(tmp)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda p: p.write_text(text), len(text.encode()))


def write_json_atomic(path: Path, obj: Any) -> None:
    """Strict JSON: a NaN or infinity is refused, never written as a token parsers reject."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False)
    except ValueError:
        raise BenchError(f"{path} was not written: it would hold a NaN or infinity") from None
    write_text_atomic(path, text + "\n")


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A temporary folder inside ``target`` to write a set of files into; when the block ends
    without an error each is moved to its place under ``target`` (renames, on one file system),
    and when it fails they are dropped, so ``target`` keeps the earlier set whole. A leaderboard
    whose plots were rewritten before a later step failed mixed two reports."""
    make_folder(target)
    stage = Path(tempfile.mkdtemp(prefix=".staged-", dir=target))
    try:
        yield stage
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            place = target / path.relative_to(stage)
            make_folder(place.parent)
            os.replace(path, place)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def sweep_temporaries(folder: Path, older_than: float | None = None) -> int:
    """Remove the temporary files (``.NAME.tmp-PID``) a killed process left in ``folder``; returns
    how many. Call it holding the lock of the work that writes there (a cell, a training), so no
    other run of it is writing; files newer than this process (a peer rank's write) stay. A folder
    without a lock (the sample pool) passes ``older_than``: only files that many seconds old go,
    since a live writer's file is seconds old at most."""
    cutoff = _STARTED if older_than is None else min(_STARTED, time.time() - older_than)
    swept = 0
    for path in folder.glob(".*.tmp-*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                swept += 1
        except FileNotFoundError:  # its writer renamed or removed it meanwhile
            continue
    if swept:
        notice(f"removed {swept} temporary file(s) a stopped run left in {folder}")
    return swept
