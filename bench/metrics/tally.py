"""Running counts of one output set against one reference pool, fed a chunk of outputs at a time.

Everything a statistic needs is folded into per-pool boolean masks and counters as chunks arrive,
so memory is bounded by the pool plus one chunk, whatever the number of outputs.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.bands import in_band
from bench.metrics.neighbours import NeighbourIndex

# Carlini et al. 2023 §5: calibrated distance over the n = 50 nearest training images, α = 0.5.
CALIBRATION_NEIGHBOURS = 50
CALIBRATION_ALPHA = 0.5
# Gu et al. 2023: memorised when d1 / d2 < 1/3.
GU_RATIO = 1 / 3


class BandTally:
    """AMS, UMS and (ℓ2, δ)-extraction of outputs against one pool (members or non-members)."""

    def __init__(
        self,
        base: np.ndarray,
        edges: dict[str, tuple[float, float]],
        deltas: tuple[float, ...],
        neighbours: int = 1,
    ) -> None:
        self.index = NeighbourIndex(base)
        self.k = min(neighbours, self.index.size)
        self.edges = edges
        self.deltas = deltas
        self.radius = max([hi for _, hi in edges.values()] + list(deltas))
        self.best_in_band = dict.fromkeys(edges, 0)
        self.band_hits = {b: np.zeros(self.index.size, bool) for b in edges}
        self.delta_hits = {d: np.zeros(self.index.size, bool) for d in deltas}

    def add(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fold one chunk in; returns its k-NN (distances, ids) for subclasses to reuse."""
        dist, idx = self.index.knn(vectors, self.k)
        for band, edge in self.edges.items():
            self.best_in_band[band] += int(in_band(dist[:, 0], edge).sum())
        ids, d = self._pairs_within_radius(vectors, dist, idx)
        for band, edge in self.edges.items():
            self.band_hits[band][ids[in_band(d, edge)]] = True
        for delta in self.deltas:
            self.delta_hits[delta][ids[d <= delta]] = True
        return dist, idx

    def _pairs_within_radius(
        self, vectors: np.ndarray, dist: np.ndarray, idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every (pool id, distance) within the widest band or δ of some output in the chunk.

        UMS counts every pool image in a band, not only the nearest. The k-NN already holds all of
        them unless an output's k-th neighbour is itself inside the radius; only such outputs pay
        for a range search, which in practice is the rare output sitting in a dense cluster.
        """
        close = dist <= self.radius
        more = close[:, -1] if self.k < self.index.size else np.zeros(len(dist), bool)
        keep = close & ~more[:, None]
        ids, ds = [idx[keep]], [dist[keep]]
        if more.any():
            for _, i, d in self.index.within(vectors[more], self.radius):
                ids.append(i)
                ds.append(d)
        return np.concatenate(ids), np.concatenate(ds)

    def hit_ids(self) -> dict[str, list[int]]:
        """Which pool images were hit: the high band and each δ, as sorted pool indices.

        Counts say how many; these say which, so attacks on the same model and seed can be
        compared member by member (the members one finds that another misses).
        """
        out = (
            {"high": np.flatnonzero(self.band_hits["high"]).tolist()}
            if "high" in self.edges
            else {}
        )
        for delta, hits in self.delta_hits.items():
            out[str(delta)] = np.flatnonzero(hits).tolist()
        return out

    def result(self, n: int) -> dict:
        # hit_rate is per pool image, so members and non-members compare whatever their pool sizes:
        # a member rate no higher than the non-member rate is a chance look-alike, not a copy.
        return {
            "ams": {b: c / n for b, c in self.best_in_band.items()},
            "ums": {b: int(h.sum()) / n for b, h in self.band_hits.items()},
            "hit_rate": {b: int(h.sum()) / self.index.size for b, h in self.band_hits.items()},
            "extracted": {str(d): int(h.sum()) for d, h in self.delta_hits.items()},
        }


class PoolTally(BandTally):
    """BandTally plus Carlini's calibrated extraction, Gu's ratio and the nearest-distance tail."""

    def __init__(
        self, base: np.ndarray, edges: dict[str, tuple[float, float]], deltas: tuple[float, ...]
    ) -> None:
        super().__init__(base, edges, deltas, neighbours=CALIBRATION_NEIGHBOURS)
        self.calibrated_hits = np.zeros(self.index.size, bool)
        self.gu_outputs = 0
        self.gu_hits = np.zeros(self.index.size, bool)
        self.nearest: list[np.ndarray] = []

    def add(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dist, idx = super().add(vectors)
        self.nearest.append(dist[:, 0].copy())  # a view would keep the chunk's k columns alive
        # ℓ(x̂, x) < 1  ⇔  l2(x̂, x) < α · mean over the k nearest. Any such x is among those k
        # (the k-th distance is at least the mean), so the k-NN suffices. With a pool smaller than
        # 50, the whole pool is the neighbourhood. Strict, so an all-zero neighbourhood flags none.
        flagged = dist < CALIBRATION_ALPHA * dist.mean(axis=1, keepdims=True)
        self.calibrated_hits[idx[flagged]] = True
        # The ratio needs a second neighbour; written as d1 < d2/3 so that d2 = 0 is no hit.
        if self.k >= 2:
            gu = dist[:, 0] < GU_RATIO * dist[:, 1]
            self.gu_outputs += int(gu.sum())
            self.gu_hits[idx[gu, 0]] = True
        return dist, idx

    def result(self, n: int) -> dict:
        return {
            **super().result(n),
            "calibrated_extracted": int(self.calibrated_hits.sum()),
            "gu_fraction": self.gu_outputs / n,
            "gu_unique": int(self.gu_hits.sum()),
            "nearest_median": float(np.median(np.concatenate(self.nearest))),
            "nearest_p95": float(np.percentile(np.concatenate(self.nearest), 95)),
        }
