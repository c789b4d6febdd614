"""SIDE's surrogate labels (Chen et al., §4.1): k-means on features, then a cohesion filter.

A cluster is kept when the mean cosine similarity of its members to its centroid (its cohesion)
reaches the threshold; every synthetic image is then labelled by its nearest kept centroid.

The paper's τ = 0.5 is a cosine in SSCD space, where unrelated images score near 0, so 0.5 means
"members far more alike than chance". Cosines in another space do not carry that meaning: in the
suite's unit-normalised pixel-PCA space every cluster of 1,024 face generations scored ≥ 0.68, and
τ = 0.5 kept 100 of 100 clusters in every record before card v3. The threshold is therefore
calibrated in the attack's own space against a null with no shared structure: Gaussian features
with the synthetic set's mean and covariance, unit-normalised like the real ones (the same spread
and spectrum, no clusters: nothing beyond second order makes images alike). Cohesion falls with a
cluster's size, so the bar is set per size, from the tightest groups of that size the null holds
(``null_thresholds``); a cluster must reach the ``null_q`` quantile of them. At ``null_q`` = 1 a
kept cluster is tighter than any group of its size that structureless data produced: what chance
cannot reach, the reading of 0.5 in SSCD space. Suite's choice; τ stays as an absolute floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

# Suite's choice: four structureless draws the size of the synthetic set (4 × N groups per size
# around images, 4 × K around centroids), groups of up to 256 images (about the largest cluster
# at N_syn 8,192 and K = 100); about a second at 1,024 × 64 features, nothing beside sampling.
NULL_DRAWS = 4
NULL_MAX_SIZE = 256
# A cluster of one image is cohesive by definition and evidence of nothing: never kept.
MIN_CLUSTER = 2


@dataclass(frozen=True)
class SurrogateLabels:
    labels: np.ndarray  # (N,) int64 in [0, kept)
    kept: int
    clusters: int
    cohesion: np.ndarray  # (K,) mean cosine similarity to centroid, per k-means cluster
    sizes: np.ndarray  # (K,) synthetic images per k-means cluster
    bars: np.ndarray  # (K,) the cohesion each cluster needed: max(τ, the null's bar at its size)
    centroids: np.ndarray  # (kept, D) unit vectors; label i is the nearest of these

    def assign(self, features: np.ndarray) -> np.ndarray:
        """Nearest kept centroid (cosine) of each unit feature vector."""
        return (features @ self.centroids.T).argmax(axis=1).astype(np.int64)

    def summary(self) -> dict[str, float | int]:
        """What the record keeps of the filter: how many clusters passed, and against what bar."""
        live = self.sizes >= MIN_CLUSTER
        out: dict[str, float | int] = {"clusters": self.clusters, "clusters_kept": self.kept}
        for name, values in (("cohesion", self.cohesion[live]), ("bar", self.bars[live])):
            q = np.quantile(values, [0.0, 0.1, 0.5, 0.9, 1.0])
            for tag, value in zip(("min", "q10", "median", "q90", "max"), q):
                out[f"{name}_{tag}"] = round(float(value), 4)
        return out


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def _kmeans(features: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit centroids, per-point cluster and per-cluster cohesion (-1 where a cluster is empty)."""
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
    centroids = _unit(km.centroids)
    assign = (features @ centroids.T).argmax(axis=1)
    sims = (features * centroids[assign]).sum(axis=1)
    cohesion = np.array(
        [sims[assign == c].mean() if (assign == c).any() else -1.0 for c in range(k)]
    )
    return centroids, assign, cohesion


def _group_cohesion(z: np.ndarray, centres: np.ndarray, n_max: int) -> np.ndarray:
    """(len(centres), n_max): cohesion of each centre's n most similar images, n = 1…n_max."""
    out = []
    for lo in range(0, len(centres), 256):
        sims = centres[lo : lo + 256] @ z.T
        nn = np.argsort(-sims, axis=1)[:, :n_max]
        sums = np.cumsum(z[nn], axis=1)  # row n - 1 sums the n most similar images
        out.append(np.linalg.norm(sums, axis=2) / np.arange(1, n_max + 1))
    return np.concatenate(out)


def null_thresholds(
    features: np.ndarray, k: int, q: float, seed: int, draws: int = NULL_DRAWS
) -> np.ndarray:
    """Per cluster size n, how tight the null's n-image groups get (entry 0 unused).

    Each structureless draw is Gaussian with ``features``' mean and covariance, unit-normalised.
    Its tight groups are found around two kinds of centre: every image (its n − 1 nearest
    neighbours) and every centroid k-means draws there with the same K (its n most similar
    images). A group's cohesion is |mean of its n unit vectors|, the cohesion of a cluster with
    those members. The bar for n is the ``q`` quantile of the groups around images, raised to the
    tightest group around a k-means centroid, so a real cluster must be tighter than what the same
    clustering finds in structureless data. Up to ``NULL_MAX_SIZE``; larger clusters meet the bar
    of that size, which is stricter.
    """
    n_max = min(NULL_MAX_SIZE, len(features))
    rng = np.random.default_rng([int(seed), 11])
    x = features.astype(np.float64)
    mean, cov = x.mean(axis=0), np.cov(x, rowvar=False)
    balls, clustered = [], []
    for r in range(draws):
        z = rng.multivariate_normal(mean, cov, size=len(x), method="eigh")
        z = np.ascontiguousarray(_unit(z), dtype=np.float32)
        balls.append(_group_cohesion(z, z, n_max))
        centroids, _, _ = _kmeans(z, min(k, len(z)), int(seed) + 1000 + r)
        clustered.append(_group_cohesion(z, centroids, n_max).max(axis=0))
    bar = np.maximum(np.quantile(np.concatenate(balls), q, axis=0), np.max(clustered, axis=0))
    return np.concatenate([[np.inf], bar])


def surrogate_labels(
    features: np.ndarray, k: int, tau: float, seed: int, null_q: float = 0.0
) -> SurrogateLabels:
    """Cluster unit ``features`` and keep the clusters whose cohesion reaches their bar.

    Args:
        features: (N, D) unit vectors of the synthetic set.
        k: clusters; capped at N so tiny synthetic sets still cluster.
        tau: absolute cosine floor (the paper's τ, meaningful as such in SSCD space).
        seed: k-means and null seed.
        null_q: quantile of the null's same-size groups a kept cluster must also reach; 0
            switches the null off (τ alone, singletons included), 1 is the null's tightest group.

    Returns:
        Labels of the synthetic set by nearest kept centroid, with the filter's evidence.
    """
    k = min(k, len(features))
    centroids, assign, cohesion = _kmeans(features, k, seed)
    sizes = np.bincount(assign, minlength=k)
    bars = np.full(k, float(tau))
    if null_q > 0:
        null = null_thresholds(features, k, null_q, seed)
        bars = np.maximum(bars, null[np.clip(sizes, 1, len(null) - 1)])
        bars[sizes < MIN_CLUSTER] = np.inf
    kept = np.flatnonzero((sizes > 0) & (cohesion >= bars))
    labels = (
        (features @ centroids[kept].T).argmax(axis=1).astype(np.int64)
        if len(kept)
        else np.empty(0, dtype=np.int64)
    )
    return SurrogateLabels(labels, len(kept), k, cohesion, sizes, bars, centroids[kept])
