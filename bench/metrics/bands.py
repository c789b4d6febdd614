"""ℓ2 similarity bands: which distances count as high, mid and low, and how the edges are chosen.

SIDE defines its bands on SSCD similarity only and leaves the ℓ2 thresholds for low-resolution data
unstated, so the suite derives them from data: real images of people the model never saw
(non-members) show how close an image gets to some member by chance. Each band is then a chance
level, and the rate at which non-members land in it (its false-match rate) is stored beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.metrics.neighbours import NeighbourIndex
from bench.metrics.vectors import unit_chunks
from bench.utils.imageio import to_unit

BAND_NAMES = ("high", "mid", "low")

# Suite's choice (the papers leave the ℓ2 bands open; docs/background.md): quantiles of the
# non-member → nearest-member distance. A band's upper edge is the distance that only this
# fraction of real, unseen faces reach by chance: high ends at the 0.1th percentile (one unseen
# face in a thousand is that close), mid at the 1st, low at the 5th (one in twenty: the weakest
# resemblance worth reporting).
BAND_QUANTILES = {"high": 0.001, "mid": 0.01, "low": 0.05}


def band_edges(bands: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(lo, hi) per band, checked, so a hand-edited card fails here and not as a wrong count."""
    edges: dict[str, tuple[float, float]] = {}
    for name in BAND_NAMES:
        band = bands.get(name)
        if not isinstance(band, dict) or "lo" not in band or "hi" not in band:
            raise BenchError(
                f"band {name!r} is missing or lacks lo/hi; rerun `python -m bench data calibrate`"
            )
        lo, hi = float(band["lo"]), float(band["hi"])
        if not 0 <= lo < hi:
            raise BenchError(f"band {name!r} has edges lo={lo}, hi={hi}; need 0 <= lo < hi")
        edges[name] = (lo, hi)
    return edges


def in_band(distances: np.ndarray, edge: tuple[float, float]) -> np.ndarray:
    """lo ≤ d < hi: the edge nearer to a copy belongs to the band, so bands tile without overlap."""
    return (distances >= edge[0]) & (distances < edge[1])


def nearest_distances(queries: np.ndarray, base: np.ndarray, progress: bool = False) -> np.ndarray:
    """Normalised ℓ2 from each query image to its nearest image in ``base`` (both uint8 NHWC)."""
    index = NeighbourIndex(to_unit(base))
    out = np.empty(len(queries), dtype=np.float32)
    for s, vectors in unit_chunks(queries, progress, desc="calibrating"):
        out[s : s + len(vectors)] = index.knn(vectors, 1)[0][:, 0]
        del vectors  # before the next chunk is made, so one chunk is alive at a time, not two
    return out


def calibrate_bands(
    members: np.ndarray, nonmembers: np.ndarray, progress: bool = False
) -> dict[str, dict[str, float]]:
    """Band edges from non-member → nearest-member distances, each with its false-match rate."""
    if len(members) == 0 or len(nonmembers) < 2:
        raise BenchError("calibration needs members and at least two non-members")
    nearest = nearest_distances(nonmembers, members, progress)
    bands: dict[str, dict[str, float]] = {}
    lo = 0.0
    for name in BAND_NAMES:
        # Rounded so the card reads cleanly; the rate is measured on the rounded edges it stores.
        hi = round(max(float(np.quantile(nearest, BAND_QUANTILES[name])), lo + 1e-6), 6)
        rate = float(np.mean(in_band(nearest, (lo, hi))))
        bands[name] = {"lo": lo, "hi": hi, "false_match_rate": rate}
        lo = hi
    return bands
