"""Scores against each tier of duplicated members (canary and ladder models).

Carlini et al. found extraction concentrates in duplicated images; scoring each duplicate count
apart shows the lowest tier an attack reaches, which the all-member numbers blur at 1k and 5k.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.data.subset import Subset
from bench.metrics.scores import score


def canary_metrics(
    outputs: np.ndarray,
    member_set: Subset,
    nonmember_images: np.ndarray,
    bands: dict[str, Any],
    deltas: list[float],
) -> dict[str, Any] | None:
    """AMS/UMS, hit rates and extraction against each tier of duplicated members (None without
    any), and the lowest tier reached in the high band."""
    tiers = sorted({int(c) for c in member_set.counts if c > 1}, reverse=True)
    if not tiers:
        return None
    scored = []
    for times in tiers:
        m = score(
            outputs, member_set.images[member_set.counts == times], nonmember_images, bands, deltas
        )
        scored.append(
            {
                "times": times,
                "n": int((member_set.counts == times).sum()),
                "ums": m["ums"],
                "ams": m["ams"],
                "hit_rate": m["hit_rate"],
                "extracted": m["extracted"],
            }
        )
    return {"tiers": scored, "lowest_tier_reached": _lowest_tier(scored)}


def _lowest_tier(tiers: list[dict[str, Any]]) -> int | None:
    """The smallest duplicate count with a member in the high band: an attack's reach."""
    reached = [t["times"] for t in tiers if t["ums"]["high"] > 0]
    return min(reached) if reached else None
