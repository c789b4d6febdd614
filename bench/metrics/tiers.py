"""Scores against each tier of duplicated members (canary and ladder models).

Carlini et al. found extraction concentrates in duplicated images; scoring each duplicate count
apart shows the lowest tier an attack reaches, which the all-member numbers blur at 1k and 5k.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.data.subset import Subset
from bench.metrics.bands import band_edges
from bench.metrics.tally import BandTally
from bench.metrics.vectors import unit_chunks
from bench.utils.imageio import to_unit


def canary_metrics(
    outputs: np.ndarray,
    member_set: Subset,
    bands: dict[str, Any],
    deltas: list[float],
) -> dict[str, Any] | None:
    """AMS/UMS, hit rates and extraction against each tier of duplicated members (None without
    any), and the lowest tier reached in the high band.

    Only the member side is tallied: the chance level of every tier is the non-member score the
    record already holds. Each chunk of outputs is turned into vectors once and folded into every
    tier's tally before the next is made, so memory stays one chunk whatever N_G is.
    """
    tiers = sorted({int(c) for c in member_set.counts if c > 1}, reverse=True)
    if not tiers:
        return None
    edges, deltas_t = band_edges(bands), tuple(float(d) for d in deltas)
    tallies = {
        times: BandTally(to_unit(member_set.images[member_set.counts == times]), edges, deltas_t)
        for times in tiers
    }
    for _, vectors in unit_chunks(outputs):
        for tally in tallies.values():
            tally.add(vectors)
        del vectors  # before the next chunk is made, so one chunk is alive at a time, not two
    scored = [
        {
            "times": times,
            "n": int((member_set.counts == times).sum()),
            **tally.result(len(outputs)),
        }
        for times, tally in tallies.items()
    ]
    return {"tiers": scored, "lowest_tier_reached": _lowest_tier(scored)}


def _lowest_tier(tiers: list[dict[str, Any]]) -> int | None:
    """The smallest duplicate count with a member in the high band: an attack's reach."""
    reached = [t["times"] for t in tiers if t["ums"]["high"] > 0]
    return min(reached) if reached else None
