"""Reading cached uint8 image arrays back, checked, so a damaged or misshapen file is remade.

Shared by the run store (output shards, cached preparation) and the sample pool
(``bench.zoo.pool``): both keep images as ``.npz`` files under BENCH_HOME, and both treat a file
that fails these checks as damaged (``bench.utils.cachefiles.load_cached``), never as data.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

# Array headers are read before the arrays: a header is a few bytes that may declare any shape,
# and numpy allocates what it declares before it finds the file too short (a header claiming
# 10^13 images asked for 6.8 PiB).
HEADER_READERS = {
    (1, 0): npy_format.read_array_header_1_0,
    (2, 0): npy_format.read_array_header_2_0,
}


def declared_bytes(stream: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, int]:
    """The shape, dtype and byte count an ``.npy`` stream's header declares (the stream is left
    after the header); a ``ValueError`` for a header numpy would not read, or an object dtype."""
    version = npy_format.read_magic(stream)
    reader = HEADER_READERS.get(version)
    if reader is None:
        raise ValueError(f"its .npy format version {version} is not one this suite writes")
    shape, _, dtype = reader(stream)
    if dtype.hasobject:
        raise ValueError("it holds Python objects, which are never unpickled")
    return shape, dtype, math.prod(shape) * dtype.itemsize


def memory_bytes() -> int:
    """This machine's physical memory: no array larger can be read whole."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_npy_header(stream: IO[bytes], holds: int, name: str) -> None:
    """Refuse an array whose header declares more bytes than its file holds (``holds``; for a
    compressed archive member, its size once inflated) or than the machine has memory: the file
    is damaged or crafted, and reading it would allocate the declared size first."""
    shape, dtype, needs = declared_bytes(stream)
    if needs > holds or needs > memory_bytes():
        room = "holds" if needs > holds else "this machine has memory for"
        limit = holds if needs > holds else memory_bytes()
        raise ValueError(
            f"{name} declares {dtype} {shape} ({needs:,} bytes) but {room} {limit:,} bytes"
        )


def check_npz_headers(path: Path) -> None:
    """Every member's header of the ``.npz`` at ``path`` against its size in the archive, before
    any is read; a file that is not a zip archive (an ``.npy`` named ``.npz``) is a
    ``zipfile.BadZipFile``."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as stream:
                check_npy_header(stream, info.file_size, info.filename)


def check_npy_file(path: Path) -> None:
    """An ``.npy`` file's header against the file's size, before it is read."""
    with path.open("rb") as stream:
        check_npy_header(stream, os.fstat(stream.fileno()).st_size, path.name)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, read in full so that a damaged member fails its CRC check here,
    each header checked first (``check_npz_headers``). Object arrays are refused
    (``allow_pickle`` stays off): nothing under BENCH_HOME is unpickled."""
    check_npz_headers(path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def check_images(images: np.ndarray, shape: tuple[int | None, ...]) -> np.ndarray:
    """``images`` when they are uint8 of ``shape`` (None: any length on that axis); a
    ``ValueError`` otherwise, which ``load_cached`` treats as a damaged cache."""
    ok = (
        images.dtype == np.uint8
        and images.ndim == len(shape)
        and all(want is None or got == want for got, want in zip(images.shape, shape))
        and images.size > 0
    )
    if not ok:
        want = "×".join("N" if d is None else str(d) for d in shape)
        raise ValueError(f"it holds {images.dtype} {images.shape}, not uint8 {want}")
    return images
