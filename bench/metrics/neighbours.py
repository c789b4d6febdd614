"""The one nearest-neighbour engine: exact faiss search under normalised ℓ2.

Every distance question in the suite (outputs vs members, vs non-members, generations vs each
other) goes through here, so that all attacks and metrics agree on what "close" means. Vectors are
images flattened to [0, 1]; faiss returns squared ℓ2 sums, which are turned into Carlini's
normalised ℓ2 ``sqrt(mean((a - b)^2))`` by dividing by the dimension.
"""

from __future__ import annotations

from collections.abc import Iterator

import faiss
import numpy as np
from tqdm import tqdm

QUERY_BATCH = 8192


def _gpu_resources():  # pragma: no cover - only where faiss was built with CUDA
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        return faiss.StandardGpuResources()
    return None


class NeighbourIndex:
    """An exact flat index over ``base`` (N, D) float32, on the GPU when faiss has one."""

    def __init__(self, base: np.ndarray) -> None:
        base = np.ascontiguousarray(base, dtype=np.float32)
        if base.ndim != 2 or len(base) == 0:
            raise ValueError(f"index needs a non-empty (N, D) array, got {base.shape}")
        self.dim = base.shape[1]
        self.size = len(base)
        # Range search runs on the CPU index (faiss's GPU flat index has none); k-NN uses the GPU.
        self.cpu_index = faiss.IndexFlatL2(self.dim)
        self.cpu_index.add(base)
        res = _gpu_resources()
        self.index = (
            faiss.index_cpu_to_gpu(res, 0, self.cpu_index) if res is not None else self.cpu_index
        )

    def _batches(self, queries: np.ndarray, progress: bool) -> Iterator[tuple[int, np.ndarray]]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        starts = range(0, len(queries), QUERY_BATCH)
        bar = tqdm(
            starts,
            desc="nearest neighbours",
            unit="batch",
            leave=False,
            disable=not progress or len(starts) < 4,
        )
        for s in bar:
            yield s, queries[s : s + QUERY_BATCH]

    def knn(
        self, queries: np.ndarray, k: int, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Normalised ℓ2 distances (Q, k) ascending and indices (Q, k); -1 where k > size."""
        k_eff = min(k, self.size)
        dist = np.full((len(queries), k), np.inf, dtype=np.float32)
        idx = np.full((len(queries), k), -1, dtype=np.int64)
        for s, q in self._batches(queries, progress):
            d, i = self.index.search(q, k_eff)
            dist[s : s + len(q), :k_eff] = np.sqrt(np.maximum(d, 0) / self.dim)
            idx[s : s + len(q), :k_eff] = i
        return dist, idx

    def within(
        self, queries: np.ndarray, radius: float, progress: bool = False
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """All pairs with normalised ℓ2 ≤ radius, as (query ids, base ids, distances) per batch.

        Streams batch by batch so memory stays bounded by the number of matches of one batch.
        """
        sq = float(radius) ** 2 * self.dim
        for s, q in self._batches(queries, progress):
            lims, d, i = self.cpu_index.range_search(q, sq * (1 + 1e-6) + 1e-9)
            # faiss returns the limits as uint64, which np.repeat refuses to cast.
            qid = np.repeat(np.arange(len(q)), np.diff(lims).astype(np.int64)) + s
            yield qid, i.astype(np.int64), np.sqrt(np.maximum(d, 0) / self.dim)
