"""Images to distance vectors a bounded slice at a time.

Converting 10^5 outputs to float at once would cost more memory than the search itself at larger
resolutions, so every consumer walks the outputs in chunks whose float size is capped.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from tqdm import tqdm

from bench.utils.imageio import to_unit

# At most this many float32 values per chunk (256 MiB), and never more rows than this: a chunk's
# range search holds every pair it finds, so fewer rows also cap that memory.
CHUNK_FLOATS = 1 << 26
CHUNK_ROWS = 2048


def unit_chunks(
    images: np.ndarray, progress: bool = False, desc: str = "scoring"
) -> Iterator[tuple[int, np.ndarray]]:
    """(start row, float32 (n, D) vectors in [0, 1]) for consecutive slices of uint8 images."""
    dim = int(np.prod(images.shape[1:]))
    rows = max(1, min(CHUNK_ROWS, CHUNK_FLOATS // max(dim, 1)))
    starts = range(0, len(images), rows)
    for s in tqdm(
        starts, desc=desc, unit="chunk", leave=False, disable=not progress or len(starts) < 4
    ):
        yield s, to_unit(images[s : s + rows])
