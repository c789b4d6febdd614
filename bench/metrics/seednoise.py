"""When a difference of means over seeds counts as real: one criterion for every comparison.

The leaderboard's ordering verdicts and the sweeps' picks both ask whether one mean beats another
by more than seed-to-seed variation. Two standard errors of the gap is that line, everywhere, so a
sweep never adopts a value on a margin the leaderboard would call a tie.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

NOISE_SE = 2.0


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean over seeds; 0 for a single seed (no spread is measurable)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def gap_se(se_a: float, se_b: float) -> float:
    """Standard error of a difference of two independent means."""
    return math.sqrt(se_a**2 + se_b**2)


def beyond_noise(gap: float, se: float) -> bool:
    """True when ``gap`` exceeds NOISE_SE standard errors; with one seed (se = 0) any gap does."""
    return se == 0 or abs(gap) > NOISE_SE * se
