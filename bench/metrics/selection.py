"""Which swept value becomes a card's default: the suite's one selection rule.

Extraction sweeps (``bench/runner/sweep.py``, on UMS per band) and membership sweeps
(``bench/membership/tuning.py``, on held-out AUC) pick with this one function, so every attack and
method is tuned alike: the card's current value has to be beaten beyond seed noise by the
leaderboard's own test (a paired one-sided Student t at ``ALPHA``, ``bench/metrics/contrasts.py``),
Bonferroni-corrected over the challengers. On a tuning model where every setting scores the same, a
rule that followed the best mean would change a default on a margin another set of seeds reverses
(K = 200 did, at one seed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.metrics.contrasts import ALPHA, Contrast, Seeds, contrast


@dataclass(frozen=True)
class ValueScores:
    """One swept value's scores at each tuning seed, per metric, in the order the rule reads
    them (UMS: the strictest band first); ``label`` and ``percent`` say how a reason prints them."""

    value: Any
    scores: Mapping[str, Seeds]  # metric -> {seed: score}
    label: str = "UMS"
    percent: bool = True

    def mean(self, metric: str) -> float:
        return float(np.mean(list(self.scores[metric].values())))


@dataclass(frozen=True)
class Pick:
    """The sweep's choice and the test behind it: the winner's against the card's value, or,
    where the card's value stays, the challenger that came closest (the smallest one-sided p of
    any comparison made), so a table shows how near the card came to changing. No test where
    there was no card's value to compare with."""

    value: Any
    kept: bool = False  # the card's value, not beaten
    rival: Any = None  # the value the test compares with the card's
    metric: str | None = None
    test: Contrast | None = None
    level: float = ALPHA
    label: str = "UMS"
    percent: bool = True

    def reason(self, incumbent: Any) -> str:
        """Why, in one parenthesis: the deciding (or the closest) difference and its test."""
        if self.test is None:
            return " (the card's value; nothing else was swept)" if self.kept else ""
        t = self.test
        size = (
            f"{100 * t.mean:+.2f} pp ± {100 * t.se:.2f}"
            if self.percent
            else f"{t.mean:+.4f} ± {t.se:.4f}"
        )
        numbers = (
            f"{self.rival} against the card's {incumbent} in {self.label} {self.metric}: "
            f"{size}, {'paired' if t.paired else 'Welch'} t, "
            f"df {t.df:.0f}, one-sided p {t.p_above():.3f} against a level of {self.level:.3g}"
        )
        if self.kept:
            return f" (the card's value, not beaten; closest: {numbers})"
        return f" ({numbers})"


def select_value(
    scores: list[ValueScores], reference: list[Any] | None = None, incumbent: Any = None
) -> Pick:
    """The winner: the card's value (``incumbent``) unless another beats it beyond seed noise.

    Metric by metric in the order the scores list them: a value clearly below the card's drops
    out, a value clearly above it wins (the highest mean among those that are), otherwise the
    next metric decides, and the card's value stays where none does. Numbers tie to the smaller
    value; other values (a feature space) to the one listed first. Without the card's value among
    those swept, the highest mean wins. ``reference`` values switch the mechanism off: a default
    that removes the mechanism would no longer be the attack, so they are shown but never picked.
    """
    scores = [s for s in scores if s.value not in (reference or [])] or scores
    metrics = list(scores[0].scores)
    style = {"label": scores[0].label, "percent": scores[0].percent}
    numeric = all(isinstance(s.value, int | float) for s in scores)
    order = sorted(scores, key=lambda s: s.value) if numeric else scores
    rank = {id(s): i for i, s in enumerate(order)}
    held = next((s for s in scores if s.value == incumbent), None)
    if held is None:
        best = max(scores, key=lambda s: (*(s.mean(m) for m in metrics), -rank[id(s)]))
        return Pick(best.value, **style)
    alive = [s for s in scores if s is not held]
    level = ALPHA / max(len(alive), 1)
    closest = Pick(incumbent, kept=True, **style)
    for metric in metrics:
        judged = [(s, contrast(s.scores[metric], held.scores[metric])) for s in alive]
        alive = [s for s, c in judged if c.p_below() >= level]
        above = [(s, c) for s, c in judged if c.p_above() < level]
        if above:
            s, c = max(above, key=lambda sc: (sc[0].mean(metric), -rank[id(sc[0])]))
            return Pick(s.value, False, s.value, metric, c, level, **style)
        for s, c in judged:
            if closest.test is None or c.p_above() < closest.test.p_above():
                closest = Pick(incumbent, True, s.value, metric, c, level, **style)
    return closest


@dataclass(frozen=True)
class CostPick:
    """The pick of a parameter that only sets cost: the cheapest value no metric finds clearly
    below the card's, with each cheaper value's deciding test (its worst metric) and that test's
    power to see a drop of one seed standard deviation of the card's value."""

    value: Any
    costs: Mapping[Any, float]
    tests: Mapping[Any, tuple[str, Contrast, float]]  # value -> (metric, test, power)
    level: float
    label: str = "UMS"
    percent: bool = True

    def reason(self, incumbent: Any) -> str:
        parts = []
        for value, (metric, t, power) in self.tests.items():
            size = (
                f"{100 * t.mean:+.2f} pp ± {100 * t.se:.2f}"
                if self.percent
                else f"{t.mean:+.4f} ± {t.se:.4f}"
            )
            parts.append(
                f"{value} ({self.costs[value]:,.0f} model evaluations against "
                f"{self.costs[incumbent]:,.0f}) in {self.label} {metric}: {size}, paired t, df "
                f"{t.df:.0f}, one-sided p {t.p_below():.3f} of a drop against a level of "
                f"{self.level:.3g}, power {power:.2f} to see a drop of one seed SD"
            )
        verdict = (
            "the card's value: every cheaper value is clearly below it"
            if (self.value == incumbent and self.tests)
            else "the cheapest value not clearly below the card's"
        )
        return f" ({verdict}; " + "; ".join(parts) + ")" if parts else f" ({verdict})"


def cheapest_not_worse(
    scores: list[ValueScores], costs: Mapping[Any, float], incumbent: Any
) -> CostPick:
    """The cost rule (docs/tuning/side.md, ``syn_steps``): each value cheaper than the card's is
    tested, metric by metric, for a drop below it (paired one-sided t at ``ALPHA``); the cheapest
    with no clear drop in any metric wins, else the card's value stays. The test a table shows for
    a value is its metric with the smallest p of a drop.

    No correction for the number of cheaper values: the error this rule guards against is
    adopting a value that extracts less, and each extra candidate is one more chance of that, so
    dividing α among the candidates (as the extraction rule does for a win) would make a drop
    harder to see and the rule laxer the more values a sweep lists. Each candidate must clear the
    full α on its own, in every metric."""
    held = next(s for s in scores if s.value == incumbent)
    cheaper = sorted(
        (s for s in scores if costs[s.value] < costs[incumbent]), key=lambda s: costs[s.value]
    )
    level = ALPHA
    tests: dict[Any, tuple[str, Contrast, float]] = {}
    winner = incumbent
    for s in cheaper:
        judged = []
        for metric in held.scores:
            c = contrast(s.scores[metric], held.scores[metric])
            sd = float(np.std(list(held.scores[metric].values()), ddof=1))
            judged.append((metric, c, c.power(sd)))
        tests[s.value] = min(judged, key=lambda j: j[1].p_below())
        if winner == incumbent and all(c.p_below() >= level for _, c, _ in judged):
            winner = s.value
    return CostPick(winner, costs, tests, level, held.label, held.percent)
