"""SHA-256 digests: of a file's bytes (how checkpoints, SSCD model files and caches are named),
and of the arrays a cache file holds (how a cache that feeds a record proves it is what was made).

A cache under BENCH_HOME that passed every shape check could still hold other pixels: an output
shard or a pooled sample batch rewritten with the right shape entered records unnoticed. So such
files carry, beside their arrays, the digest of those arrays and of the file's identity (its name
in its folder), written when the file is made and checked when it is read: an edit, a file moved
to another index or seed, or one written before digests is damage, and the cache is made again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

DIGEST_KEY = "digest"  # the array, beside the others in an .npz, that holds their digest


def sha256(path: Path) -> str:
    """The hex SHA-256 of the file's bytes, read 1 MiB at a time (checkpoints run to megabytes)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def arrays_digest(arrays: Mapping[str, np.ndarray], identity: str) -> str:
    """The hex SHA-256 of ``identity`` and every array's name, dtype, shape and bytes (the
    ``DIGEST_KEY`` array itself excepted), in name order."""
    h = hashlib.sha256(identity.encode())
    for name in sorted(arrays):
        if name == DIGEST_KEY:
            continue
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def with_digest(arrays: Mapping[str, np.ndarray], identity: str) -> dict[str, np.ndarray]:
    """``arrays`` and their digest, to be saved together."""
    return {**arrays, DIGEST_KEY: np.array(arrays_digest(arrays, identity))}


def check_digest(arrays: Mapping[str, np.ndarray], identity: str) -> None:
    """A ``ValueError`` (damage, to ``bench.utils.cachefiles.load_cached``) unless ``arrays``
    carry the digest of their own contents under ``identity``."""
    held = arrays.get(DIGEST_KEY)
    if held is None or held.shape != () or held.dtype.kind != "U":
        raise ValueError("it carries no digest (written by hand, or before caches had one)")
    if str(held) != arrays_digest(arrays, identity):
        raise ValueError(f"its arrays do not match its digest as {identity}")
