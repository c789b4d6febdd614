"""SIDE's surrogate labels (Chen et al., §4.1): k-means on features, then a cohesion filter.

A cluster is kept when the mean cosine similarity of its members to its centroid is at least τ;
every synthetic image is then labelled by its nearest kept centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np


@dataclass(frozen=True)
class SurrogateLabels:
    labels: np.ndarray  # (N,) int64 in [0, kept)
    kept: int
    clusters: int
    cohesion: np.ndarray  # (K,) mean cosine similarity to centroid, per k-means cluster
    centroids: np.ndarray  # (kept, D) unit vectors; label i is the nearest of these

    def assign(self, features: np.ndarray) -> np.ndarray:
        """Nearest kept centroid (cosine) of each unit feature vector."""
        return (features @ self.centroids.T).argmax(axis=1).astype(np.int64)


def surrogate_labels(features: np.ndarray, k: int, tau: float, seed: int) -> SurrogateLabels:
    """``features`` are unit vectors; ``k`` is capped at N so tiny synthetic sets still cluster."""
    k = min(k, len(features))
    km = faiss.Kmeans(
        features.shape[1],
        k,
        niter=25,
        seed=int(seed),
        spherical=True,
        min_points_per_centroid=1,
        max_points_per_centroid=1 << 20,
    )
    km.train(np.ascontiguousarray(features, dtype=np.float32))
    centroids = km.centroids / np.maximum(
        np.linalg.norm(km.centroids, axis=1, keepdims=True), 1e-12
    )
    assign = (features @ centroids.T).argmax(axis=1)
    sims = (features * centroids[assign]).sum(axis=1)
    cohesion = np.array(
        [sims[assign == c].mean() if (assign == c).any() else -1.0 for c in range(k)]
    )
    kept = np.flatnonzero(cohesion >= tau)
    if len(kept) == 0:
        return SurrogateLabels(
            np.empty(0, dtype=np.int64), 0, k, cohesion, np.empty((0, features.shape[1]))
        )
    labels = (features @ centroids[kept].T).argmax(axis=1).astype(np.int64)
    return SurrogateLabels(labels, len(kept), k, cohesion, centroids[kept])
