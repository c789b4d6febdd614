"""Paired contrasts and their one-sided Student t tests: the one statistical rule of the suite.

Both the leaderboard's claim tests (``bench/report/verdicts.py``) and the sweeps' picks
(``bench/runner/sweep.py``) ask whether one mean over seeds beats another, so both use this
module, at one level ``ALPHA``: a sweep never adopts a value on a margin the leaderboard would call
undecided.

A contrast is A − m·B over seeds. Where the two share their starting noise (every attack's output
batch i at seed s starts from ``batch_generator(s, i)``, so two attacks, or two settings of one
attack, at one seed start from the same x_T and draw the same step noise) it is taken per seed and
tested as one sample (paired, n − 1 degrees of freedom); otherwise the two means are compared with
Welch's SE and degrees of freedom. The contrast's SE carries m²·var(B), never the unpaired SE of
A − B.

Why Student t and not an exact or a normal method: the counts per seed are sums over hundreds of
members, close enough to normal that the t test's level holds, while three seeds give only two
degrees of freedom, where the normal's 1.645 would claim a one-sided level of about 0.12 instead
of 0.05. A permutation (sign-flip) test is exact but cannot go below 1/2³ = 0.125 with three
seeds, so it could never reject at 0.05: it would call every comparison undecided by construction.

Power is the probability that the one-sided test rejects, at ``ALPHA`` and the observed standard
error, when the truth is a given effect (a noncentral t); ``Contrast.seeds_for`` gives the fewest
seeds that would reach ``POWER_GOAL``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05  # one-sided level of every test the report prints
POWER_GOAL = 0.8  # below this a non-rejection reads "no power", not "inside noise"
MAX_SEEDS = 100  # the largest number of seeds the power search considers

Seeds = Mapping[int, float]  # one value per seed, keyed by the seed (pairing reads the keys)


@dataclass(frozen=True)
class Contrast:
    """A − m·B over seeds: its mean, standard error and the t test's degrees of freedom."""

    mean: float
    se: float
    df: float
    paired: bool
    seeds: int  # pairs for a paired contrast, the smaller sample otherwise
    variances: tuple[float, ...]  # per-seed variance of each term, for the power search
    sizes: tuple[int, ...]

    def p_above(self, value: float = 0.0) -> float:
        """One-sided p of H0: contrast ≤ value (small when the contrast is clearly above)."""
        return _p(self.mean - value, self.se, self.df)

    def p_below(self, value: float = 0.0) -> float:
        """One-sided p of H0: contrast ≥ value (small when the contrast is clearly below)."""
        return _p(value - self.mean, self.se, self.df)

    def power(self, effect: float) -> float:
        """The chance that a one-sided test at ALPHA rejects when the truth is ``effect`` away
        from the null, at this SE and df (a noncentral t)."""
        return _power(effect, self.se, self.df)

    def seeds_for(self, effect: float) -> int | None:
        """The fewest seeds per attack at which the power reaches POWER_GOAL at the observed
        per-seed variances; None beyond MAX_SEEDS (or when there is no spread to scale)."""
        if self.seeds < 2:
            return None
        for n in range(self.seeds, MAX_SEEDS + 1):
            terms = [v / n for v in self.variances]
            se = math.sqrt(sum(terms))
            df = float(n - 1) if self.paired else _welch_df(terms, [n] * len(terms))
            if _power(effect, se, df) >= POWER_GOAL:
                return n
        return None


def _p(distance: float, se: float, df: float) -> float:
    if se == 0 or not math.isfinite(df):
        return 0.0 if distance > 0 else 1.0
    return float(stats.t.sf(distance / se, df))


def _power(effect: float, se: float, df: float) -> float:
    if effect <= 0:
        return 0.0
    if se == 0:
        return 1.0
    return float(stats.nct.sf(stats.t.ppf(1 - ALPHA, df), df, effect / se))


def _welch_df(terms: list[float], sizes: list[int]) -> float:
    """Welch–Satterthwaite degrees of freedom of a sum of independent mean terms."""
    den = sum(t * t / (n - 1) for t, n in zip(terms, sizes) if t > 0)
    return float(sum(terms) ** 2 / den) if den > 0 else float(min(sizes) - 1)


def contrast(a: Seeds, b: Seeds, factor: float = 1.0, paired: bool = True) -> Contrast:
    """A − factor·B. Paired on the seeds both ran (at least two), else Welch over all seeds."""
    common = sorted(set(a) & set(b))
    if paired and len(common) >= 2:
        d = np.array([a[s] - factor * b[s] for s in common], dtype=float)
        var = float(d.var(ddof=1))
        n = len(d)
        return Contrast(float(d.mean()), math.sqrt(var / n), n - 1.0, True, n, (var,), (n,))
    va, vb = (np.array(list(x.values()), dtype=float) for x in (a, b))
    var_a = float(va.var(ddof=1)) if len(va) > 1 else 0.0
    var_b = factor**2 * float(vb.var(ddof=1)) if len(vb) > 1 else 0.0
    terms = [var_a / len(va), var_b / len(vb)]
    sizes = [len(va), len(vb)]
    df = _welch_df(terms, sizes) if min(sizes) > 1 else 0.0
    mean = float(va.mean() - factor * vb.mean())
    return Contrast(
        mean, math.sqrt(sum(terms)), df, False, min(sizes), (var_a, var_b), tuple(sizes)
    )
