"""The claim tests: every verdict the report prints is decided here, by one rule at one α.

A margin claim "A ≥ m × B" is judged on its own contrast, A − m·B per seed, never on A − B: the
contrast's standard error carries m²·var(B), up to m times the unpaired SE of A − B that the
report once used. The contrasts, their one-sided Student t tests and their power live in
``bench/metrics/contrasts.py`` (which says why t and not a normal or an exact method), shared with
the sweeps' picks. Side, side-ti and carlini at one seed start from the same x_T and draw the same
step noise (``bench/zoo/sampling.py``; all call ``generate_outputs`` with the run seed), so their
counts at one seed are paired. (Side's synthetic set at seed s is carlini's outputs at seed s + 1,
so neighbouring pairs are not fully independent; the paired test does not model that, and says so
here rather than nowhere.)

Every test is one-sided at ``ALPHA``, the same level for "holds", "fails" and "winner". Power is
computed at the effect the claim is about (for a margin claim: A = B against A = m·B, a contrast
of (m − 1)·B); a cell reads "undecided (no power)" only when that is below ``POWER_GOAL``, and then
says how many seeds would reach it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np

from bench.metrics.contrasts import (
    ALPHA,
    MAX_SEEDS,
    POWER_GOAL,
    Contrast,
    Seeds,
    contrast,
)


class Verdict(Enum):
    """A claim's outcome; the text is what the report prints for it."""

    HOLDS = "holds"
    FAILS = "fails"
    NOISE = "undecided (within seed noise)"
    NO_POWER = "undecided (no power)"
    UNMATCHED = "undecided (compute not matched)"
    NO_DATA = "not judged"

    @property
    def decided(self) -> bool:
        return self in (Verdict.HOLDS, Verdict.FAILS)

    @property
    def powered(self) -> bool:
        """Whether the seeds could have decided it (a decision, or a non-rejection with power)."""
        return self in (Verdict.HOLDS, Verdict.FAILS, Verdict.NOISE)


@dataclass(frozen=True)
class Test:
    """One verdict with its numbers and the reason in words."""

    verdict: Verdict
    reason: str
    p: float  # the p of the direction that decided it (holds: p_holds; else p_fails)
    p_holds: float
    p_fails: float
    power: float
    seeds_needed: int | None
    estimate: float  # the contrast's mean
    se: float
    df: float
    paired: bool

    def describe(self) -> str:
        """The test in one parenthesis: contrast ± SE, df, both p and the power."""
        kind = "paired" if self.paired else "Welch"
        if not math.isfinite(self.p_holds):
            return self.reason
        return (
            f"{self.estimate:+.1f} ± {self.se:.1f}, {kind} t, df {self.df:.1f}; "
            f"p(holds) {self.p_holds:.3f}, p(fails) {self.p_fails:.3f}; power {self.power:.2f}"
        )


def _undecided(c: Contrast, effect: float, p_holds: float, p_fails: float) -> Test:
    """Neither direction rejected: inside seed noise when the test had power, else no power."""
    power = c.power(effect)
    if power >= POWER_GOAL:
        return _test(Verdict.NOISE, "", c, power, p_holds, p_fails)
    need = c.seeds_for(effect)
    reason = (
        f"{need} seeds would reach power {POWER_GOAL:g}"
        if need
        else f"more than {MAX_SEEDS} seeds would be needed"
    )
    return _test(Verdict.NO_POWER, reason, c, power, p_holds, p_fails, need)


def _test(
    verdict: Verdict,
    reason: str,
    c: Contrast,
    power: float,
    p_holds: float,
    p_fails: float,
    need: int | None = None,
) -> Test:
    p = p_holds if verdict is Verdict.HOLDS else p_fails
    return Test(verdict, reason, p, p_holds, p_fails, power, need, c.mean, c.se, c.df, c.paired)


def blank(verdict: Verdict, reason: str) -> Test:
    """A verdict no test was run for (no seeds, one seed, a claim the model cannot show)."""
    nan = float("nan")
    return Test(verdict, reason, nan, nan, nan, 0.0, None, nan, nan, nan, False)


@dataclass(frozen=True)
class MarginTest:
    """ "attack ≥ factor × the better baseline", judged against every baseline."""

    test: Test
    bar: str  # the baseline with the higher mean (chance-corrected)
    attack_mean: float
    bar_mean: float


