"""Carlini's measures for a filtering attack's ranked candidates.

Precision is the fraction of candidates within δ of some member; extraction is the number of
distinct members so reached. Both per δ, so a reader sees how the filter trades recall for
precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.metrics.neighbours import NeighbourIndex
from bench.utils.imageio import to_unit


def score_candidates(
    candidates: np.ndarray | None, members: np.ndarray, deltas: list[float]
) -> dict[str, Any]:
    if candidates is None or len(candidates) == 0:
        return {
            "n": 0,
            "precision": {str(d): 0.0 for d in deltas},
            "extracted": {str(d): 0 for d in deltas},
        }
    dist, idx = NeighbourIndex(to_unit(members)).knn(to_unit(candidates), 1)
    d, i = dist[:, 0], idx[:, 0]
    return {
        "n": len(candidates),
        "precision": {str(x): float((d <= x).mean()) for x in deltas},
        "extracted": {str(x): int(len(np.unique(i[d <= x]))) for x in deltas},
        "nearest_l2": [round(float(v), 5) for v in d],
    }
