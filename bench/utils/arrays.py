"""Reading cached uint8 image arrays back, checked, so a damaged or misshapen file is remade.

Shared by the run store (output shards, cached preparation) and the sample pool
(``bench.zoo.pool``): both keep images as ``.npz`` files under BENCH_HOME, and both treat a file
that fails these checks as damaged (``bench.utils.cachefiles.load_cached``), never as data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, read in full so that a damaged member fails its CRC check here.
    Object arrays are refused (``allow_pickle`` stays off): nothing under BENCH_HOME is
    unpickled."""
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