def judge_margin(
    attack: Seeds,
    baselines: Mapping[str, Seeds],
    factor: float,
    ceiling: float,
    paired: bool = True,
    alternative: float = 1.0,
) -> MarginTest:
    """Does ``attack`` reach ``factor`` × the better baseline?

    "Holds" needs the contrast above zero against every baseline (an intersection–union test:
    its level is ALPHA with no correction). "Fails" needs it below zero against some baseline,
    Bonferroni-corrected over the baselines, so the family's level is at most ALPHA too. The
    power is that of the test against the bar at the claim's effect, (factor − 1) × the bar.

    Args:
        attack: the claiming attack's count per seed (chance-corrected where chance is known).
        baselines: each baseline's counts per seed; the higher mean is the bar.
        factor: the claimed ratio (1.5 for "over 50% more").
        ceiling: the most ``attack`` can reach (the members, less its chance).
        paired: whether the attacks share their starting noise at one seed.
        alternative: the ratio attack / bar at which the power is computed: 1 (no advantage)
            for a margin claim; the claimed factor when ``factor`` is 1 (equal compute).
    """
    bar, base = max(baselines.items(), key=lambda kv: (float(np.mean(list(kv[1].values()))), kv[0]))
    a_mean, b_mean = float(np.mean(list(attack.values()))), float(np.mean(list(base.values())))

    def result(test: Test) -> MarginTest:
        return MarginTest(test, bar, a_mean, b_mean)

    if len(attack) < 2 or len(base) < 2:
        return result(blank(Verdict.NO_POWER, "one seed: no spread to judge by"))
    if factor * b_mean > ceiling:
        return result(
            blank(
                Verdict.NO_POWER,
                f"{factor:g}× the bar ({factor * b_mean:.1f}) exceeds the {ceiling:g} members "
                "the model has",
            )
        )
    tests = {name: contrast(attack, seeds, factor, paired) for name, seeds in baselines.items()}
    p_holds = max(c.p_above() for c in tests.values())
    p_fails = min(1.0, len(tests) * min(c.p_below() for c in tests.values()))
    c = tests[bar]
    if b_mean <= 0:
        # The claim compares with nothing: what it can say is whether the attack finds members.
        alone = contrast(attack, {s: 0.0 for s in attack}, 1.0, paired)
        p_found = alone.p_above()
        if p_found < ALPHA:
            return result(_test(Verdict.HOLDS, "the baselines find none", alone, 1.0, p_found, 1.0))
        return result(
            blank(Verdict.NO_POWER, "no attack finds members above chance: nothing to compare")
        )
    effect = abs(factor - alternative) * b_mean
    if p_holds < ALPHA:
        return result(_test(Verdict.HOLDS, "", c, c.power(effect), p_holds, p_fails))
    if p_fails < ALPHA:
        return result(_test(Verdict.FAILS, "", c, c.power(effect), p_holds, p_fails))
    return result(_undecided(c, effect, p_holds, p_fails))


@dataclass(frozen=True)
class Ranking:
    """Attacks by mean, with ties kept as ties, and the winner only where a test names one."""

    order: tuple[tuple[str, float], ...]  # (attack, mean), best first
    winner: str | None
    test: Test

    def text(self, fmt: Mapping[str, str]) -> str:
        """'a 3.0 > b 2.0 = c 2.0' with each attack's own formatted value from ``fmt``."""
        out = fmt[self.order[0][0]]
        for (_, prev), (name, mean) in zip(self.order, self.order[1:]):
            out += f" {'=' if math.isclose(prev, mean) else '>'} {fmt[name]}"
        return out


def rank(per_attack: Mapping[str, Seeds], paired: bool = True) -> Ranking:
    """Ranked by mean (ties broken by name only for display order, printed as ties); the top
    attack wins when it beats every other one-sided at ALPHA (intersection–union, so no
    correction), with the power to detect a gap of half the runner-up's mean."""
    means = {a: float(np.mean(list(v.values()))) for a, v in per_attack.items()}
    order = tuple(sorted(means.items(), key=lambda kv: (-kv[1], kv[0])))
    if len(order) < 2:
        return Ranking(order, None, blank(Verdict.NO_DATA, "one attack"))
    top, runner = order[0][0], order[1][0]
    if math.isclose(order[0][1], order[1][1]):
        return Ranking(order, None, blank(Verdict.NO_DATA, f"{top} and {runner} tie"))
    if min(len(v) for v in per_attack.values()) < 2:
        return Ranking(order, None, blank(Verdict.NO_POWER, "one seed"))
    tests = {a: contrast(per_attack[top], per_attack[a], 1.0, paired) for a in per_attack}
    del tests[top]
    p = max(c.p_above() for c in tests.values())
    c = tests[runner]
    effect = 0.5 * abs(order[1][1]) or 1.0
    if p < ALPHA:
        return Ranking(order, top, _test(Verdict.HOLDS, "", c, c.power(effect), p, 1.0))
    return Ranking(order, None, _undecided(c, effect, p, 1.0))


def judge_new(new: Seeds, turnover: Seeds) -> Test:
    """Does an attack find more members its reference misses than the reference's own next seed
    does? Per seed, new members (found, missed by the reference at that seed) against the
    turnover at that seed (what another reference seed finds that this one misses, averaged over
    the other seeds), paired, one-sided at ALPHA. The power is to detect new members at twice
    the turnover (as many again as a rerun), the smallest effect worth calling "finds more"."""
    seeds = sorted(set(new) & set(turnover))
    if len(seeds) < 2:
        return blank(Verdict.NO_POWER, "fewer than two seeds with both counts")
    c = contrast({s: new[s] for s in seeds}, {s: turnover[s] for s in seeds})
    effect = max(float(np.mean([turnover[s] for s in seeds])), 1.0)
    p_holds, p_fails = c.p_above(), c.p_below()
    if p_holds < ALPHA:
        return _test(Verdict.HOLDS, "", c, c.power(effect), p_holds, p_fails)
    if p_fails < ALPHA:
        return _test(Verdict.FAILS, "", c, c.power(effect), p_holds, p_fails)
    return _undecided(c, effect, p_holds, p_fails)
